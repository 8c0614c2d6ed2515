"""Card payment during a call: the `<Pay>` hand-off (ARCHITECTURE "Card payment on a call").

1. `take_payment` (tools/payment.py) computes the amount from the ledger and calls
   `PayHandoffs.request`, which records a pending hand-off for the CallSid; the voice session speaks
   the tool's reply and closes the media stream (`CallerState.pending_handoff == "pay"`).
2. Twilio requests `/twilio/voice/after-stream`; that route calls `pay_twiml_after_stream`, which
   returns the `<Pay>` TwiML (Stripe connector from policy, chargeAmount from the server, tokenType
   `reusable` when the payment starts a plan) — no audio reaches us while digits are keyed.
3. Twilio posts the signed `action` (`/twilio/pay/done`, agent/routes/twilio_pay.py): `finish_pay`
   records the `Result` once, posts a successful payment (payments row, PMS write via the outbox,
   promises, receipt), schedules a plan's remaining installments on the saved card, and returns a new
   `<Connect><Stream>` that resumes the same conversation with `resume=PAY_*`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from agent.logs import get_logger
from agent.payments import payment_poster, plan_charger
from agent.runtime import Runtime
from agent.store.pay_handoffs import Handoff, PayHandoffStore
from agent.store.payments import ConfirmedPayment
from agent.voice.stream_grants import StreamGrant, StreamGrants, connect_twiml
from telephony.twiml import hangup, pay
from tools.context import CardCapture, CardCaptureRequest

log = get_logger(__name__)

PAY_SUCCESS = "pay:success"
PAY_DECLINED = "pay:declined"
PAY_FAILED = "pay:failed"
PAY_CANCELLED = "pay:cancelled"

PAY_DONE_PATH = "/twilio/pay/done"
PAY_STATUS_PATH = "/twilio/pay/status"
PAY_DESCRIPTION = "Account balance payment"  # shown to the connector; never PHI

# Twilio <Pay> `Result` → (hand-off status, the outcome the resumed conversation hears)
RESULTS: dict[str, tuple[str, str]] = {
    "success": ("success", PAY_SUCCESS),
    "payment-connector-error": ("declined", PAY_DECLINED),  # the processor refused the charge
    "too-many-failed-attempts": ("failed", PAY_FAILED),
    "validation-error": ("failed", PAY_FAILED),
    "input-timeout": ("failed", PAY_FAILED),
    "internal-error": ("failed", PAY_FAILED),
    "caller-interrupted-with-star": ("cancelled", PAY_CANCELLED),
    "caller-hung-up": ("cancelled", PAY_CANCELLED),
}
OUTCOME_OF_STATUS = {status: outcome for status, outcome in RESULTS.values()}
# progress-callback fields worth keeping; card fields (number, expiry, CVV, postal code) never are
PROGRESS_FIELDS = ("For", "ErrorType", "Attempt", "PaymentCardType", "Capture", "Required")


def outcome_for(result: str) -> tuple[str, str]:
    """(status, resume outcome) for a `Result` value; an undocumented value counts as a failure."""
    return RESULTS.get(result, ("failed", PAY_FAILED))


def pay_enabled(runtime: Runtime) -> bool:
    """Keypad payments need Twilio (the call) and Stripe (the connector's account and our plans)."""
    return runtime.settings.stripe_configured and runtime.verifier is not None


@dataclass
class PayHandoffs:
    """`tools.context.CardCapture`: records the pending hand-off the after-stream route serves."""

    store: PayHandoffStore
    currency: str

    async def request(
        self,
        *,
        call_sid: str,
        direction: str,
        conversation_id: str,
        guarantor_id: str,
        patient_id: str | None,
        amount: Decimal,
        purpose: str,
        plan: dict[str, Any] | None,
    ) -> CardCaptureRequest:
        handoff = await self.store.create_pending(
            call_sid=call_sid,
            direction=direction,
            conversation_id=conversation_id,
            guarantor_id=guarantor_id,
            patient_id=patient_id,
            amount=amount,
            currency=self.currency,
            purpose=purpose,
            plan=plan,
        )
        return CardCaptureRequest(handoff_id=handoff.id, amount=handoff.amount, reusable=handoff.reusable)


def handoff_store(runtime: Runtime) -> PayHandoffStore:
    return PayHandoffStore(runtime.sessions, runtime.clock)


def card_capture_for(runtime: Runtime) -> CardCapture | None:
    """The voice session's `ToolContext.card_capture`; None (tools offer a texted link) without Stripe."""
    if not pay_enabled(runtime):
        return None
    return PayHandoffs(handoff_store(runtime), runtime.policy.payments.currency)


async def pay_twiml_after_stream(runtime: Runtime, call_sid: str) -> str | None:
    """The `<Pay>` TwiML when a hand-off for this call is pending, else None."""
    if not pay_enabled(runtime):
        return None
    handoff = await handoff_store(runtime).pending(call_sid)
    if handoff is None:
        return None
    base = runtime.settings.public_base_url.rstrip("/")
    return pay(
        charge_amount=f"{handoff.amount:.2f}",
        currency=handoff.currency,
        payment_connector=runtime.policy.payments.pay_connector,
        action=base + PAY_DONE_PATH,
        status_callback=base + PAY_STATUS_PATH,
        token_type="reusable" if handoff.reusable else "one-time",
        description=PAY_DESCRIPTION,
    )


async def finish_pay(runtime: Runtime, form: dict[str, str]) -> tuple[str, str]:
    """Apply a verified `<Pay>` action callback; returns (outcome label for metrics, TwiML).

    Idempotent: a replayed callback for a finished hand-off records nothing and resumes with the
    first outcome.
    """
    call_sid = form.get("CallSid", "")
    store = handoff_store(runtime)
    handoff = await store.latest(call_sid) if call_sid else None
    if handoff is None:
        return "unknown_call", hangup()
    result = form.get("Result", "")
    if handoff.status == "pending":
        status, outcome = outcome_for(result)
        ref = form.get("PaymentConfirmationCode") or None
        if status == "success" and ref is None:
            ref = f"twilio-pay:{handoff.id}"  # the connector confirmed without a code: still one payment
        detail = {
            "error_code": form.get("PayErrorCode") or None,
            "connector_error": (form.get("ConnectorError") or "")[:80] or None,
            "card_type": form.get("PaymentCardType") or None,
            "processor_ref": ref if status == "success" else None,
        }
        if status == "success":
            # before finishing: posting is idempotent (one row per reference), so a crash here is
            # repaired by Twilio's retry, which still finds the hand-off pending
            assert ref is not None
            await _paid(runtime, handoff, ref, form)
        if await store.finish(
            handoff.id,
            status=status,
            result=result or "missing",
            processor_ref=ref if status == "success" else None,
            detail=detail,
        ):
            await _resume_state(runtime, handoff, status)
        handoff = await store.get(handoff.id) or handoff
    outcome = OUTCOME_OF_STATUS.get(handoff.status, PAY_FAILED)
    if handoff.result == "caller-hung-up":
        return handoff.status, hangup()
    twiml = await connect_twiml(
        StreamGrants(runtime.state),
        runtime.settings.public_base_url,
        StreamGrant(
            call_sid=handoff.call_sid,
            direction="outbound" if handoff.direction == "outbound" else "inbound",
            conversation_id=handoff.conversation_id,
            patient_id=handoff.patient_id,
            resume=outcome,
        ),
    )
    return handoff.status, twiml


async def _paid(runtime: Runtime, handoff: Handoff, ref: str, form: dict[str, str]) -> None:
    now: datetime = runtime.clock()
    await payment_poster(runtime).post(
        ConfirmedPayment(
            processor_ref=ref,
            amount=handoff.amount,
            currency=handoff.currency,
            guarantor_id=handoff.guarantor_id,
            conversation_id=handoff.conversation_id,
            link_id=None,
            paid_at=now,
        ),
        event_id=f"pay:{handoff.id}",
        how="by phone keypad (Twilio Pay)",
    )
    profile = form.get("ProfileId") or None
    if handoff.reusable and handoff.plan is not None and profile:
        token = form.get("PaymentToken") or ""
        await plan_charger(runtime).activate(
            source_ref=ref,
            guarantor_id=handoff.guarantor_id,
            patient_id=handoff.patient_id,
            conversation_id=handoff.conversation_id,
            terms=handoff.plan,
            customer_ref=profile,
            payment_method_ref=token if token.startswith(("pm_", "card_")) else None,
        )


async def _resume_state(runtime: Runtime, handoff: Handoff, status: str) -> None:
    """The conversation resumes without the pending hand-off (and, when paid, with that outcome)."""
    conv = await runtime.records.load_conversation(handoff.conversation_id)
    if conv is None:
        return
    conv.state.pending_handoff = None
    if status == "success":
        from tools.base import set_outcome

        set_outcome(conv.state, "paid")
        conv.state.notes.append("Card payment taken by phone keypad.")
    await runtime.records.save_conversation(conv)


def progress_fields(form: dict[str, str]) -> dict[str, str]:
    """What a `<Pay>` status callback may leave behind: the step, error type, attempt; no card data."""
    return {k: form[k][:40] for k in PROGRESS_FIELDS if form.get(k)}

"""What a verified Stripe webhook event does (rule 51: only a signed event makes a payment count).

Idempotent on `event.id`: the shared-state claim is the fast path, the `stripe_events` row is the
truth (`received` until every effect is durable, then `done`). Effects are idempotent on their own
too, so duplicates, retries after a crash and out-of-order deliveries change nothing twice:

- `checkout.session.completed` with `payment_status == "paid"`, `checkout.session.async_payment_succeeded`
  and `payment_intent.succeeded` → one `payments` row per PaymentIntent, the link marked paid, and a
  PMS `PaymentWrite` through the outbox keyed `practice|payment|<pi id>` (one row however many events
  confirm the same PaymentIntent), promises settled and a receipt (agent/payment_posting.py); a plan's
  first payment (metadata purpose `plan_first_payment`) also schedules the plan's remaining
  installments on the card it saved (agent/plan_charges.py);
- `checkout.session.expired` → the link marked expired (unless already paid);
- `payment_intent.payment_failed`, `checkout.session.async_payment_failed`, an unpaid completion →
  audited;
- `charge.refunded` → the payment's refunded total (never lowered by a late, older event), an audit
  event and a staff task to reverse it in the PMS; nothing is posted to the PMS automatically.

Events for another practice (metadata `practice_id`) or without our metadata are audited and ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from agent.logs import get_logger
from agent.payment_posting import PaymentPoster
from agent.plan_charges import PlanCharger
from agent.state.base import SharedState
from agent.store.payments import ConfirmedPayment, PaymentStore
from agent.store.records import SqlRecords
from policies.config import PracticePolicy
from tools.payments.stripe_gateway import SAVE_CARD_PURPOSE

log = get_logger(__name__)

CLAIM_TTL = 7 * 24 * 3600
PAID_SESSION = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class EventInProgress(RuntimeError):
    """Another worker holds this event right now; Stripe should retry later."""


class MalformedEvent(ValueError):
    pass


def _cents(value: Any) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


@dataclass
class StripeEventHandler:
    store: PaymentStore
    records: SqlRecords
    state: SharedState
    policy: PracticePolicy
    clock: Callable[[], datetime]
    poster: PaymentPoster
    plans: PlanCharger | None = None

    async def handle(self, event: dict[str, Any]) -> str:
        """Apply one verified event; returns a short outcome ("duplicate", "payment_recorded", …)."""
        event_id, type_ = event.get("id"), event.get("type") or ""
        data = event.get("data") or {}
        obj = data.get("object") if isinstance(data, dict) else None
        obj = obj if isinstance(obj, dict) else {}
        if not isinstance(event_id, str) or not event_id or not isinstance(type_, str):
            raise MalformedEvent("not a Stripe event")
        claim = f"stripe-evt:{event_id}"
        if not await self.state.claim(claim, CLAIM_TTL):
            row = await self.store.get_event(event_id)
            if row is not None and row.status == "done":
                return "duplicate"
            raise EventInProgress(event_id)
        try:
            created = datetime.fromtimestamp(int(event.get("created") or self.clock().timestamp()), UTC)
            if not await self.store.begin_event(
                event_id, type_=type_, object_id=_id_of(obj), created=created
            ):
                return "duplicate"
            return await self._apply(event_id, type_, obj, created)
        except BaseException:
            await self.state.release(claim)  # let Stripe's retry through; the row keeps effects single
            raise

    async def _apply(self, event_id: str, type_: str, obj: dict[str, Any], created: datetime) -> str:
        meta = obj.get("metadata") or {}
        guarantor = meta.get("guarantor_id")
        ours = meta.get("practice_id") == self.policy.practice.practice_id
        if type_ in PAID_SESSION or type_ == "payment_intent.succeeded":
            if not ours or not guarantor:
                return await self._ignore(event_id, type_, obj, guarantor)
            if type_ == "checkout.session.completed" and obj.get("payment_status") != "paid":
                await self.store.record_event_only(
                    "payment.pending",
                    guarantor_id=guarantor,
                    event_id=event_id,
                    outcome="pending",
                    detail={"link_id": obj.get("id"), "payment_status": obj.get("payment_status")},
                )
                return "pending"
            if type_ == "payment_intent.succeeded":
                pi, cents, link_id = obj.get("id"), obj.get("amount_received") or obj.get("amount"), None
            else:
                pi, cents, link_id = _id_of(obj.get("payment_intent")), obj.get("amount_total"), obj.get("id")
            if not pi or cents is None:
                raise MalformedEvent("a paid event without a PaymentIntent id or amount")
            await self._paid(
                event_id,
                ConfirmedPayment(
                    processor_ref=str(pi),
                    amount=_cents(cents),
                    currency=str(obj.get("currency") or "usd"),
                    guarantor_id=guarantor,
                    conversation_id=meta.get("conversation_id"),
                    link_id=link_id,
                    paid_at=created,
                ),
                obj,
            )
            return "payment_recorded"
        if type_ == "checkout.session.expired":
            if not ours:
                return await self._ignore(event_id, type_, obj, guarantor)
            await self.store.expire_link(str(obj.get("id")), guarantor_id=guarantor, event_id=event_id)
            return "link_expired"
        if type_ in ("payment_intent.payment_failed", "checkout.session.async_payment_failed"):
            error = obj.get("last_payment_error") or {}
            await self.store.record_event_only(
                "payment.failed",
                guarantor_id=guarantor if ours else None,
                event_id=event_id,
                outcome="payment_failed",
                detail={
                    "object_id": obj.get("id"),
                    "code": error.get("code"),
                    "decline_code": error.get("decline_code"),
                },
            )
            return "payment_failed"
        if type_ == "charge.refunded":
            pi = _id_of(obj.get("payment_intent"))
            other_practice = meta.get("practice_id") not in (None, self.policy.practice.practice_id)
            if not pi or other_practice:
                return await self._ignore(event_id, type_, obj, guarantor)
            await self.store.record_refund(
                processor_ref=pi,
                charge_id=str(obj.get("id")),
                amount=_cents(obj.get("amount") or 0),
                refunded_total=_cents(obj.get("amount_refunded") or 0),
                currency=str(obj.get("currency") or "usd"),
                guarantor_id=guarantor if ours else None,
                event_id=event_id,
            )
            return "refund_recorded"
        await self.store.finish_event(event_id, "ignored")
        return "ignored"

    async def _paid(self, event_id: str, payment: ConfirmedPayment, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        purpose = meta.get("purpose")
        how = (
            "(payment plan installment, saved card)"
            if purpose == "plan_installment"
            else "by secure link (Stripe Checkout)"
        )
        await self.poster.post(payment, event_id=event_id, how=how)
        if purpose == SAVE_CARD_PURPOSE and self.plans is not None:
            # the first payment of a plan saved the card: schedule the rest (once per PaymentIntent)
            await self.plans.activate_from_conversation(
                source_ref=payment.processor_ref,
                guarantor_id=str(payment.guarantor_id),
                conversation_id=payment.conversation_id,
                customer_ref=_id_of(obj.get("customer")),
                payment_method_ref=_id_of(obj.get("payment_method")),
                records=self.records,
            )
        await self.store.finish_event(event_id, "payment_recorded")

    async def _ignore(self, event_id: str, type_: str, obj: dict[str, Any], guarantor: Any) -> str:
        await self.store.record_event_only(
            "stripe.event_unmatched",
            guarantor_id=None,
            event_id=event_id,
            outcome="unmatched",
            detail={"type": type_, "object_id": obj.get("id")},
        )
        return "unmatched"

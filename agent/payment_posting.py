"""What follows every confirmed payment, whichever path confirmed it (Stripe webhook, `<Pay>` action,
an installment charged off-session): one `payments` row per processor reference, one PMS payment
write through the outbox (key `practice|payment|<ref>`, so a PMS call that timed out after succeeding
is reconciled, never duplicated), promises settled against it, and one SMS receipt.

The receipt names only the practice and the amount paid, goes only to a mobile number with text
consent, and passes the suppression ledger (an opted-out number gets nothing). It is sent once: only
by the call that inserted the payment row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.logs import get_logger
from agent.messaging import GuardedSms
from agent.payment_promises import settle_promises
from agent.store.payments import ConfirmedPayment, PaymentStore
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from pms.types import PaymentWrite
from policies.config import PracticePolicy

log = get_logger(__name__)


def payment_write_key(practice_id: str, processor_ref: str) -> str:
    return f"{practice_id}|payment|{processor_ref}"


def receipt_text(practice_name: str, amount_text: str) -> str:
    return f"{practice_name}: we received your payment of {amount_text}. Thank you! Reply STOP to opt out."


@dataclass
class PaymentPoster:
    store: PaymentStore
    records: SqlRecords
    pms: PmsAdapter
    policy: PracticePolicy
    sms: GuardedSms | None
    clock: Callable[[], datetime]

    async def post(self, payment: ConfirmedPayment, *, event_id: str, how: str) -> bool:
        """Record, queue the PMS write, settle promises, send the receipt. True if newly recorded.

        Safe to call again for the same payment (a retry, a second event): nothing happens twice.
        `how` is a short phrase for the PMS note ("by secure link (Stripe Checkout)").
        """
        assert payment.guarantor_id is not None
        inserted = await self.store.record_payment(payment, event_id=event_id)
        practice = self.policy.practice
        paid_on = payment.paid_at.astimezone(ZoneInfo(practice.timezone)).date()
        # Always (re)queue: the outbox keeps one row per key, so a retry after a crash between the
        # payment row and the queue still posts exactly once.
        await self.records.enqueue_pms_write(
            PaymentWrite(
                idempotency_key=payment_write_key(practice.practice_id, payment.processor_ref),
                guarantor_id=payment.guarantor_id,
                amount=payment.amount,
                paid_on=paid_on,
                method="card",
                processor_ref=payment.processor_ref,
                note=f"Card payment {how}, recorded by BalanceLine.",
            ),
            conversation_id=payment.conversation_id,
        )
        if inserted:
            await settle_promises(
                self.records, self.store, self.policy, payment.guarantor_id, today=paid_on, pms=self.pms
            )
            await self.send_receipt(payment)
        return inserted

    async def send_receipt(self, payment: ConfirmedPayment) -> bool:
        if self.sms is None or not self.policy.payments.receipts_by_sms or payment.guarantor_id is None:
            return False
        try:
            account = await self.pms.get_account(payment.guarantor_id)
            if account is None:
                return False
            payer = account.guarantor
            phones = [c for c in payer.phones if c.kind == "mobile" and c.sms_consent == "yes"]
            if not phones:
                await self.records.audit(
                    "payment.receipt_skipped",
                    patient_id=payer.patient_id,
                    conversation_id=payment.conversation_id,
                    detail={"processor_ref": payment.processor_ref, "reason": "no_consented_mobile"},
                )
                return False
            phones.sort(key=lambda c: not c.is_preferred)
            result = await self.sms.send_sms(
                patient_id=payer.patient_id,
                to=phones[0].value,
                body=receipt_text(self.policy.practice.name, f"${payment.amount:,.2f}"),
                purpose="receipt",
                initiated_by="patient_reply",  # confirms the patient's own payment; suppression still applies
                conversation_id=payment.conversation_id,
            )
            return result.sent
        except Exception as exc:  # the payment is durable already; a lost receipt must not undo it
            log.warning("payment_receipt_failed", error=type(exc).__name__)
            return False

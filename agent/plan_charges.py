"""Payment plans that charge themselves.

- `activate`: when a plan's first payment is confirmed with the card saved for off-session use
  (Checkout `setup_future_usage=off_session`, or `<Pay tokenType="reusable">`), the remaining
  installments are scheduled against that Stripe customer / payment method. The plan itself was
  already written to the PMS through the outbox when the patient accepted it.
- `tick` (the embedded runtime's background loop and `balanceline worker`):
  1. a reminder SMS `installment_reminder_days` before each installment (agent-initiated, so the
     compliance gate and suppression ledger decide; the text names only the practice, the amount and
     the date), attempted once, in the practice's daytime hours;
  2. each due installment is charged off-session with an idempotency key per (practice, patient,
     plan, installment, attempt); a success is posted like every payment (payments row, PMS write via
     the outbox, promises, receipt); a decline is retried once after `installment_retry_hours`; a
     second decline sends the patient a payment link and gives staff a task; a Stripe error (network,
     5xx) retries the *same* attempt on the next tick (Stripe replays it: never a second charge);
  3. open promises whose window has passed are marked broken / partly kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from agent.logs import get_logger
from agent.payment_posting import PaymentPoster
from agent.payment_promises import settle_promises
from agent.store.payments import ConfirmedPayment
from agent.store.plan_schedules import DueInstallment, PlanScheduleStore
from agent.store.records import SqlRecords
from policies.config import PracticePolicy
from tools.context import PaymentLinkError, PaymentLinks
from tools.payments.stripe_charges import StripeCharges, installment_key

log = get_logger(__name__)

CHARGE_HOUR = 10  # installments are charged from 10:00 practice time on their due date
# reminders are attempted once, between 10:00 and 18:00 practice time, so the calling-window check of
# the compliance gate (8-21 in the patient's zone) does not use up the one attempt at night
REMIND_HOURS = (10, 18)
PERIOD_DAYS = {"weekly": 7, "every_other_week": 14}


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        with contextlib.suppress(ValueError):
            return date(year, month, day)
    raise ValueError("unreachable")


def due_date(first_due: date, frequency: str, index: int) -> date:
    """The due date of installment `index` (0-based) of a plan."""
    if frequency in PERIOD_DAYS:
        return first_due + timedelta(days=PERIOD_DAYS[frequency] * index)
    return add_months(first_due, index * (3 if frequency == "quarterly" else 1))


def remaining_installments(terms: dict[str, Any]) -> list[tuple[int, date, Decimal]]:
    """(seq, due date, amount) of the installments left after the first payment.

    With a down payment the first payment was the down payment and every installment remains;
    without one it was installment 1 (paid early), so installments 2..n remain.
    """
    n = int(terms["installments"])
    amount = Decimal(terms["installment_amount"])
    last = Decimal(terms["last_installment_amount"]) if terms.get("last_installment_amount") else amount
    first_due = date.fromisoformat(terms["first_due"])
    start = 1 if Decimal(terms["down_payment"]) > 0 else 2
    return [
        (seq, due_date(first_due, terms["frequency"], seq - 1), last if seq == n else amount)
        for seq in range(start, n + 1)
    ]


@dataclass
class PlanCharger:
    store: PlanScheduleStore
    poster: PaymentPoster
    charges: StripeCharges | None
    links: PaymentLinks
    clock: Callable[[], datetime]

    @property
    def policy(self) -> PracticePolicy:
        return self.poster.policy

    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.practice.timezone)

    def _charge_at(self, due_on: date) -> datetime:
        return datetime.combine(due_on, time(CHARGE_HOUR), tzinfo=self._tz())

    async def activate(
        self,
        *,
        source_ref: str,
        guarantor_id: str,
        patient_id: str | None,
        conversation_id: str | None,
        terms: dict[str, Any],
        customer_ref: str,
        payment_method_ref: str | None,
    ) -> str:
        """Schedule the rest of an accepted plan on the card saved with its first payment."""
        rows = [(seq, d, amt, self._charge_at(d)) for seq, d, amt in remaining_installments(terms)]
        plan_id, _ = await self.store.create(
            source_ref=source_ref,
            guarantor_id=guarantor_id,
            patient_id=patient_id,
            conversation_id=conversation_id,
            plan_key=str(terms.get("plan_key") or ""),
            terms=terms,
            customer_ref=customer_ref,
            payment_method_ref=payment_method_ref,
            installments=rows,
        )
        return plan_id

    async def activate_from_conversation(
        self,
        *,
        source_ref: str,
        guarantor_id: str,
        conversation_id: str | None,
        customer_ref: str | None,
        payment_method_ref: str | None,
        records: SqlRecords,
    ) -> str | None:
        """`activate` with the plan accepted in the conversation the first payment came from."""
        if not conversation_id or not customer_ref:
            return None
        from tools.payment import accepted_plan

        conv = await records.load_conversation(conversation_id)
        terms = accepted_plan(conv.state) if conv is not None else None
        if terms is None:
            return None
        return await self.activate(
            source_ref=source_ref,
            guarantor_id=guarantor_id,
            patient_id=conv.state.patient_id if conv else None,
            conversation_id=conversation_id,
            terms=terms,
            customer_ref=customer_ref,
            payment_method_ref=payment_method_ref,
        )

    # ---- the loop ------------------------------------------------------------------------------

    async def tick(self) -> dict[str, int]:
        now = self.clock()
        today = now.astimezone(self._tz()).date()
        counts = {"reminded": 0, "paid": 0, "retry": 0, "failed": 0, "errors": 0, "promises": 0}
        remind_until = today + timedelta(days=self.policy.payments.installment_reminder_days)
        local_hour = now.astimezone(self._tz()).hour
        if REMIND_HOURS[0] <= local_hour < REMIND_HOURS[1]:  # one attempt each, in daytime hours only
            for due in await self.store.due_reminders(remind_until):
                if due.due_on > today and await self._remind(due):
                    counts["reminded"] += 1
        if self.charges is not None:
            for due in await self.store.due_charges(now):
                counts[await self._charge(due, now)] += 1
        counts["promises"] = await self._sweep_promises(today)
        return counts

    async def run_forever(self, stop: asyncio.Event, interval: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # keep the loop alive (database restart, …)
                log.exception("plan_charges_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def _phone(self, due: DueInstallment) -> tuple[str, str] | None:
        account = await self.poster.pms.get_account(due.guarantor_id)
        if account is None:
            return None
        phones = [c for c in account.guarantor.phones if c.kind == "mobile" and c.sms_consent == "yes"]
        phones.sort(key=lambda c: not c.is_preferred)
        return (account.guarantor.patient_id, phones[0].value) if phones else None

    async def _remind(self, due: DueInstallment) -> bool:
        sms = self.poster.sms
        who = await self._phone(due)
        if sms is None or who is None or not await self.store.claim_reminder(due.id):
            return False
        patient_id, to = who
        body = (
            f"{self.policy.practice.name}: a reminder that your plan payment of ${due.amount:,.2f} will be "
            f"charged to your saved card on {due.due_on.strftime('%b')} {due.due_on.day}. "
            "Reply STOP to opt out."
        )
        result = await sms.send_sms(
            patient_id=patient_id, to=to, body=body, purpose="plan_reminder", conversation_id=None
        )
        return result.sent

    async def _charge(self, due: DueInstallment, now: datetime) -> str:
        assert self.charges is not None
        practice = self.policy.practice
        attempt = due.attempts + 1
        outcome = await self.charges.charge_off_session(
            customer=due.customer_ref,
            payment_method=due.payment_method_ref,
            amount=due.amount,
            currency=self.policy.payments.currency,
            metadata={
                "practice_id": practice.practice_id,
                "guarantor_id": due.guarantor_id,
                "purpose": "plan_installment",
                "plan_id": due.plan_id,
                "installment": str(due.seq),
                "attempt": str(attempt),
            },
            idempotency_key=installment_key(
                practice_id=practice.practice_id,
                guarantor_id=due.guarantor_id,
                plan_id=due.plan_id,
                installment=due.seq,
                attempt=attempt,
            ),
        )
        if outcome.status == "error":
            return "errors"  # same attempt next tick: the idempotency key replays, never a second charge
        if outcome.status == "succeeded":
            assert outcome.payment_intent is not None
            await self.poster.post(
                ConfirmedPayment(
                    processor_ref=outcome.payment_intent,
                    amount=due.amount,
                    currency=self.policy.payments.currency,
                    guarantor_id=due.guarantor_id,
                    conversation_id=due.conversation_id,
                    link_id=None,
                    paid_at=now,
                ),
                event_id=f"plan:{due.plan_id}:{due.seq}:{attempt}",
                how="(payment plan installment, saved card)",
            )
            await self.store.record_outcome(due, status="paid", processor_ref=outcome.payment_intent)
            return "paid"
        if due.attempts == 0:
            retry_at = now + timedelta(hours=self.policy.payments.installment_retry_hours)
            await self.store.record_outcome(due, status="retry", error=outcome.code, retry_at=retry_at)
            return "retry"
        if await self.store.record_outcome(due, status="failed", error=outcome.code):
            await self._after_final_decline(due)
        return "failed"

    async def _after_final_decline(self, due: DueInstallment) -> None:
        records = self.poster.records
        link_sent = False
        who = await self._phone(due)
        try:
            link = await self.links.create_link(
                guarantor_id=due.guarantor_id,
                amount=due.amount,
                purpose="plan_installment",
                attempt=due.seq,
                conversation_id=f"plan-{due.plan_id}",
            )
        except PaymentLinkError:
            link = None
        if link is not None and who is not None and self.poster.sms is not None:
            patient_id, to = who
            body = (
                f"{self.policy.practice.name}: we couldn't charge your saved card for your plan payment of "
                f"${due.amount:,.2f}. You can pay securely here: {link.url} Reply STOP to opt out."
            )
            result = await self.poster.sms.send_sms(
                patient_id=patient_id, to=to, body=body, purpose="plan_reminder", conversation_id=None
            )
            link_sent = result.sent
        await records.create_staff_task(
            kind="plan_payment_failed",
            patient_id=due.patient_id or due.guarantor_id,
            conversation_id=due.conversation_id,
            summary=(
                f"Plan installment {due.seq} (${due.amount:,.2f}) was declined twice. "
                + (
                    "The patient was texted a payment link."
                    if link_sent
                    else "No payment link could be sent."
                )
            ),
            context={"plan_id": due.plan_id, "installment": due.seq, "link_sent": link_sent},
            priority="high",
        )

    async def _sweep_promises(self, today: date) -> int:
        """Settle guarantors with open promises whose grace window has passed."""
        grace = timedelta(days=self.policy.payments.promise_grace_days)
        changed = 0
        for guarantor_id in await self.poster.store.guarantors_with_lapsed_promises(today - grace):
            changed += len(
                await settle_promises(
                    self.poster.records,
                    self.poster.store,
                    self.policy,
                    guarantor_id,
                    today=today,
                    pms=self.poster.pms,
                )
            )
        return changed

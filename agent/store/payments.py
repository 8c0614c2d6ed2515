"""`PaymentStore`: payment links we made, payments processors confirmed, Stripe events we accepted.

Idempotency is in the schema: one `stripe_events` row per event id (status `received` until every
effect of the event is durable, then `done`), one `payments` row per PaymentIntent. Every effect
writes its audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from agent.store.base import StoreBase, jsonable, upsert
from agent.store.models import (
    PaymentLinkRow,
    PaymentRow,
    PromiseRow,
    StaffTaskRow,
    StripeEventRow,
    new_id,
)
from tools.context import PaymentLink


@dataclass(frozen=True)
class ConfirmedPayment:
    processor_ref: str  # the PaymentIntent id
    amount: Decimal
    currency: str
    guarantor_id: str | None
    conversation_id: str | None
    link_id: str | None
    paid_at: datetime


class PaymentStore(StoreBase):
    # ---- links ---------------------------------------------------------------------------------

    async def record_link(
        self, link: PaymentLink, *, guarantor_id: str, conversation_id: str, purpose: str, attempt: int
    ) -> None:
        """Remember a processor link (the same link twice is one row)."""
        if link.link_id is None:
            return
        now = self._now()
        async with self._tx() as s:
            stmt = (
                upsert(s, PaymentLinkRow)
                .values(
                    id=link.link_id,
                    provider=link.provider,
                    guarantor_id=guarantor_id,
                    conversation_id=conversation_id,
                    amount=link.amount,
                    purpose=purpose,
                    attempt=attempt,
                    status="open",
                    expires_at=link.expires_at,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            await s.execute(stmt)

    async def get_link(self, link_id: str) -> PaymentLinkRow | None:
        async with self._tx() as s:
            return await s.get(PaymentLinkRow, link_id)

    async def expire_link(self, link_id: str, *, guarantor_id: str | None, event_id: str) -> bool:
        """An open link becomes expired (a paid one stays paid). True if this changed it."""
        async with self._tx() as s:
            row = await s.get(PaymentLinkRow, link_id, with_for_update=True)
            changed = row is not None and row.status == "open"
            if row is not None and changed:
                row.status = "expired"
                row.updated_at = self._now()
            s.add(
                self._audit_row(
                    "payment.link_expired",
                    patient_id=(row.guarantor_id if row else guarantor_id),
                    conversation_id=row.conversation_id if row else None,
                    detail={"link_id": link_id, "event_id": event_id, "changed": changed},
                )
            )
            await self._finish(s, event_id, "link_expired")
        return changed

    # ---- events --------------------------------------------------------------------------------

    async def begin_event(
        self, event_id: str, *, type_: str, object_id: str | None, created: datetime
    ) -> bool:
        """Record the event as received; False if it was already fully processed (a duplicate)."""
        now = self._now()
        async with self._tx() as s:
            await s.execute(
                upsert(s, StripeEventRow)
                .values(
                    id=event_id,
                    type=type_,
                    object_id=object_id,
                    status="received",
                    created=created,
                    received_at=now,
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            status = await s.scalar(select(StripeEventRow.status).where(StripeEventRow.id == event_id))
        return status != "done"

    async def finish_event(self, event_id: str, outcome: str) -> None:
        async with self._tx() as s:
            await self._finish(s, event_id, outcome)

    async def _finish(self, s: Any, event_id: str, outcome: str) -> None:
        row = await s.get(StripeEventRow, event_id)
        if row is not None and row.status != "done":
            row.status = "done"
            row.outcome = outcome
            row.processed_at = self._now()

    async def get_event(self, event_id: str) -> StripeEventRow | None:
        async with self._tx() as s:
            return await s.get(StripeEventRow, event_id)

    # ---- payments ------------------------------------------------------------------------------

    async def record_payment(self, p: ConfirmedPayment, *, event_id: str) -> bool:
        """One row per PaymentIntent (audited once); the link becomes paid. True if newly recorded."""
        now = self._now()
        async with self._tx() as s:
            result: Any = await s.execute(
                upsert(s, PaymentRow)
                .values(
                    id=new_id("pay_"),
                    processor="stripe",
                    processor_ref=p.processor_ref,
                    link_id=p.link_id,
                    guarantor_id=p.guarantor_id,
                    conversation_id=p.conversation_id,
                    amount=p.amount,
                    currency=p.currency,
                    status="succeeded",
                    refunded_amount=Decimal("0"),
                    paid_at=p.paid_at,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["processor_ref"])
            )
            inserted = result.rowcount == 1
            row = await s.scalar(select(PaymentRow).where(PaymentRow.processor_ref == p.processor_ref))
            assert row is not None
            if not inserted:  # a refund may have arrived first and left a partial row: complete it
                row.link_id = row.link_id or p.link_id
                row.guarantor_id = row.guarantor_id or p.guarantor_id
                row.conversation_id = row.conversation_id or p.conversation_id
                row.paid_at = row.paid_at or p.paid_at
            link_id = row.link_id
            if link_id:
                link = await s.get(PaymentLinkRow, link_id, with_for_update=True)
                if link is not None and link.status != "paid":
                    link.status = "paid"
                    link.updated_at = now
            if inserted:
                s.add(
                    self._audit_row(
                        "payment.recorded",
                        patient_id=p.guarantor_id,
                        conversation_id=p.conversation_id,
                        detail={
                            "payment_id": row.id,
                            "processor": "stripe",
                            "processor_ref": p.processor_ref,
                            "amount": p.amount,
                            "link_id": link_id,
                            "event_id": event_id,
                        },
                    )
                )
        return inserted

    async def record_refund(
        self,
        *,
        processor_ref: str,
        charge_id: str,
        amount: Decimal,
        refunded_total: Decimal,
        currency: str,
        guarantor_id: str | None,
        event_id: str,
    ) -> str:
        """A refund from Stripe: payment status updated (never backwards), audit + a staff task to
        reverse it in the PMS, and the event finished, all in one transaction. Returns the task id."""
        now = self._now()
        async with self._tx() as s:
            row = await s.scalar(
                # a keypad (<Pay>) payment is known by its charge id, a link payment by its PaymentIntent
                select(PaymentRow)
                .where(PaymentRow.processor_ref.in_((processor_ref, charge_id)))
                .order_by(PaymentRow.created_at)
                .limit(1)
                .with_for_update()
            )
            if row is None:  # the refund arrived before the payment event: keep what we know
                row = PaymentRow(
                    id=new_id("pay_"),
                    processor="stripe",
                    processor_ref=processor_ref,
                    guarantor_id=guarantor_id,
                    amount=amount,
                    currency=currency,
                    status="succeeded",
                    refunded_amount=Decimal("0"),
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
            row.refunded_amount = max(row.refunded_amount or Decimal("0"), refunded_total)
            row.status = "refunded" if row.refunded_amount >= row.amount else "partially_refunded"
            row.updated_at = now
            patient = row.guarantor_id or guarantor_id
            task = StaffTaskRow(
                id=new_id("st_"),
                kind="refund_review",
                patient_id=patient,
                conversation_id=row.conversation_id,
                summary=(
                    f"Stripe refunded ${refunded_total:,.2f} of a ${row.amount:,.2f} card payment "
                    f"({processor_ref}). Reverse the refunded amount in the practice system."
                ),
                context=jsonable(
                    {
                        "processor_ref": processor_ref,
                        "charge_id": charge_id,
                        "payment_amount": row.amount,
                        "refunded_total": refunded_total,
                        "event_id": event_id,
                    }
                ),
                priority="normal",
                status="open",
                created_at=now,
            )
            s.add(task)
            s.add(
                self._audit_row(
                    "payment.refunded",
                    patient_id=patient,
                    conversation_id=row.conversation_id,
                    detail={
                        "processor_ref": processor_ref,
                        "charge_id": charge_id,
                        "refunded_total": refunded_total,
                        "status": row.status,
                        "task_id": task.id,
                        "event_id": event_id,
                    },
                )
            )
            await self._finish(s, event_id, "refund_recorded")
        return task.id

    async def record_event_only(
        self, kind: str, *, guarantor_id: str | None, event_id: str, outcome: str, detail: dict[str, Any]
    ) -> None:
        """An event with nothing to change but the audit trail (failed payment, pending, unmatched)."""
        async with self._tx() as s:
            s.add(
                self._audit_row(
                    kind,
                    patient_id=guarantor_id,
                    conversation_id=None,
                    detail={**detail, "event_id": event_id},
                )
            )
            await self._finish(s, event_id, outcome)

    async def list_payments(self, guarantor_id: str | None = None) -> list[PaymentRow]:
        q = select(PaymentRow).order_by(PaymentRow.created_at, PaymentRow.id)
        if guarantor_id is not None:
            q = q.where(PaymentRow.guarantor_id == guarantor_id)
        async with self._tx() as s:
            return list((await s.scalars(q)).all())

    async def guarantors_with_lapsed_promises(self, due_before: date) -> list[str]:
        """Guarantors with an open promise due before `due_before` (its grace window has passed)."""
        q = (
            select(PromiseRow.guarantor_id)
            .where(PromiseRow.status == "open", PromiseRow.due_on < due_before)
            .distinct()
            .order_by(PromiseRow.guarantor_id)
        )
        async with self._tx() as s:
            return list((await s.scalars(q)).all())

"""`PlanScheduleStore`: self-charging plans and their installments (agent/plan_charges.py).

A schedule is created once per first payment (`source_ref` unique), with every remaining installment.
Installment transitions are fenced on the state the charger read (status + attempts), so two workers
cannot both record an outcome for the same attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update

from agent.store.base import StoreBase, jsonable, upsert
from agent.store.models import new_id
from agent.store.models_payments import PlanInstallmentRow, PlanScheduleRow


@dataclass(frozen=True)
class DueInstallment:
    id: str
    plan_id: str
    seq: int
    due_on: date
    amount: Decimal
    status: str
    attempts: int
    guarantor_id: str
    patient_id: str | None
    conversation_id: str | None
    customer_ref: str
    payment_method_ref: str | None


class PlanScheduleStore(StoreBase):
    async def create(
        self,
        *,
        source_ref: str,
        guarantor_id: str,
        patient_id: str | None,
        conversation_id: str | None,
        plan_key: str,
        terms: dict[str, Any],
        customer_ref: str,
        payment_method_ref: str | None,
        installments: list[tuple[int, date, Decimal, datetime]],
    ) -> tuple[str, bool]:
        """(schedule id, created?) — the same first payment twice is one schedule."""
        now = self._now()
        async with self._tx() as s:
            plan_id = new_id("ps_")
            res: Any = await s.execute(
                upsert(s, PlanScheduleRow)
                .values(
                    id=plan_id,
                    guarantor_id=guarantor_id,
                    patient_id=patient_id,
                    conversation_id=conversation_id,
                    source_ref=source_ref,
                    plan_key=plan_key,
                    terms=jsonable(terms),
                    customer_ref=customer_ref,
                    payment_method_ref=payment_method_ref,
                    status="active" if installments else "completed",
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["source_ref"])
            )
            if int(res.rowcount or 0) != 1:
                row = await s.scalar(select(PlanScheduleRow).where(PlanScheduleRow.source_ref == source_ref))
                assert row is not None
                if payment_method_ref and not row.payment_method_ref:
                    row.payment_method_ref = payment_method_ref
                return row.id, False
            for seq, due_on, amount, charge_at in installments:
                s.add(
                    PlanInstallmentRow(
                        id=new_id("pin_"),
                        plan_id=plan_id,
                        seq=seq,
                        due_on=due_on,
                        amount=amount,
                        status="scheduled",
                        attempts=0,
                        next_attempt_at=charge_at,
                        updated_at=now,
                    )
                )
            s.add(
                self._audit_row(
                    "plan.autopay_started",
                    patient_id=patient_id,
                    conversation_id=conversation_id,
                    detail={"plan_id": plan_id, "installments": len(installments), "source_ref": source_ref},
                )
            )
        return plan_id, True

    def _joined(self) -> Any:
        return select(PlanInstallmentRow, PlanScheduleRow).join(
            PlanScheduleRow, PlanScheduleRow.id == PlanInstallmentRow.plan_id
        )

    @staticmethod
    def _due(inst: PlanInstallmentRow, plan: PlanScheduleRow) -> DueInstallment:
        return DueInstallment(
            id=inst.id,
            plan_id=plan.id,
            seq=inst.seq,
            due_on=inst.due_on,
            amount=inst.amount,
            status=inst.status,
            attempts=inst.attempts,
            guarantor_id=plan.guarantor_id,
            patient_id=plan.patient_id,
            conversation_id=plan.conversation_id,
            customer_ref=plan.customer_ref,
            payment_method_ref=plan.payment_method_ref,
        )

    async def due_charges(self, now: datetime, limit: int = 100) -> list[DueInstallment]:
        q = (
            self._joined()
            .where(
                PlanScheduleRow.status == "active",
                PlanInstallmentRow.status.in_(("scheduled", "retry")),
                PlanInstallmentRow.next_attempt_at <= now,
            )
            .order_by(PlanInstallmentRow.next_attempt_at, PlanInstallmentRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [self._due(i, p) for i, p in (await s.execute(q)).all()]

    async def due_reminders(self, remind_until: date, limit: int = 100) -> list[DueInstallment]:
        """Scheduled, not yet reminded installments due on or before `remind_until`."""
        q = (
            self._joined()
            .where(
                PlanScheduleRow.status == "active",
                PlanInstallmentRow.status == "scheduled",
                PlanInstallmentRow.reminded_at.is_(None),
                PlanInstallmentRow.due_on <= remind_until,
            )
            .order_by(PlanInstallmentRow.due_on, PlanInstallmentRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [self._due(i, p) for i, p in (await s.execute(q)).all()]

    async def claim_reminder(self, installment_id: str) -> bool:
        """Mark reminded (once); False if another worker already did."""
        async with self._tx() as s:
            res: Any = await s.execute(
                update(PlanInstallmentRow)
                .where(PlanInstallmentRow.id == installment_id, PlanInstallmentRow.reminded_at.is_(None))
                .values(reminded_at=self._now(), updated_at=self._now())
            )
            return int(res.rowcount or 0) == 1

    async def record_outcome(
        self,
        due: DueInstallment,
        *,
        status: str,
        processor_ref: str | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """paid | retry (attempts + 1, next try at `retry_at`) | failed (attempts + 1). Fenced on the
        status and attempts read; completes the plan when its last installment is paid."""
        now = self._now()
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "paid":
            values["processor_ref"] = processor_ref
        else:
            values.update(attempts=due.attempts + 1, last_error=(error or "declined")[:80])
            if retry_at is not None:
                values["next_attempt_at"] = retry_at
        async with self._tx() as s:
            res: Any = await s.execute(
                update(PlanInstallmentRow)
                .where(
                    PlanInstallmentRow.id == due.id,
                    PlanInstallmentRow.status == due.status,
                    PlanInstallmentRow.attempts == due.attempts,
                )
                .values(**values)
            )
            if int(res.rowcount or 0) != 1:
                return False
            open_left = await s.scalar(
                select(PlanInstallmentRow.id).where(
                    PlanInstallmentRow.plan_id == due.plan_id,
                    or_(PlanInstallmentRow.status.in_(("scheduled", "retry", "failed"))),
                )
            )
            plan = await s.get(PlanScheduleRow, due.plan_id)
            if plan is not None:
                plan.updated_at = now
                if open_left is None:
                    plan.status = "completed"
            s.add(
                self._audit_row(
                    f"plan.installment_{status}",
                    patient_id=due.patient_id,
                    conversation_id=due.conversation_id,
                    detail={
                        "plan_id": due.plan_id,
                        "installment": due.seq,
                        "attempt": due.attempts + 1,
                        "processor_ref": processor_ref,
                        "error": error,
                    },
                )
            )
        return True

    async def for_guarantor(
        self, guarantor_id: str
    ) -> list[tuple[PlanScheduleRow, list[PlanInstallmentRow]]]:
        async with self._tx() as s:
            plans = (
                await s.scalars(
                    select(PlanScheduleRow)
                    .where(PlanScheduleRow.guarantor_id == guarantor_id)
                    .order_by(PlanScheduleRow.created_at)
                )
            ).all()
            out = []
            for plan in plans:
                insts = (
                    await s.scalars(
                        select(PlanInstallmentRow)
                        .where(PlanInstallmentRow.plan_id == plan.id)
                        .order_by(PlanInstallmentRow.seq)
                    )
                ).all()
                out.append((plan, list(insts)))
            return out

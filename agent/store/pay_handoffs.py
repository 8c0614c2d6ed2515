"""`PayHandoffStore`: pending `<Pay>` hand-offs per call and their results (agent/pay_handoff.py).

One pending hand-off per call at a time (a newer request supersedes an older pending one). Finishing
is conditional on the row still being pending, so a replayed `action` callback changes nothing and
learns the first outcome instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from agent.store.base import StoreBase, jsonable
from agent.store.models import new_id
from agent.store.models_payments import PayHandoffRow


@dataclass(frozen=True)
class Handoff:
    id: str
    call_sid: str
    conversation_id: str
    direction: str
    guarantor_id: str
    patient_id: str | None
    amount: Decimal
    currency: str
    purpose: str
    reusable: bool
    plan: dict[str, Any] | None
    status: str
    result: str | None
    processor_ref: str | None
    created_at: datetime


def _handoff(row: PayHandoffRow) -> Handoff:
    return Handoff(
        id=row.id,
        call_sid=row.call_sid,
        conversation_id=row.conversation_id,
        direction=row.direction,
        guarantor_id=row.guarantor_id,
        patient_id=row.patient_id,
        amount=row.amount,
        currency=row.currency,
        purpose=row.purpose,
        reusable=row.reusable,
        plan=row.plan,
        status=row.status,
        result=row.result,
        processor_ref=row.processor_ref,
        created_at=row.created_at,
    )


class PayHandoffStore(StoreBase):
    async def create_pending(
        self,
        *,
        call_sid: str,
        direction: str,
        conversation_id: str,
        guarantor_id: str,
        patient_id: str | None,
        amount: Decimal,
        currency: str,
        purpose: str,
        plan: dict[str, Any] | None,
    ) -> Handoff:
        now = self._now()
        row = PayHandoffRow(
            id=new_id("ph_"),
            call_sid=call_sid,
            conversation_id=conversation_id,
            direction=direction,
            guarantor_id=guarantor_id,
            patient_id=patient_id,
            amount=amount,
            currency=currency,
            purpose=purpose,
            reusable=plan is not None,
            plan=jsonable(plan) if plan is not None else None,
            status="pending",
            created_at=now,
        )
        async with self._tx() as s:
            await s.execute(
                update(PayHandoffRow)
                .where(PayHandoffRow.call_sid == call_sid, PayHandoffRow.status == "pending")
                .values(status="cancelled", result="superseded", finished_at=now)
            )
            s.add(row)
            s.add(
                self._audit_row(
                    "pay.handoff_requested",
                    patient_id=patient_id,
                    conversation_id=conversation_id,
                    detail={"handoff_id": row.id, "amount": amount, "purpose": purpose, "call_sid": call_sid},
                )
            )
        return _handoff(row)

    async def pending(self, call_sid: str) -> Handoff | None:
        q = (
            select(PayHandoffRow)
            .where(PayHandoffRow.call_sid == call_sid, PayHandoffRow.status == "pending")
            .order_by(PayHandoffRow.created_at.desc(), PayHandoffRow.id.desc())
            .limit(1)
        )
        async with self._tx() as s:
            row = await s.scalar(q)
            return _handoff(row) if row else None

    async def latest(self, call_sid: str) -> Handoff | None:
        """The pending hand-off for the call, else the most recent finished one."""
        found = await self.pending(call_sid)
        if found is not None:
            return found
        q = (
            select(PayHandoffRow)
            .where(PayHandoffRow.call_sid == call_sid, PayHandoffRow.result != "superseded")
            .order_by(PayHandoffRow.created_at.desc(), PayHandoffRow.id.desc())
            .limit(1)
        )
        async with self._tx() as s:
            row = await s.scalar(q)
            return _handoff(row) if row else None

    async def finish(
        self, handoff_id: str, *, status: str, result: str, processor_ref: str | None, detail: dict[str, Any]
    ) -> bool:
        """Pending → `status` with Twilio's `Result`; False when it was already finished (a replay)."""
        now = self._now()
        async with self._tx() as s:
            res: Any = await s.execute(
                update(PayHandoffRow)
                .where(PayHandoffRow.id == handoff_id, PayHandoffRow.status == "pending")
                .values(status=status, result=result, processor_ref=processor_ref, finished_at=now)
            )
            changed = int(res.rowcount or 0) == 1
            if changed:
                row = await s.get(PayHandoffRow, handoff_id)
                assert row is not None
                s.add(
                    self._audit_row(
                        f"pay.{status}",
                        patient_id=row.patient_id,
                        conversation_id=row.conversation_id,
                        detail={"handoff_id": handoff_id, "result": result, **detail},
                    )
                )
        return changed

    async def record_progress(self, call_sid: str, progress: dict[str, str]) -> bool:
        """The latest `<Pay>` progress callback on the pending hand-off (no card data is passed in)."""
        async with self._tx() as s:
            row = await s.scalar(
                select(PayHandoffRow)
                .where(PayHandoffRow.call_sid == call_sid, PayHandoffRow.status == "pending")
                .order_by(PayHandoffRow.created_at.desc())
                .limit(1)
            )
            if row is None:
                return False
            row.last_status = dict(progress)
        return True

    async def get(self, handoff_id: str) -> Handoff | None:
        async with self._tx() as s:
            row = await s.get(PayHandoffRow, handoff_id)
            return _handoff(row) if row else None

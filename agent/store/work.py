"""Work items BalanceLine creates: promises, plan offers, staff tasks and callbacks (each audited)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict, cast

from sqlalchemy import select

from agent.store.base import StoreBase, jsonable
from agent.store.models import CallbackRow, PlanOfferRow, PromiseRow, StaffTaskRow, new_id
from pms.types import Promise


class StaffTask(TypedDict):
    task_id: str
    kind: str
    patient_id: str | None
    conversation_id: str | None
    summary: str
    context: dict[str, Any]
    priority: str
    status: str
    created_at: datetime


class WorkStore(StoreBase):
    async def record_promise(
        self, *, guarantor_id: str, amount: Decimal, due_on: date, conversation_id: str, channel: str
    ) -> str:
        row = PromiseRow(
            id=new_id("pr_"),
            guarantor_id=guarantor_id,
            amount=amount,
            due_on=due_on,
            status="open",
            conversation_id=conversation_id,
            channel=channel,
            created_at=self._now(),
        )
        async with self._tx() as s:
            s.add(row)
            s.add(
                self._audit_row(
                    "promise.recorded",
                    patient_id=guarantor_id,
                    conversation_id=conversation_id,
                    detail={"promise_id": row.id, "amount": amount, "due_on": due_on},
                )
            )
        return row.id

    async def set_promise_status(self, promise_id: str, status: str) -> bool:
        """kept | partly_kept | broken | cancelled (e.g. after matching payments). False if unknown."""
        async with self._tx() as s:
            row = await s.get(PromiseRow, promise_id)
            if row is None:
                return False
            row.status = status
            s.add(
                self._audit_row(
                    "promise.status",
                    patient_id=row.guarantor_id,
                    conversation_id=row.conversation_id,
                    detail={"promise_id": promise_id, "status": status},
                )
            )
        return True

    async def list_promises(self, guarantor_id: str) -> list[Promise]:
        q = (
            select(PromiseRow)
            .where(PromiseRow.guarantor_id == guarantor_id)
            .order_by(PromiseRow.created_at.desc(), PromiseRow.id.desc())
        )
        async with self._tx() as s:
            rows = (await s.scalars(q)).all()
        return [
            Promise(
                promise_id=r.id,
                guarantor_id=r.guarantor_id,
                amount=r.amount,
                due_on=r.due_on,
                status=cast(Any, r.status),
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def record_plan_offer(
        self, *, guarantor_id: str, conversation_id: str, balance: Decimal, options: list[dict[str, Any]]
    ) -> str:
        row = PlanOfferRow(
            id=new_id("po_"),
            guarantor_id=guarantor_id,
            conversation_id=conversation_id,
            balance=balance,
            options=jsonable(options),
            status="offered",
            created_at=self._now(),
        )
        async with self._tx() as s:
            s.add(row)
            s.add(
                self._audit_row(
                    "plan.offered",
                    patient_id=guarantor_id,
                    conversation_id=conversation_id,
                    detail={"offer_id": row.id, "balance": balance, "options": len(options)},
                )
            )
        return row.id

    async def accept_plan_offer(
        self, *, offer_id: str, plan_key: str, status: Literal["accepted", "pending_approval"]
    ) -> None:
        """Raises LookupError for an unknown offer or a plan key it did not contain."""
        async with self._tx() as s:
            row = await s.get(PlanOfferRow, offer_id, with_for_update=True)
            if row is None:
                raise LookupError(f"no plan offer {offer_id!r}")
            if plan_key not in {o.get("plan_key") for o in row.options}:
                raise LookupError(f"plan offer {offer_id!r} has no option {plan_key!r}")
            row.status, row.accepted_key, row.decided_at = status, plan_key, self._now()
            s.add(
                self._audit_row(
                    f"plan.{status}",
                    patient_id=row.guarantor_id,
                    conversation_id=row.conversation_id,
                    detail={"offer_id": offer_id, "plan_key": plan_key},
                )
            )

    async def create_staff_task(
        self,
        *,
        kind: str,
        patient_id: str | None,
        conversation_id: str | None,
        summary: str,
        context: dict[str, Any],
        priority: Literal["low", "normal", "high"] = "normal",
    ) -> str:
        row = StaffTaskRow(
            id=new_id("st_"),
            kind=kind,
            patient_id=patient_id,
            conversation_id=conversation_id,
            summary=summary,
            context=jsonable(context),
            priority=priority,
            status="open",
            created_at=self._now(),
        )
        async with self._tx() as s:
            s.add(row)
            s.add(
                self._audit_row(
                    "staff_task.created",
                    patient_id=patient_id,
                    conversation_id=conversation_id,
                    detail={"task_id": row.id, "kind": kind, "priority": priority},
                )
            )
        return row.id

    async def close_staff_task(self, task_id: str, *, actor: str = "staff") -> bool:
        async with self._tx() as s:
            row = await s.get(StaffTaskRow, task_id)
            if row is None or row.status == "done":
                return False
            row.status = "done"
            s.add(
                self._audit_row(
                    "staff_task.done",
                    patient_id=row.patient_id,
                    conversation_id=row.conversation_id,
                    detail={"task_id": task_id},
                    actor=actor,
                )
            )
        return True

    async def list_staff_tasks(
        self,
        status: str | None = "open",
        kind: str | None = None,
        patient_id: str | None = None,
        *,
        limit: int = 200,
    ) -> list[StaffTask]:
        """Newest first; each filter applies only when given (status=None means any status)."""
        q = select(StaffTaskRow).order_by(StaffTaskRow.created_at.desc(), StaffTaskRow.id.desc()).limit(limit)
        if status is not None:
            q = q.where(StaffTaskRow.status == status)
        if kind is not None:
            q = q.where(StaffTaskRow.kind == kind)
        if patient_id is not None:
            q = q.where(StaffTaskRow.patient_id == patient_id)
        async with self._tx() as s:
            rows = (await s.scalars(q)).all()
        return [
            StaffTask(
                task_id=r.id,
                kind=r.kind,
                patient_id=r.patient_id,
                conversation_id=r.conversation_id,
                summary=r.summary,
                context=r.context,
                priority=r.priority,
                status=r.status,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def schedule_callback(
        self,
        *,
        patient_id: str | None,
        contact: str | None,
        at: datetime | None,
        reason: str,
        conversation_id: str,
    ) -> str:
        row = CallbackRow(
            id=new_id("cb_"),
            patient_id=patient_id,
            contact=contact,
            at=at,
            reason=reason,
            conversation_id=conversation_id,
            status="scheduled",
            created_at=self._now(),
        )
        async with self._tx() as s:
            s.add(row)
            s.add(
                self._audit_row(
                    "callback.scheduled",
                    patient_id=patient_id,
                    conversation_id=conversation_id,
                    detail={"callback_id": row.id, "at": at, "reason": reason},
                )
            )
        return row.id

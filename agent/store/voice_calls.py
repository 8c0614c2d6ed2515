"""The voice-call rows (see `models_voice`): opened by the inbound webhook, updated by the session.

Every method is one short transaction and idempotent on CallSid, so webhook retries and a session
that ends twice (stop + socket close) change nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from agent.store.base import StoreBase, jsonable, upsert
from agent.store.models import StaffTaskRow, new_id
from agent.store.models_voice import VoiceCallRow


@dataclass(frozen=True)
class VoiceCall:
    call_sid: str
    conversation_id: str | None
    direction: str
    status: str
    handoff: dict[str, Any] | None
    outcome: str | None
    end_reason: str | None
    summary: str | None
    stats: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


def _call(row: VoiceCallRow) -> VoiceCall:
    return VoiceCall(
        call_sid=row.call_sid,
        conversation_id=row.conversation_id,
        direction=row.direction,
        status=row.status,
        handoff=row.handoff,
        outcome=row.outcome,
        end_reason=row.end_reason,
        summary=row.summary,
        stats=dict(row.stats or {}),
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


class VoiceCallStore(StoreBase):
    async def open_call(self, call_sid: str, *, direction: str, conversation_id: str | None) -> None:
        """Record a call leg once (a retried webhook inserts nothing)."""
        async with self._tx() as s:
            stmt = upsert(s, VoiceCallRow).values(
                id=new_id("vc_"),
                call_sid=call_sid,
                conversation_id=conversation_id,
                direction=direction,
                status="ringing",
                created_at=self._now(),
            )
            await s.execute(stmt.on_conflict_do_nothing(index_elements=["call_sid"]))

    async def get(self, call_sid: str) -> VoiceCall | None:
        async with self._tx() as s:
            row = await s.scalar(select(VoiceCallRow).where(VoiceCallRow.call_sid == call_sid))
            return None if row is None else _call(row)

    async def stream_started(
        self, call_sid: str, *, stream_sid: str, conversation_id: str, direction: str
    ) -> None:
        """The media stream is live (also creates the row for a call that never hit our webhook)."""
        await self.open_call(call_sid, direction=direction, conversation_id=conversation_id)
        async with self._tx() as s:
            row = await s.scalar(select(VoiceCallRow).where(VoiceCallRow.call_sid == call_sid))
            assert row is not None
            row.stream_sid = stream_sid
            row.conversation_id = conversation_id
            row.status = "live"
            row.handoff = None  # a resumed stream (after <Pay>) starts with no hand-off pending
            row.started_at = row.started_at or self._now()

    async def set_handoff(self, call_sid: str, handoff: dict[str, Any] | None) -> None:
        async with self._tx() as s:
            row = await s.scalar(select(VoiceCallRow).where(VoiceCallRow.call_sid == call_sid))
            if row is not None:
                row.handoff = jsonable(handoff) if handoff is not None else None

    async def finish(
        self,
        call_sid: str,
        *,
        outcome: str,
        end_reason: str,
        summary: str,
        stats: dict[str, Any],
    ) -> None:
        async with self._tx() as s:
            row = await s.scalar(select(VoiceCallRow).where(VoiceCallRow.call_sid == call_sid))
            if row is None:
                return
            row.status = "ended"
            row.outcome = outcome
            row.end_reason = end_reason
            row.summary = summary
            row.stats = jsonable(stats)
            row.ended_at = self._now()

    async def set_transfer_status(self, transfer_id: str, status: str, **extra: Any) -> dict[str, Any] | None:
        """Set the warm-transfer card's live status (`context.transfer_status`); the task's context."""
        async with self._tx() as s:
            row = await s.get(StaffTaskRow, transfer_id)
            if row is None or row.kind != "transfer":
                return None
            context = dict(row.context or {})
            context["transfer_status"] = status
            context.update(jsonable(extra))
            row.context = context
            s.add(
                self._audit_row(
                    f"transfer.{status}",
                    patient_id=row.patient_id,
                    conversation_id=row.conversation_id,
                    detail={"transfer_id": transfer_id},
                )
            )
            return context | {"patient_id": row.patient_id, "conversation_id": row.conversation_id}

    async def transfer_task(self, transfer_id: str) -> dict[str, Any] | None:
        async with self._tx() as s:
            row = await s.get(StaffTaskRow, transfer_id)
            if row is None or row.kind != "transfer":
                return None
            return {
                "transfer_id": row.id,
                "patient_id": row.patient_id,
                "conversation_id": row.conversation_id,
                "summary": row.summary,
                "context": dict(row.context or {}),
            }

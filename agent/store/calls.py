"""The outbound-call state machine in the store (see `models_calls`): claims and conditional updates.

Every transition is one conditional UPDATE, so two replicas handling the same (replayed, duplicated
or reordered) Twilio callback never both act: exactly one sees ``rowcount == 1``. The first terminal
status also stamps the attempt's `contact_attempts` row (in the same transaction) with the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.store.base import StoreBase, upsert
from agent.store.models import Base, ContactAttemptRow
from agent.store.models_calls import OutboundCallRow
from telephony.calls import CallStatusEvent

StatusApplied = Literal["applied", "final", "stale", "unknown_call"]
Row = TypeVar("Row", bound=Base)


@dataclass(frozen=True)
class OutboundCall:
    attempt_id: str
    call_sid: str | None
    patient_id: str
    guarantor_id: str | None
    to: str
    purpose: str
    dial_state: str
    status: str | None
    last_sequence: int | None
    final_status: str | None
    answered_by: str | None
    voicemail: str | None
    followup_sms: str | None
    just_linked: bool = False  # this lookup attached the CallSid to a dial whose answer was lost

    @property
    def ended(self) -> bool:
        return self.final_status is not None


def _call(row: OutboundCallRow, *, just_linked: bool = False) -> OutboundCall:
    return OutboundCall(
        attempt_id=row.attempt_id,
        call_sid=row.call_sid,
        patient_id=row.patient_id,
        guarantor_id=row.guarantor_id,
        to=row.to,
        purpose=row.purpose,
        dial_state=row.dial_state,
        status=row.status,
        last_sequence=row.last_sequence,
        final_status=row.final_status,
        answered_by=row.answered_by,
        voicemail=row.voicemail,
        followup_sms=row.followup_sms,
        just_linked=just_linked,
    )


async def claim_row(s: AsyncSession, model: type[Row], values: dict[str, Any]) -> Row | None:
    """Insert the row keyed by `attempt_id` unless it exists: None = inserted (claimed now), else
    the existing row (one attempt, one row, whichever replica or retry gets there first)."""
    stmt = upsert(s, model).values(**values)
    result: Any = await s.execute(stmt.on_conflict_do_nothing(index_elements=["attempt_id"]))
    if result.rowcount == 1:
        return None
    row = await s.get(model, values["attempt_id"])
    assert row is not None
    return row


class CallStore(StoreBase):
    # ---- dialing ---------------------------------------------------------------------------------

    async def claim_dial(
        self, *, attempt_id: str, patient_id: str, guarantor_id: str | None, to: str, purpose: str
    ) -> OutboundCall | None:
        """Claim the right to dial for this attempt. None = claimed now; else the existing row."""
        now = self._now()
        values = {
            "attempt_id": attempt_id,
            "patient_id": patient_id,
            "guarantor_id": guarantor_id,
            "to": to,
            "purpose": purpose,
            "dial_state": "dialing",
            "created_at": now,
            "updated_at": now,
        }
        async with self._tx() as s:
            row = await claim_row(s, OutboundCallRow, values)
            return None if row is None else _call(row)

    async def release_dial(self, attempt_id: str) -> None:
        """Undo a claim whose REST request certainly never placed a call (so a retry may dial)."""
        async with self._tx() as s:
            await s.execute(
                delete(OutboundCallRow).where(
                    OutboundCallRow.attempt_id == attempt_id, OutboundCallRow.dial_state == "dialing"
                )
            )

    async def mark_dialed(self, attempt_id: str, call_sid: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(OutboundCallRow)
                .where(OutboundCallRow.attempt_id == attempt_id)
                .values(call_sid=call_sid, dial_state="placed", updated_at=self._now())
            )
            s.add(
                self._audit_row(
                    "call.placed",
                    patient_id=await self._patient(s, attempt_id),
                    conversation_id=None,
                    detail={"attempt_id": attempt_id, "call_sid": call_sid},
                )
            )

    async def mark_dial_failed(self, attempt_id: str, *, state: str, error: str) -> None:
        """`failed` (Twilio refused: never retried) or `unknown` (timeout: the call may exist)."""
        async with self._tx() as s:
            await s.execute(
                update(OutboundCallRow)
                .where(OutboundCallRow.attempt_id == attempt_id, OutboundCallRow.call_sid.is_(None))
                .values(dial_state=state, dial_error=error[:40], updated_at=self._now())
            )
            s.add(
                self._audit_row(
                    f"call.dial_{state}",
                    patient_id=await self._patient(s, attempt_id),
                    conversation_id=None,
                    detail={"attempt_id": attempt_id, "error": error},
                )
            )

    async def _patient(self, s: Any, attempt_id: str) -> str | None:
        result: str | None = await s.scalar(
            select(OutboundCallRow.patient_id).where(OutboundCallRow.attempt_id == attempt_id)
        )
        return result

    # ---- lookups -----------------------------------------------------------------------------

    async def get_call(self, *, call_sid: str, attempt_id: str | None = None) -> OutboundCall | None:
        """The call by CallSid. A call whose dial timed out (no CallSid recorded) is found by the
        attempt id our callback URLs carry, and learns its CallSid here (first callback wins)."""
        async with self._tx() as s:
            row = await s.scalar(select(OutboundCallRow).where(OutboundCallRow.call_sid == call_sid))
            linked = False
            if row is None and attempt_id:
                result: Any = await s.execute(
                    update(OutboundCallRow)
                    .where(OutboundCallRow.attempt_id == attempt_id, OutboundCallRow.call_sid.is_(None))
                    .values(call_sid=call_sid, dial_state="placed", updated_at=self._now())
                )
                if result.rowcount == 1:
                    row = await s.get(OutboundCallRow, attempt_id)
                    linked = True
            return None if row is None else _call(row, just_linked=linked)

    # ---- status callbacks --------------------------------------------------------------------

    async def apply_status(self, event: CallStatusEvent) -> StatusApplied:
        """Apply one status callback: newer (higher SequenceNumber) non-terminal statuses move the
        call forward; the first terminal status ends it (and stamps the contact attempt); anything
        else (older, repeated, or after the end) is ignored."""
        now = self._now()
        where = [OutboundCallRow.call_sid == event.call_sid, OutboundCallRow.final_status.is_(None)]
        values: dict[str, Any] = {"status": event.status, "updated_at": now}
        if event.sequence is not None:
            values["last_sequence"] = event.sequence
        if event.status == "in-progress":
            values["answered_at"] = now
        async with self._tx() as s:
            known = await s.scalar(
                select(OutboundCallRow.attempt_id).where(OutboundCallRow.call_sid == event.call_sid)
            )
            if known is None:
                return "unknown_call"
            if event.is_final:
                values.update(final_status=event.status, ended_at=now, duration_s=event.duration_s)
            else:
                # Out-of-order or replayed: only a strictly newer sequence number moves the call.
                newer = (
                    OutboundCallRow.last_sequence.is_(None)
                    if event.sequence is None
                    else (
                        OutboundCallRow.last_sequence.is_(None)
                        | (OutboundCallRow.last_sequence < event.sequence)
                    )
                )
                where.append(newer)
            result: Any = await s.execute(update(OutboundCallRow).where(*where).values(**values))
            if result.rowcount != 1:
                return "stale"
            if not event.is_final:
                return "applied"
            await s.execute(
                update(ContactAttemptRow)
                .where(ContactAttemptRow.provider_sid == event.call_sid)
                .values(status=event.status)
            )
            row = await s.get(OutboundCallRow, known)
            assert row is not None
            s.add(
                self._audit_row(
                    "call.ended",
                    patient_id=row.patient_id,
                    conversation_id=None,
                    detail={
                        "attempt_id": row.attempt_id,
                        "call_sid": event.call_sid,
                        "status": event.status,
                        "duration_s": event.duration_s,
                        "answered_by": row.answered_by,
                        "voicemail": row.voicemail,
                    },
                    at=now,
                )
            )
            return "final"

    # ---- answering-machine detection ---------------------------------------------------------

    async def record_answered_by(self, call_sid: str, answered_by: str) -> str | None:
        """Keep the first AMD verdict for the call; return the verdict in force (None: unknown call)."""
        async with self._tx() as s:
            await s.execute(
                update(OutboundCallRow)
                .where(OutboundCallRow.call_sid == call_sid, OutboundCallRow.answered_by.is_(None))
                .values(answered_by=answered_by, updated_at=self._now())
            )
            result: str | None = await s.scalar(
                select(OutboundCallRow.answered_by).where(OutboundCallRow.call_sid == call_sid)
            )
            return result

    async def claim_machine_action(self, call_sid: str) -> bool:
        """True for exactly one caller while the call is live: the right to act on a machine/fax
        answer (speak the voicemail, or hang up) once."""
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutboundCallRow)
                .where(
                    OutboundCallRow.call_sid == call_sid,
                    OutboundCallRow.voicemail.is_(None),
                    OutboundCallRow.final_status.is_(None),
                )
                .values(voicemail="pending", updated_at=self._now())
            )
            return bool(result.rowcount == 1)

    async def finish_machine_action(
        self, call_sid: str, state: Literal["left", "failed", "hung_up"] | None
    ) -> None:
        """`left`/`failed`/`hung_up` end the claim; None releases it (a transient REST error: a
        replayed AMD callback may try again)."""
        async with self._tx() as s:
            row = await s.scalar(select(OutboundCallRow).where(OutboundCallRow.call_sid == call_sid))
            if row is None or row.voicemail != "pending":
                return
            row.voicemail = state
            row.updated_at = self._now()
            if state is not None:
                s.add(
                    self._audit_row(
                        "call.voicemail_left" if state == "left" else f"call.machine_{state}",
                        patient_id=row.patient_id,
                        conversation_id=None,
                        detail={"attempt_id": row.attempt_id, "call_sid": call_sid},
                    )
                )

    async def claim_followup(self, call_sid: str) -> bool:
        """True for exactly one caller: the right to consider the one follow-up text for this call."""
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutboundCallRow)
                .where(OutboundCallRow.call_sid == call_sid, OutboundCallRow.followup_sms.is_(None))
                .values(followup_sms="pending", updated_at=self._now())
            )
            return bool(result.rowcount == 1)

    async def finish_followup(self, call_sid: str, outcome: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(OutboundCallRow)
                .where(OutboundCallRow.call_sid == call_sid, OutboundCallRow.followup_sms == "pending")
                .values(followup_sms=outcome[:64], updated_at=self._now())
            )

"""Conversations, their messages, and contact attempts.

Provider ids (Twilio MessageSid / CallSid) are UNIQUE columns: they are the durable idempotency
for webhooks, so a replayed callback inserts nothing. Status callbacks may arrive out of order; a
status never moves backwards (a late "sent" does not overwrite "delivered").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update

from agent.conversation import Conversation
from agent.store.base import StoreBase, upsert
from agent.store.models import ContactAttemptRow, ConversationRow, MessageRow, new_id

# Twilio message/call statuses by progress; terminal ones share the top rank.
_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "initiated": 1,
    "sending": 2,
    "ringing": 2,
    "sent": 3,
    "in-progress": 3,
    "receiving": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "received": 4,
    "canceled": 4,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "read": 5,
}


def _later_statuses(status: str) -> list[str]:
    rank = _RANK.get(status)
    return [] if rank is None else [s for s, r in _RANK.items() if r > rank]


class ConversationStore(StoreBase):
    # ---- conversations -------------------------------------------------------------------------

    async def save_conversation(self, conv: Conversation) -> None:
        """Upsert by id: the full `to_json()` plus denormalised columns for queries."""
        now = self._now()
        st = conv.state
        values: dict[str, Any] = {
            "id": conv.conversation_id,
            "channel": st.channel,
            "direction": conv.direction,
            "contact": st.contact,
            "patient_id": st.patient_id,
            "guarantor_id": st.guarantor_id,
            "verified": st.verified,
            "outcome": st.outcome,
            "summary": conv.summary,
            "state": conv.to_json(),
            "started_at": conv.started_at or now,
            "updated_at": now,
            "ended_at": now if st.ended else None,
        }
        async with self._tx() as s:
            stmt = upsert(s, ConversationRow).values(**values)
            table = ConversationRow.__table__
            ended = case(
                (stmt.excluded.ended_at.is_(None), None),
                else_=func.coalesce(table.c.ended_at, stmt.excluded.ended_at),
            )
            keep = {"id", "started_at", "ended_at"}
            changes = {k: stmt.excluded[k] for k in values if k not in keep} | {"ended_at": ended}
            await s.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=changes))

    async def load_conversation(self, conversation_id: str) -> Conversation | None:
        async with self._tx() as s:
            state = await s.scalar(select(ConversationRow.state).where(ConversationRow.id == conversation_id))
        return None if state is None else Conversation.from_json(state)

    async def find_open_conversation(
        self, channel: str, contact: str, idle_days: float
    ) -> Conversation | None:
        """The most recent conversation on this channel with this contact that has not ended and
        was active within `idle_days`."""
        since = self._now() - timedelta(days=idle_days)
        q = (
            select(ConversationRow.state)
            .where(
                ConversationRow.channel == channel,
                ConversationRow.contact == contact,
                ConversationRow.ended_at.is_(None),
                ConversationRow.updated_at >= since,
            )
            .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
            .limit(1)
        )
        async with self._tx() as s:
            state = await s.scalar(q)
        return None if state is None else Conversation.from_json(state)

    async def list_conversations(self, guarantor_id: str, *, limit: int = 50) -> list[Conversation]:
        """A guarantor's conversations, newest first."""
        q = (
            select(ConversationRow.state)
            .where(ConversationRow.guarantor_id == guarantor_id)
            .order_by(ConversationRow.started_at.desc(), ConversationRow.id.desc())
            .limit(limit)
        )
        async with self._tx() as s:
            states = (await s.scalars(q)).all()
        return [Conversation.from_json(st) for st in states]

    # ---- messages ------------------------------------------------------------------------------

    async def add_message(
        self,
        *,
        conversation_id: str | None,
        direction: str,
        channel: str,
        body: str,
        provider_sid: str | None = None,
        status: str | None = None,
        error_code: str | int | None = None,
    ) -> bool:
        """Record one message (body already redacted). False, and nothing written, if a message
        with this `provider_sid` exists (a webhook replay)."""
        values = {
            "id": new_id("msg_"),
            "conversation_id": conversation_id,
            "direction": direction,
            "channel": channel,
            "body": body,
            "provider_sid": provider_sid,
            "status": status,
            "error_code": None if error_code is None else str(error_code),
            "created_at": self._now(),
        }
        async with self._tx() as s:
            stmt = (
                upsert(s, MessageRow).values(**values).on_conflict_do_nothing(index_elements=["provider_sid"])
            )
            result: Any = await s.execute(stmt)
            return bool(result.rowcount == 1)

    async def update_message_status(
        self, provider_sid: str, status: str, error_code: str | int | None = None
    ) -> bool:
        """Apply a delivery status callback to the message (and the attempt) with this sid.
        False if the sid is unknown or the status is older than the one recorded."""
        later = _later_statuses(status)
        code = None if error_code is None else str(error_code)
        async with self._tx() as s:
            result: Any = await s.execute(
                update(MessageRow)
                .where(MessageRow.provider_sid == provider_sid)
                .where(MessageRow.status.is_(None) | MessageRow.status.not_in(later))
                .values(status=status, error_code=code)
            )
            await s.execute(
                update(ContactAttemptRow)
                .where(ContactAttemptRow.provider_sid == provider_sid)
                .where(ContactAttemptRow.status.is_(None) | ContactAttemptRow.status.not_in(later))
                .values(status=status)
            )
            return bool(result.rowcount == 1)

    # ---- contact attempts ----------------------------------------------------------------------

    async def record_attempt(
        self,
        *,
        channel: str,
        to: str,
        patient_id: str | None = None,
        guarantor_id: str | None = None,
        direction: str = "outbound",
        at: datetime | None = None,
        counted: bool = True,
        conversation: bool = False,
        with_consent: bool = False,
        provider_sid: str | None = None,
        status: str | None = None,
    ) -> str:
        """Record a contact attempt for compliance history; returns its id. Idempotent on
        `provider_sid` (a repeat returns the existing attempt's id and changes nothing)."""
        values = {
            "id": new_id("att_"),
            "patient_id": patient_id,
            "guarantor_id": guarantor_id,
            "channel": channel,
            "to": to,
            "direction": direction,
            "at": at or self._now(),
            "counted": counted,
            "conversation": conversation,
            "with_consent": with_consent,
            "provider_sid": provider_sid,
            "status": status,
        }
        async with self._tx() as s:
            stmt = upsert(s, ContactAttemptRow).values(**values)
            result: Any = await s.execute(stmt.on_conflict_do_nothing(index_elements=["provider_sid"]))
            if result.rowcount == 1:
                return str(values["id"])
            existing = await s.scalar(
                select(ContactAttemptRow.id).where(ContactAttemptRow.provider_sid == provider_sid)
            )
            assert existing is not None
            return existing

    async def update_attempt(
        self,
        provider_sid: str,
        *,
        status: str | None = None,
        conversation: bool | None = None,
        counted: bool | None = None,
    ) -> bool:
        """Update the attempt with this provider id (e.g. a call reached a person). False if unknown.
        An out-of-order (older) status is ignored; the other fields still apply."""
        flags = {k: v for k, v in {"conversation": conversation, "counted": counted}.items() if v is not None}
        where = ContactAttemptRow.provider_sid == provider_sid
        async with self._tx() as s:
            known = await s.scalar(select(func.count()).select_from(ContactAttemptRow).where(where))
            if not known:
                return False
            if flags:
                await s.execute(update(ContactAttemptRow).where(where).values(**flags))
            if status is not None:
                later = _later_statuses(status)
                await s.execute(
                    update(ContactAttemptRow)
                    .where(where, ContactAttemptRow.status.is_(None) | ContactAttemptRow.status.not_in(later))
                    .values(status=status)
                )
            return True

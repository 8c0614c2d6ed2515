"""Conversations, their messages, and contact attempts.

Provider ids (Twilio MessageSid / CallSid) are UNIQUE columns: they are the durable idempotency
for webhooks, so a replayed callback inserts nothing. Status callbacks may arrive out of order; a
status never moves backwards (a late "sent" does not overwrite "delivered").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Select, func, select, update

from agent.conversation import Conversation
from agent.store.base import StoreBase
from agent.store.models import ContactAttemptRow, ConversationRow, MessageRow
from agent.store.writes import (
    attempt_values,
    conversation_values,
    insert_once,
    message_values,
    statements_for,
)

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
        async with self._core() as c:
            await c.execute(statements_for(c).conversation_upsert, conversation_values(conv, self._now()))

    async def load_conversation(self, conversation_id: str) -> Conversation | None:
        async with self._tx() as s:
            state = await s.scalar(select(ConversationRow.state).where(ConversationRow.id == conversation_id))
        return None if state is None else Conversation.from_json(state)

    async def find_open_conversation(
        self, channel: str, contact: str, idle_days: float
    ) -> Conversation | None:
        """The most recent conversation on this channel with this contact that has not ended and
        was active within `idle_days`."""
        async with self._core() as c:
            state = await c.scalar(
                self._open_query(channel, contact, self._now() - timedelta(days=idle_days))
            )
        return None if state is None else Conversation.from_json(state)

    @staticmethod
    def _open_query(
        channel: str | BindParameter[str],
        contact: str | BindParameter[str],
        since: datetime | BindParameter[datetime],
    ) -> Select[tuple[dict[str, Any]]]:
        return (
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
        values = message_values(
            at=self._now(),
            conversation_id=conversation_id,
            direction=direction,
            channel=channel,
            body=body,
            provider_sid=provider_sid,
            status=status,
            error_code=error_code,
        )
        async with self._core() as c:
            return await insert_once(c, statements_for(c).message_once, values)

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
        values = attempt_values(
            at=at or self._now(),
            channel=channel,
            to=to,
            patient_id=patient_id,
            guarantor_id=guarantor_id,
            direction=direction,
            counted=counted,
            conversation=conversation,
            with_consent=with_consent,
            provider_sid=provider_sid,
            status=status,
        )
        async with self._core() as c:
            if await insert_once(c, statements_for(c).attempt_once, values):
                return str(values["id"])
            existing = await c.scalar(
                select(ContactAttemptRow.id).where(ContactAttemptRow.provider_sid == provider_sid)
            )
            assert existing is not None
            return str(existing)

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

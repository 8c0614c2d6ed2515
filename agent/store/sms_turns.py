"""The SMS channel's transactions: as few as a text needs, each doing all its writes at once.

A text in is one transaction: the open conversation for the number, the number's suppression
ledger and, when the conversation exists, the inbound message row (its unique MessageSid is the
durable replay guard) with its contact attempt. The first text of a conversation needs a PMS
caller-ID lookup in between, so it takes a second one (conversation + message + attempt + audit).
After the brain, `apply` writes the conversation and the turn's audit events before the reply
goes out (re-reading the ledger in the same transaction when asked to); the record of the send
(message, attempt, comm-log outbox row) is one more. On PostgreSQL a batch without a ledger read
is a single statement in autocommit (data-modifying CTEs, atomic): one round trip, no BEGIN/COMMIT.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import BindParameter, String, Table, bindparam, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent.conversation import Conversation
from agent.store import consent as ledger
from agent.store.conversations import ConversationStore
from agent.store.ledger_store import LedgerStore
from agent.store.models import ConsentEntryRow, ConversationRow
from agent.store.pg_statements import gated_statement, one_statement
from agent.store.writes import (
    WriteBatch,
    attempt_values,
    insert_once,
    message_values,
    statements_for,
    write_batch,
)


@dataclass(frozen=True)
class OpenedText:
    conversation: Conversation | None  # None: no open conversation on this number (start one)
    suppressed: bool  # a live opt-out covers this channel for this number
    recorded: bool  # the inbound message was recorded now (False: a replay, or no conversation yet)


class SmsTurnStore(ConversationStore, LedgerStore):
    _autocommit_engine: AsyncEngine | None = None

    def _autocommit(self) -> AsyncEngine:
        """The same pool without BEGIN/COMMIT: for a batch written as one (atomic) statement."""
        if self._autocommit_engine is None:
            self._autocommit_engine = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit_engine

    def batch(self, at: datetime | None = None) -> WriteBatch:
        """An empty `WriteBatch` stamped with the store's clock and actor."""
        return WriteBatch(at=at or self._now(), actor=self._actor)

    async def apply(
        self,
        batch: WriteBatch,
        *,
        check_suppression: str | None = None,
        channel: str = "sms",
        if_suppressed: Callable[[WriteBatch], None] | None = None,
    ) -> bool:
        """Write `batch` in one transaction. With `check_suppression` (a contact value), then read
        the ledger in the same transaction (so the batch's own entries count: START lifts an
        opt-out before its confirmation is checked); returns True if that value is suppressed for
        `channel`, after writing the rows `if_suppressed` adds (e.g. the blocked-send audit)."""
        if check_suppression is None and batch.empty():
            return False
        if check_suppression is None and self._engine.dialect.name == "postgresql":
            async with self._autocommit().connect() as c:
                await c.execute(*one_statement(batch))
            return False
        suppressed = False
        async with self._core() as c:
            if not batch.empty():
                await write_batch(c, batch)
            if check_suppression is not None:
                suppressed = await self._suppressed(c, check_suppression, channel)
                if suppressed and if_suppressed is not None:
                    extra = self.batch(batch.at)
                    if_suppressed(extra)
                    await write_batch(c, extra)
        return suppressed

    async def open_inbound_text(
        self, *, contact: str, idle_days: float, provider_sid: str, body: str, channel: str = "sms"
    ) -> OpenedText:
        """One transaction: the open conversation, whether `contact` is suppressed, and (when there
        is a conversation) the inbound message (`body` already redacted) and its attempt."""
        now = self._now()
        since = now - timedelta(days=idle_days)
        async with self._connection() as c:
            if c.dialect.name == "postgresql":
                state, suppressed = await self._open_and_ledger(c, channel, contact, since)
            else:
                state = await c.scalar(self._open_query(channel, contact, since))
                suppressed = await self._suppressed(c, contact, channel)
            if state is None:
                return OpenedText(None, suppressed, recorded=False)
            conv = Conversation.from_json(state)
            recorded = await self._record_inbound(c, conv, now, provider_sid, body)
        return OpenedText(conv, suppressed, recorded)

    async def start_inbound_text(
        self, conv: Conversation, *, provider_sid: str, body: str, detail: dict[str, Any]
    ) -> bool:
        """A new conversation with its first inbound text and its `conversation.started` audit, in
        one transaction. False, and nothing written, if this `provider_sid` is already recorded."""
        now = self._now()
        batch = self.batch(now)
        batch.save_conversation(conv)
        batch.audit(
            "conversation.started", patient_id=None, conversation_id=conv.conversation_id, detail=detail
        )
        async with self._connection() as c:
            return await self._record_inbound(c, conv, now, provider_sid, body, batch)

    @staticmethod
    async def _open_and_ledger(c: Any, channel: str, contact: str, since: datetime) -> tuple[Any, bool]:
        """PostgreSQL, one round trip: the open conversation's state (LATERAL) beside the number's
        ledger entries (one row per entry, or one row of NULLs)."""
        params = {
            "channel": channel,
            "contact": contact,
            "since": since,
            "value": ledger.normalise_value(contact),
        }
        rows = (await c.execute(_open_and_ledger_query(), params)).all()
        entries = [ledger.Entry(*row[1:]) for row in rows if row[1] is not None]
        suppressed = ledger.suppressed(entries, channel, patient_ids=[], values=[contact])
        return (rows[0][0] if rows else None), suppressed

    def _connection(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """PostgreSQL: an autocommit connection (reads, then one atomic statement for the writes);
        SQLite: one transaction."""
        if self._engine.dialect.name == "postgresql":
            return self._autocommit().connect()
        return self._core()

    async def _record_inbound(
        self,
        c: Any,
        conv: Conversation,
        now: datetime,
        provider_sid: str,
        body: str,
        batch: WriteBatch | None = None,
    ) -> bool:
        """The inbound message and, only if it is new, its attempt and `batch`'s rows."""
        st = statements_for(c)
        message = message_values(
            at=now,
            conversation_id=conv.conversation_id,
            direction="in",
            channel=conv.channel,
            body=body,
            provider_sid=provider_sid,
            status="received",
        )
        attempt = attempt_values(
            at=now,
            channel=conv.channel,
            to=conv.state.contact or "",
            patient_id=conv.state.patient_id,
            guarantor_id=conv.state.guarantor_id,
            direction="inbound",
            counted=False,
        )
        batch = batch or self.batch(now)
        batch.attempts.insert(0, attempt)
        if c.dialect.name == "postgresql":
            return bool(await c.scalar(*gated_statement(message, batch)))
        if not await insert_once(c, st.message_once, message):
            return False
        await write_batch(c, batch)
        return True


@cache
def _open_and_ledger_query() -> Any:
    """Built once, values bound at execution (a NULL value matches no ledger row)."""
    led = cast(Table, ConsentEntryRow.__table__)
    since: BindParameter[datetime] = bindparam("since", type_=ConversationRow.__table__.c.updated_at.type)
    conv = ConversationStore._open_query(
        bindparam("channel", type_=String()), bindparam("contact", type_=String()), since
    )
    lateral = conv.lateral("conv")
    one = select(literal(1).label("one")).subquery("one")
    cols = (led.c.id, led.c.patient_id, led.c.value, led.c.scope, led.c.action, led.c.basis, led.c.reason)
    return select(lateral.c.state, *cols, led.c.at).select_from(
        one.outerjoin(lateral, true()).outerjoin(led, led.c.value == bindparam("value"))
    )

"""`SqlRecords`: the durable record store behind `tools.context.Records`, the SMS channel and the API.

Every method commits before it returns. A method that represents an effect (a promise, an offer,
a suppression, a flag, a task, a callback, a queued PMS write) writes its audit event in the same
transaction, so the trail and the effect cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, cast

from sqlalchemy import func, select

from agent.store import consent as ledger
from agent.store.models import (
    AccountFlagRow,
    AuditEventRow,
    ContactAttemptRow,
    ConversationRow,
    MessageRow,
    OutboxRow,
    PromiseRow,
)
from agent.store.sms_turns import SmsTurnStore
from agent.store.work import WorkStore
from agent.store.writes import WriteBatch
from policies.types import Attempt, ContactHistory
from tools.context import PmsWrite, Records

HISTORY_DAYS = 90  # attempts/conversations older than this never affect a compliance decision
_OPEN_OUTBOX = ("PENDING", "IN_FLIGHT", "UNKNOWN")
_CONTACT_CHANNELS = ("voice", "sms", "email")


class AuditEvent(TypedDict):
    event_id: str
    at: datetime
    kind: str
    actor: str
    patient_id: str | None
    conversation_id: str | None
    detail: dict[str, Any]


class SqlRecords(SmsTurnStore, WorkStore):
    """Constructed with an `async_sessionmaker` (or an `AsyncEngine`) and a timezone-aware clock."""

    # ---- audit & PMS write-back ----------------------------------------------------------------

    async def audit(
        self,
        kind: str,
        *,
        patient_id: str | None,
        conversation_id: str | None,
        detail: dict[str, Any],
        actor: str | None = None,
    ) -> None:
        batch = WriteBatch(at=self._now(), actor=actor or self._actor)
        batch.audit(kind, patient_id=patient_id, conversation_id=conversation_id, detail=detail)
        await self.apply(batch)

    def deferring_audits(self) -> _DeferredAudits:
        """These records for one turn's tools: `audit` events are collected in `.deferred` (a
        `WriteBatch`) for the caller to commit with the turn's state; every other method writes
        at once, as here (an effect's own audit commits with the effect)."""
        return _DeferredAudits(self._sessions, self._clock, actor=self._actor)

    async def enqueue_pms_write(self, req: PmsWrite, *, conversation_id: str | None = None) -> None:
        """Queue a PMS write for the outbox drainer. The same idempotency key twice is one row."""
        batch = WriteBatch(at=self._now(), actor=self._actor)
        batch.pms_write(req, conversation_id=conversation_id)
        await self.apply(batch)

    async def outbox_backlog(self) -> int:
        """PMS writes not yet confirmed or given up on."""
        async with self._tx() as s:
            n = await s.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.state.in_(_OPEN_OUTBOX))
            )
        return int(n or 0)

    # ---- reads for the API and the compliance gate ---------------------------------------------

    async def list_audit(
        self, patient_id: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEvent]:
        """Newest first."""
        q = select(AuditEventRow).order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc()).limit(limit)
        if patient_id is not None:
            q = q.where(AuditEventRow.patient_id == patient_id)
        if since is not None:
            q = q.where(AuditEventRow.at >= since)
        async with self._tx() as s:
            rows = (await s.scalars(q)).all()
        return [
            AuditEvent(
                event_id=r.id,
                at=r.at,
                kind=r.kind,
                actor=r.actor,
                patient_id=r.patient_id,
                conversation_id=r.conversation_id,
                detail=r.detail,
            )
            for r in rows
        ]

    async def contact_history(
        self,
        guarantor_id: str,
        *,
        now: datetime,
        patient_ids: Sequence[str] = (),
        values: Sequence[str] = (),
    ) -> ContactHistory:
        """What BalanceLine knows: attempts and verified conversations of the last HISTORY_DAYS, the
        ledger (for the guarantor, `patient_ids`, `values` and every number we used), flags and
        promise counts. PMS facts (appointments, payments, plans) are the caller's to merge."""
        since = now - timedelta(days=HISTORY_DAYS)
        async with self._tx() as s:
            attempts = (
                await s.scalars(
                    select(ContactAttemptRow).where(
                        ContactAttemptRow.guarantor_id == guarantor_id, ContactAttemptRow.at >= since
                    )
                )
            ).all()
            convs = (
                await s.execute(
                    select(
                        ConversationRow.channel,
                        ConversationRow.contact,
                        ConversationRow.updated_at,
                        ConversationRow.direction,
                    ).where(
                        ConversationRow.guarantor_id == guarantor_id,
                        ConversationRow.verified,
                        ConversationRow.updated_at >= since,
                    )
                )
            ).all()
            inbound_msg = await s.scalar(
                select(func.max(MessageRow.created_at))
                .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
                .where(ConversationRow.guarantor_id == guarantor_id, MessageRow.direction == "in")
            )
            used = {a.to for a in attempts} | {c.contact for c in convs if c.contact}
            entries = await self._entries(
                s, patient_ids=[guarantor_id, *patient_ids], values=[*values, *used]
            )
            flags = set(
                (
                    await s.scalars(
                        select(AccountFlagRow.flag).where(
                            AccountFlagRow.guarantor_id == guarantor_id, AccountFlagRow.on
                        )
                    )
                ).all()
            )
            promise_rows = await s.execute(
                select(PromiseRow.status, func.count())
                .where(PromiseRow.guarantor_id == guarantor_id)
                .group_by(PromiseRow.status)
            )
            counts = {status: int(n) for status, n in promise_rows}
        history = [
            Attempt(
                channel=cast(Any, a.channel),
                at=a.at,
                to=a.to,
                direction=cast(Any, a.direction),
                conversation=a.conversation,
                counted=a.counted,
                with_consent=a.with_consent,
            )
            for a in attempts
            if a.channel in _CONTACT_CHANNELS
        ]
        history += [
            Attempt(
                channel=cast(Any, c.channel),
                at=c.updated_at,
                to=c.contact or "",
                direction=cast(Any, c.direction),
                conversation=True,
                counted=False,
            )
            for c in convs
            if c.channel in _CONTACT_CHANNELS
        ]
        responses = [a.at for a in attempts if a.direction == "inbound"] + (
            [inbound_msg] if inbound_msg else []
        )
        return ContactHistory(
            attempts=tuple(sorted(history, key=lambda a: a.at)),
            suppressions=ledger.suppressions(entries),
            consents=ledger.consents(entries),
            extra_flags=frozenset(flags),
            broken_promises=int(counts.get("broken", 0)),
            kept_promises=int(counts.get("kept", 0)),
            last_response_at=max(responses) if responses else None,
        )


class _DeferredAudits(SqlRecords):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred = self.batch()
        self.ledger_changed = False  # a tool wrote a consent/suppression entry during the turn

    async def _ledger(self, **kwargs: Any) -> None:
        self.ledger_changed = True
        await super()._ledger(**kwargs)

    async def audit(
        self,
        kind: str,
        *,
        patient_id: str | None,
        conversation_id: str | None,
        detail: dict[str, Any],
        actor: str | None = None,
    ) -> None:
        self.deferred.audit(
            kind,
            patient_id=patient_id,
            conversation_id=conversation_id,
            detail=detail,
            at=self._now(),
            actor=actor,
        )


if TYPE_CHECKING:  # mypy proves SqlRecords satisfies the protocol tools are written against

    def _is_records(records: SqlRecords) -> Records:
        return records

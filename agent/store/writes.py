"""Core statements for the record store's hot paths, and a `WriteBatch` that writes in one transaction.

The ORM unit of work (session, identity map, flush) costs more CPU than the statement it sends;
the SMS path writes a handful of rows per text, so these are plain Core INSERTs built once per
dialect and executed with parameters (SQLAlchemy then reuses their compiled form; asyncpg its
prepared statement). Row values are built by the `*_values` functions, shared by the per-method
writes of `SqlRecords` and by batches, so both paths store exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Insert, Table, case, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from agent.store.base import jsonable
from agent.store.consent import normalise_value
from agent.store.models import (
    AuditEventRow,
    ConsentEntryRow,
    ContactAttemptRow,
    ConversationRow,
    MessageRow,
    OutboxRow,
    new_id,
)
from agent.store.pms_writes import encode, marker_for, with_marker

if TYPE_CHECKING:
    from agent.conversation import Conversation
    from tools.context import PmsWrite


# ---- row values ---------------------------------------------------------------------------------


def audit_values(
    kind: str,
    *,
    at: datetime,
    actor: str,
    patient_id: str | None,
    conversation_id: str | None,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": new_id("ae_"),
        "at": at,
        "kind": kind,
        "actor": actor,
        "patient_id": patient_id,
        "conversation_id": conversation_id,
        "detail": jsonable(detail),
    }


def message_values(
    *,
    at: datetime,
    conversation_id: str | None,
    direction: str,
    channel: str,
    body: str,
    provider_sid: str | None,
    status: str | None,
    error_code: str | int | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id("msg_"),
        "conversation_id": conversation_id,
        "direction": direction,
        "channel": channel,
        "body": body,
        "provider_sid": provider_sid,
        "status": status,
        "error_code": None if error_code is None else str(error_code),
        "created_at": at,
    }


def attempt_values(
    *,
    at: datetime,
    channel: str,
    to: str,
    patient_id: str | None,
    guarantor_id: str | None,
    direction: str,
    counted: bool,
    conversation: bool = False,
    with_consent: bool = False,
    provider_sid: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id("att_"),
        "patient_id": patient_id,
        "guarantor_id": guarantor_id,
        "channel": channel,
        "to": to,
        "direction": direction,
        "at": at,
        "counted": counted,
        "conversation": conversation,
        "with_consent": with_consent,
        "provider_sid": provider_sid,
        "status": status,
    }


def conversation_values(conv: Conversation, now: datetime) -> dict[str, Any]:
    """The full `to_json()` plus the denormalised columns queries use."""
    st = conv.state
    return {
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


def outbox_values(req: PmsWrite, *, now: datetime, conversation_id: str | None) -> dict[str, Any]:
    """The outbox row for a PMS write (note carrying its idempotency marker)."""
    req = with_marker(req)
    payload = encode(req)
    return {
        "id": new_id("obx_"),
        "kind": payload["kind"],
        "idempotency_key": req.idempotency_key,
        "marker": marker_for(req.idempotency_key),
        "payload": payload,
        "conversation_id": conversation_id,
        "state": "PENDING",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
        "_subject": getattr(req, "patient_id", None) or getattr(req, "guarantor_id", None),
    }


# ---- statements (built once per dialect) ----------------------------------------------------------


def _insert(dialect: str, model: type[Any]) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(model.__table__)
    if dialect == "sqlite":
        return sqlite.insert(model.__table__)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


@dataclass(frozen=True)
class Statements:
    audit: Insert
    message_once: Any  # INSERT … ON CONFLICT (provider_sid) DO NOTHING
    attempt_once: Any
    outbox_once: Any  # ON CONFLICT (idempotency_key) DO NOTHING
    ledger: Insert
    conversation_upsert: Any  # by id; started_at kept, ended_at set once


@cache
def statements(dialect: str) -> Statements:
    conv = _insert(dialect, ConversationRow)
    table = ConversationRow.__table__
    ended = case(
        (conv.excluded.ended_at.is_(None), None),
        else_=func.coalesce(table.c.ended_at, conv.excluded.ended_at),
    )
    keep = {"id", "started_at", "ended_at"}
    changes = {c.name: conv.excluded[c.name] for c in table.columns if c.name not in keep}
    return Statements(
        audit=insert(AuditEventRow),
        message_once=_insert(dialect, MessageRow).on_conflict_do_nothing(index_elements=["provider_sid"]),
        attempt_once=_insert(dialect, ContactAttemptRow).on_conflict_do_nothing(
            index_elements=["provider_sid"]
        ),
        outbox_once=_insert(dialect, OutboxRow).on_conflict_do_nothing(index_elements=["idempotency_key"]),
        ledger=insert(ConsentEntryRow),
        conversation_upsert=conv.on_conflict_do_update(
            index_elements=["id"], set_=changes | {"ended_at": ended}
        ),
    )


def table_of(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def statements_for(conn: AsyncConnection) -> Statements:
    return statements(conn.dialect.name)


async def insert_once(conn: AsyncConnection, stmt: Any, values: dict[str, Any]) -> bool:
    """Execute an INSERT … ON CONFLICT DO NOTHING; True if the row was inserted."""
    result: Any = await conn.execute(stmt, values)
    return bool(result.rowcount == 1)


# ---- batches ------------------------------------------------------------------------------------


@dataclass
class WriteBatch:
    """Rows to write together, in one transaction, in this order: conversation, messages, attempts,
    ledger entries, PMS writes (each with its `pms_write.queued` audit if new), audit events."""

    at: datetime
    actor: str = "agent"
    conversation: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def audit(
        self,
        kind: str,
        *,
        patient_id: str | None,
        conversation_id: str | None,
        detail: dict[str, Any],
        at: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        self.audits.append(
            audit_values(
                kind,
                at=at or self.at,
                actor=actor or self.actor,
                patient_id=patient_id,
                conversation_id=conversation_id,
                detail=detail,
            )
        )

    def save_conversation(self, conv: Conversation) -> None:
        self.conversation = conversation_values(conv, self.at)

    def message(self, **kw: Any) -> None:
        self.messages.append(message_values(at=self.at, **kw))

    def attempt(self, **kw: Any) -> None:
        self.attempts.append(attempt_values(at=self.at, **kw))

    def ledger_entry(
        self,
        *,
        patient_id: str | None,
        value: str | None,
        scope: str,
        action: str,
        basis: str | None,
        reason: str | None,
        source: str,
    ) -> None:
        """A consent-ledger entry and its `consent.<action>` audit (only the last 4 digits of the value)."""
        if patient_id is None and value is None:
            raise ValueError("a consent-ledger entry needs a patient_id or a contact value")
        self.ledger.append(
            {
                "id": new_id("cl_"),
                "patient_id": patient_id,
                "value": normalise_value(value),
                "scope": scope,
                "action": action,
                "basis": basis,
                "reason": reason,
                "source": source,
                "at": self.at,
            }
        )
        detail = {
            "scope": scope,
            "source": source,
            "reason": reason,
            "basis": basis,
            "value_suffix": (value or "")[-4:] or None,
        }
        self.audit(f"consent.{action}", patient_id=patient_id, conversation_id=None, detail=detail)

    def pms_write(self, req: PmsWrite, *, conversation_id: str | None) -> None:
        self.outbox.append(outbox_values(req, now=self.at, conversation_id=conversation_id))

    def empty(self) -> bool:
        return not (
            self.conversation or self.messages or self.attempts or self.ledger or self.outbox or self.audits
        )


async def write_batch(conn: AsyncConnection, batch: WriteBatch) -> None:
    """Write `batch` on `conn` (the caller owns the transaction)."""
    st = statements_for(conn)
    if batch.conversation is not None:
        await conn.execute(st.conversation_upsert, batch.conversation)
    for m in batch.messages:
        await conn.execute(st.message_once, m)
    for a in batch.attempts:
        await conn.execute(st.attempt_once, a)
    if batch.ledger:
        await conn.execute(st.ledger, batch.ledger)
    audits = list(batch.audits)
    for row in batch.outbox:
        if await insert_once(conn, st.outbox_once, outbox_row(row)):
            audits.append(queued_audit(batch, row))
    if audits:
        await conn.execute(st.audit, audits)


def outbox_row(row: dict[str, Any]) -> dict[str, Any]:
    """An outbox row without its private keys (``_subject``)."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def queued_audit(batch: WriteBatch, row: dict[str, Any]) -> dict[str, Any]:
    """The audit event of a PMS write queued on the outbox."""
    return audit_values(
        "pms_write.queued",
        at=batch.at,
        actor=batch.actor,
        patient_id=row["_subject"],
        conversation_id=row["conversation_id"],
        detail={"kind": row["kind"], "outbox_id": row["id"], "marker": row["marker"]},
    )

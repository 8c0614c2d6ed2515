"""A `WriteBatch` as ONE PostgreSQL statement, from a template cached per batch shape.

A batch written as a chain of data-modifying CTEs is atomic on its own: run in autocommit it is a
single round trip instead of BEGIN + one per table + COMMIT. The statement depends only on the
batch's *shape* (which rows, with which columns, in which order), never on its values: every value
is a named bind parameter. So the statement object is built once per shape here, and SQLAlchemy
compiles it once (a statement built per call with the values inside, or a multi-row VALUES, has no
cache key and is compiled again on every execution: ~13% of the SMS path's CPU before this).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, case, func, literal, select
from sqlalchemy.dialects import postgresql

from agent.store.models import (
    AuditEventRow,
    ConsentEntryRow,
    ContactAttemptRow,
    ConversationRow,
    MessageRow,
    OutboxRow,
)
from agent.store.writes import WriteBatch, outbox_row, queued_audit, table_of

Params = dict[str, Any]
# One row of a batch: its section and its columns, in the order written.
Shape = tuple[tuple[str, tuple[str, ...]], ...]

_TABLES: dict[str, type[Any]] = {
    "conv": ConversationRow,
    "msg": MessageRow,
    "att": ContactAttemptRow,
    "led": ConsentEntryRow,
    "obx": OutboxRow,
    "qa": AuditEventRow,  # the pms_write.queued audit of the outbox row just before it
    "aud": AuditEventRow,
}
_CONFLICT = {"msg": "provider_sid", "att": "provider_sid", "obx": "idempotency_key"}


def _binds(table: Table, prefix: str, cols: tuple[str, ...]) -> dict[str, Any]:
    return {c: bindparam(f"{prefix}_{c}", type_=table.c[c].type) for c in cols}


def _params(rows: list[tuple[str, dict[str, Any]]]) -> tuple[Shape, Params]:
    shape = tuple((kind, tuple(row)) for kind, row in rows)
    params = {f"p{i}_{c}": v for i, (_, row) in enumerate(rows) for c, v in row.items()}
    return shape, params


def _upsert_conversation(ins: Any, cols: tuple[str, ...]) -> Any:
    """Upsert by id: the given columns but id / started_at replaced, ended_at set once."""
    table = table_of(ConversationRow)
    ended = case(
        (ins.excluded.ended_at.is_(None), None),
        else_=func.coalesce(table.c.ended_at, ins.excluded.ended_at),
    )
    keep = {"id", "started_at", "ended_at"}
    changes = {c: ins.excluded[c] for c in cols if c not in keep}
    return ins.on_conflict_do_update(index_elements=["id"], set_=changes | {"ended_at": ended})


def _on_conflict(stmt: Any, kind: str, cols: tuple[str, ...]) -> Any:
    """The conflict rule of a row of this kind (the same as `write_batch`'s statements)."""
    if kind == "conv":
        return _upsert_conversation(stmt, cols)
    if kind in _CONFLICT:
        return stmt.on_conflict_do_nothing(index_elements=[_CONFLICT[kind]])
    return stmt


def insert_when(table: Table, exprs: dict[str, Any], gate: Any) -> Any:
    """INSERT INTO `table` SELECT `exprs` FROM `gate`: one row if `gate` (the CTE of a data-modifying
    statement's RETURNING) returned one, none if it did not."""
    source = select(*(e.label(c) for c, e in exprs.items())).select_from(gate)
    return postgresql.insert(table).from_select(list(exprs), source)


def _batch_rows(batch: WriteBatch) -> list[tuple[str, dict[str, Any]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    if batch.conversation is not None:
        rows.append(("conv", batch.conversation))
    rows += [("msg", m) for m in batch.messages]
    rows += [("att", a) for a in batch.attempts]
    rows += [("led", e) for e in batch.ledger]
    for row in batch.outbox:
        rows += [("obx", outbox_row(row)), ("qa", queued_audit(batch, row))]
    rows += [("aud", a) for a in batch.audits]
    return rows


def one_statement(batch: WriteBatch) -> tuple[Any, Params]:
    """The whole batch as one statement and its parameters. Same rows and conflict rules as
    `write_batch`; a queued PMS write's audit is inserted only if its outbox row was (the audit
    CTE selects from the outbox CTE's RETURNING)."""
    shape, params = _params(_batch_rows(batch))
    return _one_template(shape), params


@lru_cache(maxsize=256)
def _one_template(shape: Shape) -> Any:
    ctes: list[Any] = []
    last_outbox: Any = None
    for i, (kind, cols) in enumerate(shape):
        table = table_of(_TABLES[kind])
        binds = _binds(table, f"p{i}", cols)
        if kind == "qa":
            stmt = insert_when(table, binds, last_outbox)
        else:
            stmt = _on_conflict(postgresql.insert(table).values(binds), kind, cols)
        cte = stmt.returning(table.c.id).cte(f"w{i}")
        if kind == "obx":
            last_outbox = cte
        ctes.append(cte)
    return select(literal(1)).add_cte(*ctes)


def gated_statement(message: dict[str, Any], batch: WriteBatch) -> tuple[Any, Params]:
    """One statement: insert `message` (ON CONFLICT (provider_sid) DO NOTHING) and, only if it was
    inserted, the batch's conversation, attempts and audit events. Its scalar result is 1 if the
    message was new, else 0 (a replay: nothing written)."""
    rows: list[tuple[str, dict[str, Any]]] = [("msg", message)]
    if batch.conversation is not None:
        rows.append(("conv", batch.conversation))
    rows += [("att", a) for a in batch.attempts]
    rows += [("aud", a) for a in batch.audits]
    shape, params = _params(rows)
    return _gated_template(shape), params


@lru_cache(maxsize=256)
def _gated_template(shape: Shape) -> Any:
    (_, msg_cols), *rest = shape
    messages = table_of(MessageRow)
    gate = (
        postgresql.insert(messages)
        .values(_binds(messages, "p0", msg_cols))
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(messages.c.id)
        .cte("m")
    )
    ctes: list[Any] = []
    for i, (kind, cols) in enumerate(rest, start=1):
        table = table_of(_TABLES[kind])
        stmt = _on_conflict(insert_when(table, _binds(table, f"p{i}", cols), gate), kind, cols)
        ctes.append(stmt.returning(table.c.id).cte(f"g{i}"))
    return select(func.count()).select_from(gate).add_cte(*ctes)

"""PostgreSQL: a comm-log write-back as ONE statement (the most frequent write: one per text).

The generic path (`writes.run`) is BEGIN, claim the key, look up the guarantor, insert the note, bump
the change sequence, record the change, COMMIT: seven round trips. Here the same steps are
data-modifying CTEs of one statement run in autocommit, with the same rules: the key is claimed only
for a known patient (ON CONFLICT DO NOTHING: a repeat or a concurrent twin claims nothing, and then
nothing else happens), and the sequence row is locked until the statement commits, so numbers are
still issued in commit order.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from pms.local.models import changes, comm_log, patients, practices, writes

_NOTE_COLS = ("practice_id", "comm_id", "patient_id", "at", "mode", "direction", "note")


def _bind(column: sa.Column[Any]) -> Any:
    # Prefixed: an execution parameter named like a column of the UPDATE below (practice_id)
    # would otherwise be taken as a value to SET.
    return sa.bindparam(f"w_{column.name}", type_=column.type)


@cache
def comm_log_statement() -> Any:
    """Returns one row: (claimed: 0 or 1, guarantor_id or NULL for an unknown patient)."""
    pid, patient_id = _bind(patients.c.practice_id), _bind(patients.c.patient_id)
    patient = (
        sa.select(patients.c.guarantor_id)
        .where(patients.c.practice_id == pid, patients.c.patient_id == patient_id)
        .cte("p")
    )
    claim = (
        postgresql.insert(writes)
        .from_select(
            ["practice_id", "idempotency_key", "kind", "record_id", "created_at"],
            sa.select(
                pid,
                _bind(writes.c.idempotency_key),
                _bind(writes.c.kind),
                _bind(writes.c.record_id),
                _bind(writes.c.created_at),
            ).select_from(patient),
        )
        .on_conflict_do_nothing(index_elements=[writes.c.practice_id, writes.c.idempotency_key])
        .returning(writes.c.practice_id, writes.c.record_id)
        .cte("k")
    )
    values = [
        pid,
        claim.c.record_id,
        patient_id,
        _bind(comm_log.c.at),
        _bind(comm_log.c.mode),
        _bind(comm_log.c.direction),
        _bind(comm_log.c.note),
    ]
    note = (
        sa.insert(comm_log)
        .from_select(list(_NOTE_COLS), sa.select(*values).select_from(claim))
        .returning(comm_log.c.comm_id)
        .cte("c")
    )
    seq = (
        sa.update(practices)
        .where(practices.c.practice_id == claim.c.practice_id)
        .values(change_seq=practices.c.change_seq + sa.literal_column("1"))
        .returning(practices.c.change_seq)
        .cte("s")
    )
    change = (
        sa.insert(changes)
        .from_select(
            ["practice_id", "seq", "guarantor_id"],
            sa.select(pid, seq.c.change_seq, patient.c.guarantor_id)
            .select_from(seq)
            .join(patient, sa.true()),
        )
        .returning(changes.c.seq)
        .cte("ch")
    )
    claimed = sa.select(sa.func.count()).select_from(claim).scalar_subquery()
    guarantor = sa.select(patient.c.guarantor_id).scalar_subquery()
    return sa.select(claimed.label("claimed"), guarantor.label("guarantor_id")).add_cte(
        claim, note, seq, change
    )


async def write_comm_log(engine: AsyncEngine, values: dict[str, Any]) -> tuple[bool, str | None]:
    """Run the statement in autocommit: (claimed now, guarantor id or None). `values` by column name."""
    params = {f"w_{k}": v for k, v in values.items()}
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        row = (await conn.execute(comm_log_statement(), params)).one()
    return bool(row.claimed), row.guarantor_id

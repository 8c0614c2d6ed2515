"""The per-practice change sequence behind `changes_since`.

Every write increments `pms_practices.change_seq` inside its own transaction and records the
guarantors it touched under the new number. The counter lives on one row, so concurrent writers to
a practice take turns on it until they commit: sequence numbers are then issued in commit order and
a reader holding cursor N can never later see a commit numbered ≤ N appear. Bump it as the last
statement of a write so the row is held only briefly.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pms.local.models import accounts, changes, patients, practices
from pms.types import ChangeSet


async def bump(conn: AsyncConnection, practice_id: str, guarantor_ids: Iterable[str]) -> int:
    """Take the next sequence number and record `guarantor_ids` under it. Returns the number."""
    seq = (
        await conn.execute(
            sa.update(practices)
            .where(practices.c.practice_id == practice_id)
            .values(change_seq=practices.c.change_seq + 1)
            .returning(practices.c.change_seq)
        )
    ).scalar_one()
    ids = sorted(set(guarantor_ids))
    if ids:
        await conn.execute(
            changes.insert(), [{"practice_id": practice_id, "seq": seq, "guarantor_id": g} for g in ids]
        )
    return int(seq)


def _parse(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        value = int(cursor)
    except ValueError:
        return None  # an unreadable cursor means "start over": over-report rather than miss a change
    return value if value >= 0 else None


async def since(conn: AsyncConnection, practice_id: str, cursor: str | None) -> ChangeSet:
    """Guarantors changed after `cursor` (None or unreadable = every guarantor) and the new cursor."""
    current = (
        await conn.execute(sa.select(practices.c.change_seq).where(practices.c.practice_id == practice_id))
    ).scalar_one_or_none() or 0
    after = _parse(cursor)
    if after is None:
        rows = await conn.execute(
            sa.union(
                sa.select(accounts.c.guarantor_id.label("g")).where(accounts.c.practice_id == practice_id),
                sa.select(patients.c.guarantor_id.label("g")).where(patients.c.practice_id == practice_id),
            )
        )
    else:
        rows = await conn.execute(
            sa.select(changes.c.guarantor_id)
            .where(
                changes.c.practice_id == practice_id,
                changes.c.seq > after,
                changes.c.seq <= current,
            )
            .distinct()
        )
    return ChangeSet(guarantor_ids=sorted({r[0] for r in rows}), cursor=str(current))

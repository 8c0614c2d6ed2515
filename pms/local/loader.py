"""Bulk loading of a `PracticeSnapshot` into the local PMS tables (one transaction, executemany).

`replace=True` wipes the practice's rows (including write-back keys and change history) first.
`replace=False` upserts by primary key, so re-importing the same export never duplicates rows.
An upsert keeps what must never be lost to a re-import: a "no" SMS/email consent on the same
contact value, do-not-call, and account flags (an import can add flags; `set_flag` removes them).
It does not erase what it does not know: a person given without contacts keeps the stored ones,
and a NULL patient field (birth date, time zone, …) keeps the stored value. Account rows are
taken whole: they are the export's current aging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from pms.local import convert, sequence
from pms.local.models import (
    DATA_TABLES,
    accounts,
    appointments,
    changes,
    claims,
    comm_log,
    contact_points,
    ledger_lines,
    patients,
    payment_plans,
    payments,
    practices,
    promises,
    writes,
)
from pms.snapshot import PracticeSnapshot
from pms.types import ZERO, AccountSummary, Patient, PracticeInfo

Progress = Callable[[int, int], None]
CHUNK = 2000
_ZERO_AGING = {
    "bal_0_30": ZERO,
    "bal_31_60": ZERO,
    "bal_61_90": ZERO,
    "bal_over_90": ZERO,
    "total": ZERO,
    "insurance_estimate": ZERO,
    "writeoff_estimate": ZERO,
    "patient_balance": ZERO,
    "payplan_due": ZERO,
    "balance_since": None,
}


def _dedupe(rows: Iterable[dict[str, Any]], table: sa.Table) -> list[dict[str, Any]]:
    """Last row wins per primary key (an upsert statement may not touch one row twice)."""
    keys = [c.name for c in table.primary_key.columns]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in keys)] = row
    return list(out.values())


def _records(practice_id: str, table: sa.Table, objs: Iterable[Any]) -> list[dict[str, Any]]:
    columns = frozenset(table.c.keys())
    return _dedupe((convert.value_row(practice_id, obj, columns) for obj in objs), table)


def _upsert(dialect: str, table: sa.Table, *, keep_known: bool) -> Any:
    """INSERT … ON CONFLICT (primary key) DO UPDATE. With `keep_known`, an incoming NULL keeps the
    stored value of a nullable column (an aging-only import must not erase a birth date)."""
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"upsert is implemented for SQLite and PostgreSQL, not {dialect}")
    pk = [c.name for c in table.primary_key.columns]
    set_ = {
        c.name: sa.func.coalesce(stmt.excluded[c.name], c)
        if keep_known and c.nullable
        else stmt.excluded[c.name]
        for c in table.columns
        if c.name not in pk
    }
    return stmt.on_conflict_do_update(index_elements=pk, set_=set_)


class _Writer:
    """Inserts rows in chunks and reports progress as (rows done, rows total)."""

    def __init__(self, conn: AsyncConnection, total: int, progress: Progress | None) -> None:
        self.conn, self.total, self.progress, self.done = conn, total, progress, 0

    async def put(self, table: sa.Table, rows: Sequence[dict[str, Any]], *, upsert: bool) -> None:
        if upsert:
            stmt = _upsert(self.conn.dialect.name, table, keep_known=table is patients)
        else:
            stmt = table.insert()
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            await self.conn.execute(stmt, list(chunk))
            self.done += len(chunk)
            if self.progress is not None:
                self.progress(self.done, self.total)


async def ensure_practice(
    conn: AsyncConnection, practice_id: str, info: PracticeInfo | None, as_of: Any
) -> None:
    """Create the practice row if missing (keeping its change counter), else refresh its details."""
    now = datetime.now(UTC)
    exists = (
        await conn.execute(sa.select(practices.c.practice_id).where(practices.c.practice_id == practice_id))
    ).first()
    values: dict[str, Any] = {"loaded_at": now}
    if info is not None:
        values.update(name=info.name, timezone=info.timezone, phone=info.phone)
    if as_of is not None:
        values["as_of"] = as_of
    if exists is None:
        values.setdefault("name", practice_id)
        values.setdefault("timezone", "UTC")
        await conn.execute(practices.insert().values(practice_id=practice_id, change_seq=0, **values))
    else:
        await conn.execute(
            sa.update(practices).where(practices.c.practice_id == practice_id).values(**values)
        )


async def _wipe(conn: AsyncConnection, practice_id: str) -> None:
    for table in (*DATA_TABLES, writes, changes):
        await conn.execute(sa.delete(table).where(table.c.practice_id == practice_id))


async def _keep_sticky(
    conn: AsyncConnection,
    practice_id: str,
    patient_rows: list[dict[str, Any]],
    contact_rows: list[dict[str, Any]],
    account_rows: list[dict[str, Any]],
) -> None:
    """Carry opt-outs and account flags already stored over into rows about to be upserted."""
    ids = [r["patient_id"] for r in patient_rows]
    with_contacts = {r["patient_id"] for r in contact_rows}
    opted_out: set[tuple[str, str]] = set()
    dnc: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        for pid, value in await conn.execute(
            sa.select(contact_points.c.patient_id, contact_points.c.value).where(
                contact_points.c.practice_id == practice_id,
                contact_points.c.patient_id.in_(part),
                contact_points.c.consent == "no",
            )
        ):
            opted_out.add((pid, value))
        dnc.update(
            (
                await conn.execute(
                    sa.select(patients.c.patient_id).where(
                        patients.c.practice_id == practice_id,
                        patients.c.patient_id.in_(part),
                        patients.c.do_not_call.is_(True),
                    )
                )
            ).scalars()
        )
        replaced = [pid for pid in part if pid in with_contacts]  # no contacts given: keep the stored ones
        await conn.execute(
            sa.delete(contact_points).where(
                contact_points.c.practice_id == practice_id, contact_points.c.patient_id.in_(replaced)
            )
        )
    for row in contact_rows:
        if (row["patient_id"], row["value"]) in opted_out:
            row["consent"] = "no"
    for row in patient_rows:
        row["do_not_call"] = row["do_not_call"] or row["patient_id"] in dnc
    gids = [r["guarantor_id"] for r in account_rows]
    stored: dict[str, list[str]] = {}
    for start in range(0, len(gids), CHUNK):
        for gid, flags in await conn.execute(
            sa.select(accounts.c.guarantor_id, accounts.c.flags).where(
                accounts.c.practice_id == practice_id,
                accounts.c.guarantor_id.in_(gids[start : start + CHUNK]),
            )
        ):
            stored[gid] = list(flags or ())
    for row in account_rows:
        row["flags"] = sorted(set(row["flags"]) | set(stored.get(row["guarantor_id"], ())))


async def _zero_missing(conn: AsyncConnection, practice_id: str, present: set[str]) -> set[str]:
    """Zero the balances of accounts absent from a full aging export (paid off since the last one)."""
    rows = await conn.execute(
        sa.select(accounts.c.guarantor_id).where(
            accounts.c.practice_id == practice_id,
            sa.or_(accounts.c.total != 0, accounts.c.patient_balance != 0),
        )
    )
    missing = {g for g in rows.scalars() if g not in present}
    ids = sorted(missing)
    now = datetime.now(UTC)
    for start in range(0, len(ids), CHUNK):
        await conn.execute(
            sa.update(accounts)
            .where(
                accounts.c.practice_id == practice_id, accounts.c.guarantor_id.in_(ids[start : start + CHUNK])
            )
            .values(updated_at=now, **_ZERO_AGING)
        )
    return missing


async def load(
    conn: AsyncConnection,
    practice_id: str,
    snapshot: PracticeSnapshot,
    *,
    replace: bool,
    zero_missing: bool = False,
    progress: Progress | None = None,
) -> None:
    """Write `snapshot` under `practice_id` inside the caller's transaction."""
    now = datetime.now(UTC)
    people: dict[str, Patient] = {a.guarantor.patient_id: a.guarantor for a in snapshot.accounts}
    people.update((p.patient_id, p) for p in snapshot.patients)
    patient_rows = _dedupe((convert.patient_row(practice_id, p, now) for p in people.values()), patients)
    contact_rows = [row for p in people.values() for row in convert.contact_rows(practice_id, p)]
    account_rows = _dedupe((convert.account_row(practice_id, a, now) for a in snapshot.accounts), accounts)
    others: list[tuple[sa.Table, list[dict[str, Any]]]] = [
        (table, _records(practice_id, table, objs))
        for table, objs in (
            (ledger_lines, snapshot.ledger),
            (claims, snapshot.claims),
            (payments, snapshot.payments),
            (payment_plans, snapshot.plans),
            (promises, snapshot.promises),
            (appointments, snapshot.appointments),
            (comm_log, snapshot.comms),
        )
    ]
    total = len(patient_rows) + len(contact_rows) + len(account_rows) + sum(len(r) for _, r in others)

    await ensure_practice(conn, practice_id, snapshot.practice, snapshot.as_of)
    if replace:
        await _wipe(conn, practice_id)
    else:
        await _keep_sticky(conn, practice_id, patient_rows, contact_rows, account_rows)
    touched = {r["guarantor_id"] for r in patient_rows} | {r["guarantor_id"] for r in account_rows}
    for _, rows in others:
        for r in rows:
            if "guarantor_id" in r:
                touched.add(r["guarantor_id"])
            elif r.get("patient_id") in people:
                touched.add(people[r["patient_id"]].guarantor_id)
    if zero_missing:
        touched |= await _zero_missing(conn, practice_id, {r["guarantor_id"] for r in account_rows})

    writer = _Writer(conn, total, progress)
    upsert = not replace
    await writer.put(patients, patient_rows, upsert=upsert)
    await writer.put(contact_points, contact_rows, upsert=False)  # old ones were deleted above
    await writer.put(accounts, account_rows, upsert=upsert)
    for table, rows in others:
        await writer.put(table, rows, upsert=upsert)
    if progress is not None and total == 0:
        progress(0, 0)
    await sequence.bump(conn, practice_id, touched)


def accounts_snapshot(
    practice: PracticeInfo, accounts_: Sequence[AccountSummary], patients_: Sequence[Patient]
) -> PracticeSnapshot:
    as_of = next((a.aging.as_of for a in accounts_ if a.aging.as_of is not None), None)
    return PracticeSnapshot(
        practice=practice,
        as_of=as_of or datetime.now(UTC).date(),
        patients=list(patients_),
        accounts=list(accounts_),
    )

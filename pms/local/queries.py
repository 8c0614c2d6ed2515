"""Read helpers shared by `LocalPms`: practice-scoped row fetches and Patient assembly."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pms.local import convert
from pms.local.models import accounts, contact_points, patients
from pms.types import ContactPoint, Patient


async def rows(conn: AsyncConnection, query: sa.Select[Any]) -> Sequence[sa.RowMapping]:
    return (await conn.execute(query)).mappings().all()


async def first(conn: AsyncConnection, query: sa.Select[Any]) -> sa.RowMapping | None:
    return (await conn.execute(query)).mappings().first()


def family_ids(practice_id: str, guarantor_id: str) -> sa.ScalarSelect[Any]:
    """Subquery: the ids of everyone whose guarantor is `guarantor_id`."""
    return (
        sa.select(patients.c.patient_id)
        .where(patients.c.practice_id == practice_id, patients.c.guarantor_id == guarantor_id)
        .scalar_subquery()
    )


def account_filter(practice_id: str, has_balance: bool) -> list[sa.ColumnElement[bool]]:
    """Accounts of the practice; with `has_balance`, only those owing (a credit balance owes nothing)."""
    cond = [accounts.c.practice_id == practice_id]
    if has_balance:
        cond.append(accounts.c.patient_balance > 0)
    return cond


async def count_accounts(conn: AsyncConnection, practice_id: str, has_balance: bool) -> int:
    query = sa.select(sa.func.count()).select_from(accounts).where(*account_filter(practice_id, has_balance))
    return int((await conn.execute(query)).scalar_one())


_CONTACT_COLS = ("channel", "value", "kind", "consent", "is_preferred", "raw")


async def load_patients(
    conn: AsyncConnection, practice_id: str, *cond: sa.ColumnElement[bool]
) -> list[Patient]:
    """Patients matching `cond` (ordered by id) with their contact points, in one query (a LEFT
    JOIN: one row per contact point, or one row of NULLs for a patient with none)."""
    cp = contact_points
    query = (
        sa.select(patients, cp.c.id.label("cp_id"), *(cp.c[c].label(f"cp_{c}") for c in _CONTACT_COLS))
        .select_from(
            patients.outerjoin(
                cp,
                sa.and_(cp.c.practice_id == patients.c.practice_id, cp.c.patient_id == patients.c.patient_id),
            )
        )
        .where(patients.c.practice_id == practice_id, *cond)
        .order_by(patients.c.patient_id, cp.c.position, cp.c.id)
    )
    found: dict[str, sa.RowMapping] = {}
    contacts: dict[str, list[ContactPoint]] = defaultdict(list)
    for r in await rows(conn, query):
        pid = r["patient_id"]
        found.setdefault(pid, r)
        if r["cp_id"] is not None:
            contacts[pid].append(convert.contact_from_row({c: r[f"cp_{c}"] for c in _CONTACT_COLS}))
    return [convert.patient_from_row(r, contacts[pid]) for pid, r in found.items()]

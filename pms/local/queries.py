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


async def load_patients(
    conn: AsyncConnection, practice_id: str, *cond: sa.ColumnElement[bool]
) -> list[Patient]:
    """Patients matching `cond` (ordered by id) with their contact points, in two queries."""
    found = await rows(
        conn,
        sa.select(patients)
        .where(patients.c.practice_id == practice_id, *cond)
        .order_by(patients.c.patient_id),
    )
    if not found:
        return []
    cp = contact_points
    contacts: dict[str, list[ContactPoint]] = defaultdict(list)
    query = (
        sa.select(cp)
        .where(cp.c.practice_id == practice_id, cp.c.patient_id.in_([r["patient_id"] for r in found]))
        .order_by(cp.c.patient_id, cp.c.position, cp.c.id)
    )
    for c in await rows(conn, query):
        contacts[c["patient_id"]].append(convert.contact_from_row(c))
    return [convert.patient_from_row(r, contacts[r["patient_id"]]) for r in found]

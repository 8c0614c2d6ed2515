"""Idempotent write-backs of the local PMS.

Each write is one transaction whose first statement inserts (practice, idempotency_key) into
`pms_writes` (ON CONFLICT DO NOTHING). The primary key makes a concurrent or repeated write with the
same key stop there, before it touches anything else; it rolls back and answers `already_exists`
with the id the first one recorded. The change sequence is bumped last (see `sequence`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pms.local import aging, convert, pg_writes, sequence
from pms.local.models import (
    accounts,
    comm_log,
    contact_points,
    ledger_lines,
    patients,
    payment_plans,
    payments,
    promises,
    writes,
)
from pms.types import (
    ZERO,
    CommLogWrite,
    ContactPreferenceWrite,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
    WriteResult,
)

Body = Callable[[AsyncConnection, str], Awaitable[set[str]]]
_METHODS = frozenset({"card", "check", "cash", "portal", "ach", "other"})
_FREQUENCIES = frozenset({"weekly", "every_other_week", "monthly", "quarterly"})


class Refused(Exception):
    """The request cannot be recorded (unknown patient, bad amount); nothing is written."""


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def existing_write(engine: AsyncEngine, practice_id: str, key: str) -> tuple[str, str] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(writes.c.kind, writes.c.record_id).where(
                    writes.c.practice_id == practice_id, writes.c.idempotency_key == key
                )
            )
        ).first()
    return None if row is None else (row[0], row[1])


def _repeat(found: tuple[str, str], kind: str, key: str) -> WriteResult:
    if found[0] != kind:
        return WriteResult(
            "failed", message=f"idempotency key {key!r} was already used for a {found[0]} write"
        )
    return WriteResult("already_exists", found[1])


async def run(
    engine: AsyncEngine, practice_id: str, key: str, kind: str, record_id: str, body: Body
) -> WriteResult:
    """Perform `body` once per (practice, key); `body` returns the guarantor ids it touched.

    A database that cannot be reached gives `failed` (retry later: the key makes retries safe).
    """
    return await _guarded(key, lambda: _run_once(engine, practice_id, key, kind, record_id, body))


async def write_comm_log(engine: AsyncEngine, practice_id: str, req: CommLogWrite) -> WriteResult:
    """A comm-log note: on PostgreSQL one statement (`pg_writes`), elsewhere `run`; same results."""
    if req.at.tzinfo is None:
        return WriteResult("failed", message="the comm log time must be timezone-aware")
    record_id = new_id("comm")
    if engine.dialect.name != "postgresql":
        body = comm_log_body(practice_id, req)
        return await run(engine, practice_id, req.idempotency_key, "comm_log", record_id, body)
    return await _guarded(req.idempotency_key, lambda: _comm_log_once(engine, practice_id, req, record_id))


async def _guarded(key: str, attempt: Callable[[], Awaitable[WriteResult]]) -> WriteResult:
    """A write needs a key; a database that cannot be reached answers `failed`."""
    if not key:
        return WriteResult("failed", message="an idempotency key is required")
    try:
        return await attempt()
    except (DBAPIError, SATimeoutError, OSError) as exc:
        return WriteResult("failed", message=f"database error: {type(exc).__name__}")


async def _answer_repeat(
    engine: AsyncEngine, practice_id: str, key: str, kind: str, if_missing: str
) -> WriteResult:
    """The key was taken: answer from the write recorded under it (`if_missing`: there is none)."""
    found = await existing_write(engine, practice_id, key)
    if found is None:
        return WriteResult("failed", message=if_missing)
    return _repeat(found, kind, key)


async def _comm_log_once(
    engine: AsyncEngine, practice_id: str, req: CommLogWrite, record_id: str
) -> WriteResult:
    values = {
        "practice_id": practice_id,
        "patient_id": req.patient_id,
        "idempotency_key": req.idempotency_key,
        "kind": "comm_log",
        "record_id": record_id,
        "created_at": datetime.now(UTC),
        "at": req.at,
        "mode": req.mode,
        "direction": req.direction,
        "note": req.note,
    }
    claimed, guarantor = await pg_writes.write_comm_log(engine, values)
    if guarantor is None:
        return WriteResult("failed", message=f"unknown patient {req.patient_id!r}")
    if claimed:
        return WriteResult("created", record_id)
    # None recorded: the write that held the key rolled back, so the key is free again.
    released = "the idempotency key was released meanwhile; retry"
    return await _answer_repeat(engine, practice_id, req.idempotency_key, "comm_log", released)


class _Repeated(Exception):
    """The key is already recorded: roll back, then answer from the recorded write."""


async def _run_once(
    engine: AsyncEngine, practice_id: str, key: str, kind: str, record_id: str, body: Body
) -> WriteResult:
    try:
        async with engine.begin() as conn:
            # The key first: a repeated or concurrent write with it stops here (after the first
            # one commits), before it touches anything else.
            claimed = await conn.execute(
                _insert_once(conn.dialect.name).values(
                    practice_id=practice_id,
                    idempotency_key=key,
                    kind=kind,
                    record_id=record_id,
                    created_at=datetime.now(UTC),
                )
            )
            if claimed.rowcount != 1:
                raise _Repeated
            touched = await body(conn, record_id)
            await sequence.bump(conn, practice_id, touched)
    except Refused as exc:
        return WriteResult("failed", message=str(exc))
    except (_Repeated, IntegrityError) as exc:
        orig = getattr(exc, "orig", exc)
        return await _answer_repeat(engine, practice_id, key, kind, f"integrity error: {type(orig).__name__}")
    return WriteResult("created", record_id)


def _insert_once(dialect: str) -> Any:
    """INSERT into pms_writes … ON CONFLICT (practice, key) DO NOTHING."""
    ins = postgresql.insert(writes) if dialect == "postgresql" else sqlite.insert(writes)
    return ins.on_conflict_do_nothing(index_elements=[writes.c.practice_id, writes.c.idempotency_key])


# ---- shared look-ups --------------------------------------------------------------------------------


async def guarantor_of(conn: AsyncConnection, practice_id: str, patient_id: str) -> str:
    gid = (
        await conn.execute(
            sa.select(patients.c.guarantor_id).where(
                patients.c.practice_id == practice_id, patients.c.patient_id == patient_id
            )
        )
    ).scalar_one_or_none()
    if gid is None:
        raise Refused(f"unknown patient {patient_id!r}")
    return str(gid)


async def require_guarantor(conn: AsyncConnection, practice_id: str, guarantor_id: str) -> None:
    if await guarantor_of(conn, practice_id, guarantor_id) != guarantor_id:
        raise Refused(f"patient {guarantor_id!r} is not a guarantor")


def _positive(amount: Decimal, what: str) -> Decimal:
    value = convert.money(amount)
    if value <= 0:
        raise Refused(f"{what} must be positive, got {amount}")
    return value


async def _locked_account(conn: AsyncConnection, practice_id: str, guarantor_id: str) -> dict[str, Any]:
    """The account row, locked for this transaction (PostgreSQL); created at zero if missing."""
    where = (accounts.c.practice_id == practice_id, accounts.c.guarantor_id == guarantor_id)
    row = (await conn.execute(sa.select(accounts).where(*where).with_for_update())).mappings().first()
    if row is None:
        await conn.execute(
            accounts.insert().values(
                practice_id=practice_id,
                guarantor_id=guarantor_id,
                bal_0_30=ZERO,
                bal_31_60=ZERO,
                bal_61_90=ZERO,
                bal_over_90=ZERO,
                total=ZERO,
                insurance_estimate=ZERO,
                writeoff_estimate=ZERO,
                patient_balance=ZERO,
                payplan_due=ZERO,
                flags=[],
                open_claims=0,
                updated_at=datetime.now(UTC),
            )
        )
        row = (await conn.execute(sa.select(accounts).where(*where).with_for_update())).mappings().one()
    return dict(row)


# ---- the writes -------------------------------------------------------------------------------------


def comm_log_body(practice_id: str, req: CommLogWrite) -> Body:
    async def body(conn: AsyncConnection, record_id: str) -> set[str]:
        gid = await guarantor_of(conn, practice_id, req.patient_id)  # the time's zone: `write_comm_log`
        await conn.execute(
            comm_log.insert().values(
                practice_id=practice_id,
                comm_id=record_id,
                patient_id=req.patient_id,
                at=req.at,
                mode=req.mode,
                direction=req.direction,
                note=req.note,
            )
        )
        return {gid}

    return body


def promise_body(practice_id: str, req: PromiseWrite) -> Body:
    async def body(conn: AsyncConnection, record_id: str) -> set[str]:
        amount = _positive(req.amount, "a promised amount")
        await require_guarantor(conn, practice_id, req.guarantor_id)
        await conn.execute(
            promises.insert().values(
                practice_id=practice_id,
                promise_id=record_id,
                guarantor_id=req.guarantor_id,
                amount=amount,
                due_on=req.due_on,
                status="open",
                created_at=datetime.now(UTC),
                note=req.note,
            )
        )
        return {req.guarantor_id}

    return body


async def _apply_to_plan(conn: AsyncConnection, practice_id: str, guarantor_id: str, amount: Decimal) -> None:
    plan = (
        (
            await conn.execute(
                sa.select(payment_plans)
                .where(
                    payment_plans.c.practice_id == practice_id,
                    payment_plans.c.guarantor_id == guarantor_id,
                    payment_plans.c.status.in_(("active", "past_due")),
                )
                .order_by(payment_plans.c.first_due, payment_plans.c.plan_id)
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if plan is None:
        return
    total = convert.money(plan["total"])
    paid = min(total, convert.money(plan["paid_to_date"]) + amount)
    await conn.execute(
        sa.update(payment_plans)
        .where(payment_plans.c.practice_id == practice_id, payment_plans.c.plan_id == plan["plan_id"])
        .values(paid_to_date=paid, status="completed" if paid >= total else plan["status"])
    )


def payment_body(practice_id: str, req: PaymentWrite) -> Body:
    async def body(conn: AsyncConnection, record_id: str) -> set[str]:
        amount = _positive(req.amount, "a payment amount")
        if req.method not in _METHODS:
            raise Refused(f"unknown payment method {req.method!r}")
        if not req.processor_ref:
            raise Refused("a payment needs the processor's transaction reference")
        await require_guarantor(conn, practice_id, req.guarantor_id)
        acct = await _locked_account(conn, practice_id, req.guarantor_id)
        before = aging.Buckets(
            **{k: convert.money(acct[k]) for k in ("bal_0_30", "bal_31_60", "bal_61_90", "bal_over_90")},
            total=convert.money(acct["total"]),
            patient_balance=convert.money(acct["patient_balance"]),
            balance_since=acct["balance_since"],
        )
        after = aging.apply_payment(before, amount)
        now = datetime.now(UTC)
        newer = acct["last_payment_date"] is None or req.paid_on >= acct["last_payment_date"]
        payplan_due = convert.money(acct["payplan_due"])
        await conn.execute(
            sa.update(accounts)
            .where(accounts.c.practice_id == practice_id, accounts.c.guarantor_id == req.guarantor_id)
            .values(
                bal_0_30=after.bal_0_30,
                bal_31_60=after.bal_31_60,
                bal_61_90=after.bal_61_90,
                bal_over_90=after.bal_over_90,
                total=after.total,
                patient_balance=after.patient_balance,
                balance_since=after.balance_since,
                payplan_due=max(ZERO, payplan_due - amount),
                last_payment_date=req.paid_on if newer else acct["last_payment_date"],
                last_payment_amount=amount if newer else acct["last_payment_amount"],
                updated_at=now,
            )
        )
        note = req.note or f"{req.method} payment ref {req.processor_ref}"
        await conn.execute(
            payments.insert().values(
                practice_id=practice_id,
                payment_id=record_id,
                guarantor_id=req.guarantor_id,
                amount=amount,
                paid_on=req.paid_on,
                method=req.method,
                processor_ref=req.processor_ref,
                note=note,
                posted_at=now,
            )
        )
        await conn.execute(
            ledger_lines.insert().values(
                practice_id=practice_id,
                line_id=record_id,
                patient_id=req.guarantor_id,
                kind="patient_payment",
                posted_date=req.paid_on,
                amount=-amount,
                description=f"Patient payment ({req.method})",
                insurance_pending=False,
            )
        )
        await _apply_to_plan(conn, practice_id, req.guarantor_id, amount)
        return {req.guarantor_id}

    return body


def plan_body(practice_id: str, req: PaymentPlanWrite) -> Body:
    async def body(conn: AsyncConnection, record_id: str) -> set[str]:
        total = _positive(req.total, "a plan total")
        installment = _positive(req.installment_amount, "an installment amount")
        down = convert.money(req.down_payment)
        if down < 0 or down > total:
            raise Refused(f"the down payment {req.down_payment} must be between 0 and the plan total")
        if req.installments < 1:
            raise Refused("a plan needs at least one installment")
        if req.frequency not in _FREQUENCIES:
            raise Refused(f"unknown plan frequency {req.frequency!r}")
        await require_guarantor(conn, practice_id, req.guarantor_id)
        await conn.execute(
            payment_plans.insert().values(
                practice_id=practice_id,
                plan_id=record_id,
                guarantor_id=req.guarantor_id,
                status="active",
                total=total,
                installment_amount=installment,
                installments=req.installments,
                frequency=req.frequency,
                first_due=req.first_due,
                down_payment=down,
                paid_to_date=ZERO,
                note=req.note,
            )
        )
        return {req.guarantor_id}

    return body


def preferences_body(practice_id: str, req: ContactPreferenceWrite) -> Body:
    async def body(conn: AsyncConnection, record_id: str) -> set[str]:
        gid = await guarantor_of(conn, practice_id, req.patient_id)
        mine = (contact_points.c.practice_id == practice_id, contact_points.c.patient_id == req.patient_id)
        for channel, ok in (("phone", req.sms_ok), ("email", req.email_ok)):
            if ok is not None:
                await conn.execute(
                    sa.update(contact_points)
                    .where(*mine, contact_points.c.channel == channel)
                    .values(consent="yes" if ok else "no")
                )
        now = datetime.now(UTC)
        values: dict[str, Any] = {"updated_at": now}
        if req.do_not_call is not None:
            values["do_not_call"] = req.do_not_call
        await conn.execute(
            sa.update(patients)
            .where(patients.c.practice_id == practice_id, patients.c.patient_id == req.patient_id)
            .values(**values)
        )
        if req.note:
            await conn.execute(
                comm_log.insert().values(
                    practice_id=practice_id,
                    comm_id=new_id("comm"),
                    patient_id=req.patient_id,
                    at=now,
                    mode="none",
                    direction="neither",
                    note=req.note,
                )
            )
        return {gid}

    return body

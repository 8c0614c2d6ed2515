"""LocalPms write-backs: effects, idempotency (sequential and concurrent), change cursors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from pms.local import LocalPms
from pms.local.models import comm_log, ledger_lines, payments, promises, writes
from pms.types import (
    CommLogWrite,
    ContactPreferenceWrite,
    Flag,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
    WriteResult,
)
from tests.pms.test_local_support import BACKENDS, database_url, open_pms, small_practice

D = Decimal
AT = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, tmp_path)


@pytest.fixture
async def pms(db_url: str) -> AsyncIterator[LocalPms]:
    async with open_pms(db_url) as handle:
        await handle.load_snapshot(small_practice())
        yield handle


async def count(pms: LocalPms, table: sa.Table, **where: str) -> int:
    cond = [table.c.practice_id == pms.practice_id, *(table.c[k] == v for k, v in where.items())]
    async with pms.engine.connect() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(table).where(*cond))).scalar_one()
        )


def payment(key: str, amount: str, guarantor: str = "G1", paid_on: date = date(2026, 3, 2)) -> PaymentWrite:
    return PaymentWrite(key, guarantor, D(amount), paid_on, "card", f"ch_{key}")


# ---- each write ----------------------------------------------------------------------------------


async def test_comm_log_is_written_and_read_back(pms: LocalPms) -> None:
    res = await pms.write_comm_log(CommLogWrite("k-comm", "P2", AT, "phone", "received", "Asked about crown"))
    assert res.status == "created" and res.done and res.external_id
    history = await pms.get_comm_history("P2")
    assert [(c.comm_id, c.at, c.mode, c.direction, c.note) for c in history] == [
        (res.external_id, AT, "phone", "received", "Asked about crown")
    ]


async def test_promise_is_recorded_open(pms: LocalPms) -> None:
    res = await pms.record_promise(PromiseWrite("k-prom", "G1", D("75.50"), date(2026, 3, 15), "on payday"))
    assert res.status == "created"
    newest = (await pms.get_promises("G1"))[0]
    assert (newest.promise_id, newest.amount, newest.due_on, newest.status, newest.note) == (
        res.external_id,
        D("75.50"),
        date(2026, 3, 15),
        "open",
        "on payday",
    )
    assert newest.created_at is not None and newest.created_at.tzinfo is not None


async def test_plan_is_created_active(pms: LocalPms) -> None:
    req = PaymentPlanWrite(
        "k-plan", "G1", D("250.00"), D("50.00"), D("50.00"), 4, "monthly", date(2026, 4, 1)
    )
    res = await pms.create_payment_plan(req)
    assert res.status == "created"
    [plan] = await pms.get_payment_plans("G1")
    assert (plan.plan_id, plan.status, plan.total, plan.down_payment, plan.installments, plan.frequency) == (
        res.external_id,
        "active",
        D("250.00"),
        D("50.00"),
        4,
        "monthly",
    )


async def test_payment_posts_ledger_line_and_reduces_oldest_buckets_first(pms: LocalPms) -> None:
    # G1 buckets: 0-30 180, 31-60 50, 61-90 25, 90+ 75; patient balance 250
    res = await pms.record_payment(payment("k-pay", "110.00"))
    assert res.status == "created"
    acct = await pms.get_account("G1")
    assert acct is not None
    a = acct.aging
    assert (a.bal_over_90, a.bal_61_90, a.bal_31_60, a.bal_0_30) == (D("0"), D("0"), D("40.00"), D("180.00"))
    assert (a.patient_balance, a.total) == (D("140.00"), D("220.00"))
    assert (acct.last_payment_date, acct.last_payment_amount) == (date(2026, 3, 2), D("110.00"))
    assert acct.balance_since == date(2025, 10, 15)
    line = (await pms.get_ledger("G1", since=date(2026, 3, 2)))[-1]
    assert (line.line_id, line.kind, line.amount, line.patient_id) == (
        res.external_id,
        "patient_payment",
        D("-110.00"),
        "G1",
    )
    newest = (await pms.get_payments("G1"))[0]
    assert (newest.payment_id, newest.amount, newest.method, newest.processor_ref) == (
        res.external_id,
        D("110.00"),
        "card",
        "ch_k-pay",
    )
    assert newest.posted_at is not None


async def test_overpayment_leaves_a_credit_and_clears_balance_since(pms: LocalPms) -> None:
    await pms.record_payment(payment("k-big", "300.00"))
    acct = await pms.get_account("G1")
    assert acct is not None
    a = acct.aging
    # buckets hold the family total incl. the 80.00 insurance estimate, so 30.00 stays in 0-30
    assert (a.bal_over_90, a.bal_61_90, a.bal_31_60, a.bal_0_30) == (D("0"), D("0"), D("0"), D("30.00"))
    assert (a.total, a.patient_balance, acct.balance_since) == (D("30.00"), D("-50.00"), None)
    assert Flag.CREDIT_BALANCE in acct.flags
    assert "G1" not in [x.patient_id for x in (await pms.list_accounts()).items]


async def test_backdated_payment_keeps_the_newer_last_payment(pms: LocalPms) -> None:
    await pms.record_payment(payment("k-old", "10.00", paid_on=date(2025, 11, 1)))
    acct = await pms.get_account("G1")
    assert acct is not None
    assert (acct.last_payment_date, acct.last_payment_amount) == (date(2025, 12, 1), D("40.00"))
    assert acct.aging.patient_balance == D("240.00")


async def test_payment_counts_toward_the_active_plan(pms: LocalPms) -> None:
    await pms.record_payment(payment("k-plan-1", "100.00", guarantor="G7"))
    [plan] = await pms.get_payment_plans("G7")
    assert (plan.paid_to_date, plan.status) == (D("100.00"), "active")
    acct = await pms.get_account("G7")
    assert acct is not None and acct.aging.payplan_due == D("0.00")
    await pms.record_payment(payment("k-plan-2", "100.00", guarantor="G7"))
    [plan] = await pms.get_payment_plans("G7")
    assert (plan.paid_to_date, plan.status) == (D("200.00"), "completed")


async def test_contact_preferences_update_consent_and_do_not_call(pms: LocalPms) -> None:
    req = ContactPreferenceWrite(
        "k-pref", "G1", sms_ok=False, do_not_call=True, email_ok=False, note="STOP by SMS"
    )
    res = await pms.update_contact_preferences(req)
    assert (res.status, res.external_id) == ("created", "G1")
    maria = await pms.get_patient("G1")
    assert maria is not None
    assert [c.sms_consent for c in maria.phones] == ["no"] and [c.sms_consent for c in maria.emails] == ["no"]
    assert maria.preferred_contact == "do_not_call"
    assert [c.note for c in await pms.get_comm_history("G1", limit=1)] == ["STOP by SMS"]
    lucas = await pms.get_patient("P2")  # shares the number but gave no instruction himself
    assert lucas is not None and [c.sms_consent for c in lucas.phones] == ["unknown"]
    await pms.update_contact_preferences(
        ContactPreferenceWrite("k-pref-2", "G1", sms_ok=True, do_not_call=False)
    )
    maria = await pms.get_patient("G1")
    assert maria is not None and maria.preferred_contact == "text" and maria.phones[0].sms_consent == "yes"
    assert maria.emails[0].sms_consent == "no"  # untouched when email_ok is None


async def test_set_flag_on_and_off(pms: LocalPms) -> None:
    assert await pms.set_flag("G5", Flag.ATTORNEY, True)
    acct = await pms.get_account("G5")
    assert acct is not None and Flag.ATTORNEY in acct.flags
    assert await pms.set_flag("G5", Flag.ATTORNEY, False)
    acct = await pms.get_account("G5")
    assert acct is not None and Flag.ATTORNEY not in acct.flags and Flag.DECEASED in acct.flags
    assert not await pms.set_flag("nobody", Flag.PAUSED, True)


# ---- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.write_comm_log(CommLogWrite("k-x", "nobody", AT, "phone", "sent", "x")),
        lambda p: p.write_comm_log(CommLogWrite("k-x", "G1", AT.replace(tzinfo=None), "phone", "sent", "x")),
        lambda p: p.record_promise(PromiseWrite("k-x", "P2", D("5"), date(2026, 3, 9))),  # not a guarantor
        lambda p: p.record_promise(PromiseWrite("k-x", "G1", D("0"), date(2026, 3, 9))),
        lambda p: p.record_payment(payment("k-x", "-5.00")),
        lambda p: p.record_payment(PaymentWrite("k-x", "G1", D("5"), date(2026, 3, 2), "card", "")),
        lambda p: p.create_payment_plan(
            PaymentPlanWrite("k-x", "G1", D("100"), D("0"), D("50"), 0, "monthly", date(2026, 4, 1))
        ),
        lambda p: p.update_contact_preferences(ContactPreferenceWrite("k-x", "nobody", sms_ok=False)),
    ],
)
async def test_invalid_writes_fail_without_consuming_the_key(
    pms: LocalPms, call: Callable[[LocalPms], Awaitable[WriteResult]]
) -> None:
    res = await call(pms)
    assert res.status == "failed" and not res.done and res.message
    assert await count(pms, writes) == 0
    # the key is still free: a valid write with it succeeds
    ok = await pms.record_promise(PromiseWrite("k-x", "G1", D("5.00"), date(2026, 3, 9)))
    assert ok.status == "created"


# ---- idempotency ---------------------------------------------------------------------------------


async def test_repeated_writes_return_the_first_id_and_change_nothing(pms: LocalPms) -> None:
    first = await pms.record_payment(payment("k-rep", "20.00"))
    again = await pms.record_payment(payment("k-rep", "20.00"))
    assert (first.status, again.status) == ("created", "already_exists")
    assert again.external_id == first.external_id and again.done
    assert await count(pms, payments, guarantor_id="G1") == 3  # two loaded + one
    assert await count(pms, ledger_lines, line_id=str(first.external_id)) == 1
    acct = await pms.get_account("G1")
    assert acct is not None and acct.aging.patient_balance == D("230.00")

    comm = CommLogWrite("k-c", "G1", AT, "text", "sent", "hi")
    ids = {(await pms.write_comm_log(comm)).external_id for _ in range(3)}
    assert len(ids) == 1 and await count(pms, comm_log, comm_id=ids.pop() or "") == 1


async def test_same_key_for_another_kind_of_write_fails(pms: LocalPms) -> None:
    assert (
        await pms.record_promise(PromiseWrite("k-shared", "G1", D("5"), date(2026, 3, 9)))
    ).status == "created"
    res = await pms.write_comm_log(CommLogWrite("k-shared", "G1", AT, "text", "sent", "hi"))
    assert res.status == "failed" and "promise" in res.message


async def test_keys_are_scoped_per_practice(pms: LocalPms) -> None:
    other = LocalPms(pms.engine, practice_id=pms.practice_id + "-b")
    await other.load_snapshot(small_practice())
    a = await pms.record_promise(PromiseWrite("k-same", "G1", D("5"), date(2026, 3, 9)))
    b = await other.record_promise(PromiseWrite("k-same", "G1", D("5"), date(2026, 3, 9)))
    assert (a.status, b.status) == ("created", "created") and a.external_id != b.external_id


async def test_concurrent_same_key_writes_make_one_row(pms: LocalPms) -> None:
    results = await asyncio.gather(*(pms.record_payment(payment("k-race", "10.00")) for _ in range(6)))
    assert sorted(r.status for r in results) == ["already_exists"] * 5 + ["created"]
    assert len({r.external_id for r in results}) == 1
    assert await count(pms, payments, processor_ref="ch_k-race") == 1
    acct = await pms.get_account("G1")
    assert acct is not None and acct.aging.patient_balance == D("240.00")

    promised = await asyncio.gather(
        *(pms.record_promise(PromiseWrite("k-race-p", "G1", D("5"), date(2026, 3, 9))) for _ in range(6))
    )
    assert [r.status for r in promised].count("created") == 1
    assert await count(pms, promises, guarantor_id="G1") == 2  # loaded one + one


async def test_concurrent_payments_with_different_keys_all_apply(pms: LocalPms) -> None:
    results = await asyncio.gather(*(pms.record_payment(payment(f"k-par-{i}", "10.00")) for i in range(5)))
    assert {r.status for r in results} == {"created"}
    acct = await pms.get_account("G1")
    assert acct is not None and acct.aging.patient_balance == D("200.00")
    assert acct.aging.bal_over_90 == D("25.00")


# ---- change cursor -------------------------------------------------------------------------------


async def test_changes_since_reports_exactly_the_touched_guarantors(pms: LocalPms) -> None:
    start = (await pms.changes_since(None)).cursor
    await pms.write_comm_log(CommLogWrite("k-1", "P3", AT, "phone", "sent", "called"))  # P3 belongs to G1
    await pms.record_promise(PromiseWrite("k-2", "G7", D("5"), date(2026, 3, 9)))
    mid = await pms.changes_since(start)
    assert mid.guarantor_ids == ["G1", "G7"] and mid.cursor != start
    await pms.set_flag("G5", Flag.PAUSED, True)
    await pms.record_promise(PromiseWrite("k-2", "G7", D("5"), date(2026, 3, 9)))  # repeat: no change
    late = await pms.changes_since(mid.cursor)
    assert late.guarantor_ids == ["G5"]
    assert (await pms.changes_since(late.cursor)).guarantor_ids == []
    assert (await pms.changes_since(start)).guarantor_ids == ["G1", "G5", "G7"]

"""Bulk loading: a practice-sized snapshot, replace vs upsert (CSV re-import), schema hygiene."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from pms.local import LocalPms, metadata
from pms.local.models import DATA_TABLES, contact_points, ledger_lines, patients
from pms.snapshot import PracticeSnapshot
from pms.types import (
    AccountSummary,
    Aging,
    ContactPoint,
    ContactPreferenceWrite,
    Flag,
    LedgerLine,
    Patient,
    PracticeInfo,
    PromiseWrite,
)
from tests.pms.test_local_support import AS_OF, BACKENDS, database_url, open_pms, small_practice

D = Decimal


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, tmp_path)


@pytest.fixture
async def pms(db_url: str) -> AsyncIterator[LocalPms]:
    async with open_pms(db_url) as handle:
        yield handle


def big_practice(families: int = 650, lines: int = 20_000, seed: int = 7) -> PracticeSnapshot:
    """~1,500 patients and `lines` ledger lines: the size of the demo practice."""
    rng = random.Random(seed)
    people: list[Patient] = []
    accounts: list[AccountSummary] = []
    for f in range(families):
        gid = f"F{f:04d}"
        size = rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
        mobile = f"(312) 55{f // 100 % 10}-{f % 100:02d}{rng.randrange(10)}{rng.randrange(10)}"
        for m in range(size):
            pid = gid if m == 0 else f"{gid}-{m}"
            contacts = (ContactPoint("phone", mobile, "mobile", "yes", raw=mobile),) if m < 2 else ()
            people.append(
                Patient(pid, gid, f"First{m}", f"Family{f}", date(1950 + f % 60, 1 + m, 1 + f % 28), contacts)
            )
        owed = D(rng.randrange(-5_000, 300_000)) / 100 if rng.random() < 0.3 else D("0.00")
        aging = Aging(bal_0_30=max(owed, D(0)), total=owed, patient_balance=owed, as_of=AS_OF)
        accounts.append(AccountSummary(people[-size], aging))
    ledger = []
    for i in range(lines):
        posted = AS_OF - timedelta(days=rng.randrange(730))
        amount = D(rng.randrange(1_000, 200_000)) / 100
        ledger.append(
            LedgerLine(f"LL{i:06d}", rng.choice(people).patient_id, "charge", posted, amount, "Exam")
        )
    return PracticeSnapshot(
        practice=PracticeInfo("demo", "Maple Grove Family Dental", "America/Chicago"),
        as_of=AS_OF,
        patients=people,
        accounts=accounts,
        ledger=ledger,
    )


async def count(pms: LocalPms, table: sa.Table) -> int:
    async with pms.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table).where(table.c.practice_id == pms.practice_id)
        return int((await conn.execute(query)).scalar_one())


async def test_practice_sized_snapshot_loads_with_progress(pms: LocalPms) -> None:
    snap = big_practice()
    assert len(snap.patients) >= 1_500
    seen: list[tuple[int, int]] = []
    await pms.load_snapshot(snap, progress=lambda done, total: seen.append((done, total)))
    contacts = sum(len(p.contacts) for p in snap.patients)
    expected = len(snap.patients) + contacts + len(snap.accounts) + len(snap.ledger)
    assert seen[-1] == (expected, expected)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 5
    assert await count(pms, patients) == len(snap.patients)
    assert await count(pms, ledger_lines) == 20_000
    assert await pms.count_accounts() == 650
    owing = [a for a in snap.accounts if a.aging.patient_balance > 0]
    assert await pms.count_accounts(has_balance=True) == len(owing)
    fam = await pms.find_patients_by_phone(snap.patients[0].contacts[0].value)
    assert {p.guarantor_id for p in fam} >= {"F0000"}


async def test_replace_wipes_previous_rows_writes_and_reports_every_guarantor(pms: LocalPms) -> None:
    await pms.load_snapshot(small_practice())
    await pms.record_promise(PromiseWrite("k-1", "G1", D("5"), date(2026, 3, 9)))
    cursor = (await pms.changes_since(None)).cursor
    smaller = small_practice()
    smaller.patients = [p for p in smaller.patients if p.guarantor_id != "G7"]
    smaller.accounts = [a for a in smaller.accounts if a.patient_id != "G7"]
    smaller.plans = []
    await pms.load_snapshot(smaller)
    assert await pms.get_patient("G7") is None and await pms.get_payment_plans("G7") == []
    assert [p.promise_id for p in await pms.get_promises("G1")] == ["PR1"]
    assert (await pms.changes_since(cursor)).guarantor_ids == ["G1", "G4", "G5", "G6"]
    # the write-back key went with the wiped data: the same key records afresh
    assert (await pms.record_promise(PromiseWrite("k-1", "G1", D("5"), date(2026, 3, 9)))).status == "created"


async def test_upsert_reimport_updates_in_place_without_duplicates(pms: LocalPms) -> None:
    await pms.load_snapshot(small_practice())
    before = {t.name: await count(pms, t) for t in DATA_TABLES}
    again = small_practice()
    again.accounts = [
        replace(
            a, aging=replace(a.aging, bal_0_30=D("200.00"), total=D("350.00"), patient_balance=D("270.00"))
        )
        if a.patient_id == "G1"
        else a
        for a in again.accounts
    ]
    await pms.load_snapshot(again, replace=False)
    assert {t.name: await count(pms, t) for t in DATA_TABLES} == before
    acct = await pms.get_account("G1")
    assert acct is not None and acct.aging.patient_balance == D("270.00")


async def test_upsert_keeps_opt_outs_and_flags_set_since_the_last_import(pms: LocalPms) -> None:
    await pms.load_snapshot(small_practice())
    await pms.update_contact_preferences(
        ContactPreferenceWrite("k-stop", "G1", sms_ok=False, do_not_call=True)
    )
    await pms.set_flag("G1", Flag.PAUSED, True)
    await pms.load_snapshot(small_practice(), replace=False)  # the export still says sms "yes"
    maria = await pms.get_patient("G1")
    assert (
        maria is not None and maria.phones[0].sms_consent == "no" and maria.preferred_contact == "do_not_call"
    )
    acct = await pms.get_account("G1")
    assert acct is not None and {Flag.PAUSED, Flag.DISPUTE} <= acct.flags


async def test_upsert_accounts_for_csv_and_zero_missing(pms: LocalPms) -> None:
    snap = small_practice()
    await pms.load_snapshot(snap)
    cursor = (await pms.changes_since(None)).cursor
    g1 = next(a for a in snap.accounts if a.patient_id == "G1")
    newcomer = Patient("N1", "N1", "Nina", "New", date(2000, 1, 1), (ContactPoint("phone", "312-555-0199"),))
    fresh = AccountSummary(newcomer, Aging(bal_0_30=D("99.00"), total=D("99.00"), patient_balance=D("99.00")))
    seen: list[tuple[int, int]] = []
    await pms.upsert_accounts(
        [g1, fresh], [newcomer], zero_missing=True, progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1][0] == seen[-1][1] > 0
    assert (await pms.practice()).name == "Lakeside Test Dental"  # practice details untouched
    assert [a.patient_id for a in (await pms.list_accounts()).items] == ["G1", "N1"]  # G5, G7 paid off
    g5 = await pms.get_account("G5")
    assert g5 is not None and g5.aging.patient_balance == D("0.00") and g5.aging.bal_over_90 == D("0.00")
    assert [p.patient_id for p in await pms.find_patients_by_phone("+13125550199")] == ["N1"]
    assert (await pms.changes_since(cursor)).guarantor_ids == ["G1", "G4", "G5", "G7", "N1"]
    await pms.upsert_accounts([g1, fresh], [newcomer])  # re-import: still one of each
    assert await pms.count_accounts() == 6 and await count(pms, contact_points) == 8  # 7 loaded + N1


async def test_aging_only_reimport_keeps_known_birth_date_and_contacts(pms: LocalPms) -> None:
    await pms.load_snapshot(small_practice())
    bare = Patient("G1", "G1", "Maria", "Garcia-Lopez", None)  # what an aging export knows
    owed = Aging(bal_0_30=D("10.00"), total=D("10.00"), patient_balance=D("10.00"))
    await pms.upsert_accounts([AccountSummary(bare, owed)], [])
    maria = await pms.get_patient("G1")
    assert maria is not None and maria.last_name == "Garcia-Lopez"
    assert maria.date_of_birth == date(1980, 3, 4) and maria.timezone == "America/Chicago"
    assert [c.value for c in maria.contacts] == ["+13125550101", "maria@example.com"]
    assert [
        p.patient_id for p in await pms.find_patients_by_name_dob("maria", "garcia lopez", date(1980, 3, 4))
    ] == ["G1"]


async def test_upsert_accounts_into_an_empty_practice(pms: LocalPms) -> None:
    guarantor = Patient("X1", "X1", "Xavier", "Ex", None)
    acct = AccountSummary(
        guarantor, Aging(bal_over_90=D("10.00"), total=D("10.00"), patient_balance=D("10.00"))
    )
    await pms.upsert_accounts([acct], [])
    assert (await pms.practice()).practice_id == pms.practice_id
    assert [a.patient_id for a in (await pms.list_accounts()).items] == ["X1"]


async def test_create_schema_is_repeatable(pms: LocalPms) -> None:
    await pms.create_schema()
    await pms.load_snapshot(small_practice())
    assert await pms.count_accounts() == 5


def test_metadata_is_self_contained_and_prefixed() -> None:
    names = set(metadata.tables)
    assert names and all(n.startswith("pms_") for n in names)
    assert {"pms_contact_points", "pms_writes", "pms_changes", "pms_accounts", "pms_ledger_lines"} <= names
    indexed = {tuple(c.name for c in ix.columns) for ix in metadata.tables["pms_contact_points"].indexes}
    assert ("practice_id", "value") in indexed


async def test_naive_datetimes_are_refused(pms: LocalPms) -> None:
    snap = small_practice()
    snap.comms = [replace(snap.comms[0], at=datetime(2026, 1, 1, 12, 0))]
    with pytest.raises(sa.exc.StatementError):
        await pms.load_snapshot(snap)
    assert await pms.count_accounts() == 0  # the whole load rolled back
    snap.comms = [replace(snap.comms[0], at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC))]
    await pms.load_snapshot(snap)
    assert (await pms.get_comm_history("G1"))[0].at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

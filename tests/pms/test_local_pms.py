"""LocalPms reads over a small hand-made practice, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from pms.local import LocalPms
from pms.protocol import PmsAdapter, PmsUnavailable
from pms.types import Capabilities, CommLogWrite, Flag
from tests.pms.test_local_support import (
    BACKENDS,
    CREDIT_HOME,
    GARCIA_MOBILE,
    JOSE_MOBILE,
    database_url,
    open_pms,
    small_practice,
)

# These tests only read, so each backend loads the practice once for the whole module.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_url(request, tmp_path_factory.mktemp("pms"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pms(db_url: str) -> AsyncIterator[LocalPms]:
    async with open_pms(db_url) as handle:
        await handle.load_snapshot(small_practice())
        yield handle


async def test_is_a_pms_adapter_with_direct_writes(pms: LocalPms) -> None:
    assert isinstance(pms, PmsAdapter)
    caps = pms.capabilities()
    assert caps == Capabilities()
    assert {caps.comm_log, caps.promise, caps.payment, caps.payment_plan, caps.contact_preferences} == {
        "direct"
    }


async def test_practice_uses_the_adapters_id(pms: LocalPms) -> None:
    info = await pms.practice()
    assert (info.practice_id, info.name, info.timezone, info.phone) == (
        pms.practice_id,
        "Lakeside Test Dental",
        "America/Chicago",
        "+13125550000",
    )


async def test_health_reports_last_aging_time(pms: LocalPms) -> None:
    health = await pms.health()
    assert health.reachable and health.detail == "ok"
    assert health.last_aging_at is not None and health.last_aging_at.tzinfo is not None
    assert abs((datetime.now(UTC) - health.last_aging_at).total_seconds()) < 3600


async def test_unloaded_practice_is_reachable_but_not_loaded(pms: LocalPms) -> None:
    other = LocalPms(pms.engine, practice_id=pms.practice_id + "-none")
    health = await other.health()
    assert health.reachable and "not loaded" in health.detail and health.last_aging_at is None
    with pytest.raises(PmsUnavailable):
        await other.practice()
    assert await other.get_patient("G1") is None  # practices never see each other's rows
    assert (await other.list_accounts(has_balance=False)).total == 0


async def test_get_patient_round_trips_fields_and_normalises_contacts(pms: LocalPms) -> None:
    maria = await pms.get_patient("G1")
    assert maria is not None
    assert (maria.first_name, maria.last_name, maria.date_of_birth) == ("María", "García", date(1980, 3, 4))
    assert (maria.language, maria.timezone, maria.preferred_contact, maria.state) == (
        "es",
        "America/Chicago",
        "text",
        "IL",
    )
    assert [c.value for c in maria.phones] == [GARCIA_MOBILE]
    assert maria.phones[0].raw == "(312) 555-0101" and maria.phones[0].sms_consent == "yes"
    assert [(c.value, c.sms_consent) for c in maria.emails] == [("maria@example.com", "yes")]
    jose = await pms.get_patient("P3")
    assert jose is not None and [(c.value, c.sms_consent) for c in jose.phones] == [(JOSE_MOBILE, "no")]
    ruth = await pms.get_patient("G5")
    assert ruth is not None and ruth.status == "deceased" and ruth.flags == frozenset({"estate"})
    alan = await pms.get_patient("G4")
    assert alan is not None and alan.preferred_contact == "do_not_call" and alan.phones[0].kind == "landline"
    assert await pms.get_patient("nobody") is None


async def test_find_by_phone_returns_everyone_sharing_the_number(pms: LocalPms) -> None:
    for dialled in (GARCIA_MOBILE, "(312) 555-0101", "312.555.0101", "1 312 555 0101"):
        found = await pms.find_patients_by_phone(dialled)
        assert [p.patient_id for p in found] == ["G1", "P2"], dialled  # guarantor first


async def test_find_by_phone_single_match_unknown_and_invalid(pms: LocalPms) -> None:
    assert [p.patient_id for p in await pms.find_patients_by_phone(JOSE_MOBILE)] == ["P3"]
    assert [p.patient_id for p in await pms.find_patients_by_phone(CREDIT_HOME)] == ["G4"]
    assert await pms.find_patients_by_phone("+13125559999") == []
    assert await pms.find_patients_by_phone("not a number") == []
    assert await pms.find_patients_by_phone("maria@example.com") == []  # emails are not phones


async def test_find_by_name_dob_ignores_case_and_accents(pms: LocalPms) -> None:
    for first, last in (
        ("María", "García"),
        ("maria", "GARCIA"),
        ("  Maria ", "garcía"),
        ("MARÍA", "Garcia"),
    ):
        found = await pms.find_patients_by_name_dob(first, last, date(1980, 3, 4))
        assert [p.patient_id for p in found] == ["G1"], (first, last)


async def test_find_by_name_dob_needs_all_three_to_match(pms: LocalPms) -> None:
    assert await pms.find_patients_by_name_dob("Maria", "Garcia", date(1980, 3, 5)) == []
    assert await pms.find_patients_by_name_dob("Mario", "Garcia", date(1980, 3, 4)) == []
    assert await pms.find_patients_by_name_dob("", "Garcia", date(1980, 3, 4)) == []
    assert [
        p.patient_id for p in await pms.find_patients_by_name_dob("jose", "garcia", date(1979, 1, 2))
    ] == ["P3"]


async def test_get_family_guarantor_first(pms: LocalPms) -> None:
    assert [p.patient_id for p in await pms.get_family("G1")] == ["G1", "P2", "P3"]
    assert [p.patient_id for p in await pms.get_family("G6")] == ["G6"]
    assert await pms.get_family("nobody") == []


async def test_get_account_aging_meta_and_flags(pms: LocalPms) -> None:
    acct = await pms.get_account("G1")
    assert acct is not None and acct.patient_id == "G1"
    a = acct.aging
    assert (a.bal_0_30, a.bal_31_60, a.bal_61_90, a.bal_over_90) == (
        Decimal("180.00"),
        Decimal("50.00"),
        Decimal("25.00"),
        Decimal("75.00"),
    )
    assert (a.total, a.insurance_estimate, a.patient_balance) == (
        Decimal("330.00"),
        Decimal("80.00"),
        Decimal("250.00"),
    )
    assert all(isinstance(v, Decimal) for v in (a.bal_0_30, a.total, a.payplan_due))
    assert a.as_of == date(2026, 3, 2)
    assert (acct.last_payment_date, acct.last_payment_amount) == (date(2025, 12, 1), Decimal("40.00"))
    assert (acct.last_statement_date, acct.balance_since, acct.open_claims) == (
        date(2026, 2, 1),
        date(2025, 10, 15),
        1,
    )
    assert acct.flags == frozenset({Flag.DISPUTE})


async def test_derived_flags_credit_and_deceased(pms: LocalPms) -> None:
    credit = await pms.get_account("G4")
    assert credit is not None and credit.aging.patient_balance == Decimal("-40.00")
    assert Flag.CREDIT_BALANCE in credit.flags
    dead = await pms.get_account("G5")
    assert dead is not None and Flag.DECEASED in dead.flags and Flag.CREDIT_BALANCE not in dead.flags


async def test_get_account_of_non_guarantor_or_unknown_is_none(pms: LocalPms) -> None:
    assert await pms.get_account("P2") is None
    assert await pms.get_account("nobody") is None


async def test_list_accounts_with_balance_excludes_credit_and_zero(pms: LocalPms) -> None:
    page = await pms.list_accounts()
    assert [a.patient_id for a in page.items] == ["G1", "G5", "G7"]
    assert (page.total, page.offset, page.limit) == (3, 0, 100)
    assert await pms.count_accounts(has_balance=True) == 3


async def test_list_all_accounts_paged_in_stable_order(pms: LocalPms) -> None:
    first = await pms.list_accounts(has_balance=False, limit=2)
    second = await pms.list_accounts(has_balance=False, limit=2, offset=2)
    third = await pms.list_accounts(has_balance=False, limit=2, offset=4)
    ids = [a.patient_id for page in (first, second, third) for a in page.items]
    assert ids == ["G1", "G4", "G5", "G6", "G7"]
    assert first.total == second.total == third.total == 5 == await pms.count_accounts()
    assert first.items[0].guarantor.phones[0].value == GARCIA_MOBILE  # guarantors come with contacts


async def test_ledger_is_the_family_in_posting_order(pms: LocalPms) -> None:
    lines = await pms.get_ledger("G1")
    assert [line.line_id for line in lines] == ["L1", "L2", "L4", "L3"]
    crown = lines[-1]
    assert (crown.patient_id, crown.code, crown.tooth, crown.claim_id, crown.insurance_pending) == (
        "P2",
        "D2740",
        "14",
        "C1",
        True,
    )
    assert crown.amount == Decimal("180.00") and lines[1].amount == Decimal("-40.00")
    assert [x.line_id for x in await pms.get_ledger("G1", since=date(2025, 12, 1))] == ["L2", "L4", "L3"]
    assert [x.line_id for x in await pms.get_ledger("G4")] == ["L9"]


async def test_family_histories_newest_first(pms: LocalPms) -> None:
    assert [p.payment_id for p in await pms.get_payments("G1")] == ["PAY1", "PAY0"]
    assert [c.claim_id for c in await pms.get_claims("G1")] == ["C1", "C0"]
    assert [(p.promise_id, p.status) for p in await pms.get_promises("G1")] == [("PR1", "broken")]
    plans = await pms.get_payment_plans("G7")
    assert [(p.plan_id, p.status, p.installment_amount) for p in plans] == [
        ("PL1", "active", Decimal("100.00"))
    ]
    assert await pms.get_payments("G6") == [] and await pms.get_payment_plans("G1") == []


async def test_appointments_from_a_practice_local_day(pms: LocalPms) -> None:
    every = await pms.get_appointments("G1")
    assert [a.appointment_id for a in every] == ["A0", "A2", "A1"]
    assert all(a.start.tzinfo is not None for a in every)
    assert every[2].start == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    # A2 is 1 March in Chicago although 2 March in UTC
    assert [a.appointment_id for a in await pms.get_appointments("G1", from_date=date(2026, 3, 2))] == ["A1"]
    assert [a.appointment_id for a in await pms.get_appointments("G1", from_date=date(2026, 3, 1))] == [
        "A2",
        "A1",
    ]


async def test_comm_history_per_patient_newest_first_with_limit(pms: LocalPms) -> None:
    history = await pms.get_comm_history("G1")
    assert [c.comm_id for c in history] == ["CM2", "CM1"]
    assert history[0].at == datetime(2026, 2, 10, 17, 0, tzinfo=UTC) and history[0].mode == "phone"
    assert [c.comm_id for c in await pms.get_comm_history("G1", limit=1)] == ["CM2"]
    assert await pms.get_comm_history("P2") == []


async def test_changes_since_none_is_every_guarantor_then_nothing(pms: LocalPms) -> None:
    everything = await pms.changes_since(None)
    assert everything.guarantor_ids == ["G1", "G4", "G5", "G6", "G7"]
    assert (await pms.changes_since(everything.cursor)).guarantor_ids == []
    assert (await pms.changes_since("garbage")).guarantor_ids == everything.guarantor_ids


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_unreachable_database_degrades_cleanly(backend: str, tmp_path: Path) -> None:
    url = {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}",  # no pms_ tables
        "postgres": "postgresql+asyncpg://postgres@127.0.0.1:1/none",  # nothing listens on port 1
    }[backend]
    pms = LocalPms.from_url(url)
    try:
        health = await pms.health()
        assert not health.reachable and "database error" in health.detail
        with pytest.raises(PmsUnavailable):
            await pms.find_patients_by_phone(GARCIA_MOBILE)
        with pytest.raises(PmsUnavailable):
            await pms.list_accounts()
        res = await pms.write_comm_log(CommLogWrite("k", "G1", datetime.now(UTC), "phone", "sent", "x"))
        assert res.status == "failed" and not res.done
    finally:
        await pms.close()

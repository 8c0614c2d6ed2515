"""`OpenDentalPms` against the loopback server: the same demo practice reads the same as in the local PMS
(the reference implementation of the Protocol), and each write lands once, in Open Dental's shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from agent.pms_lookup import match_caller
from pms.demo.personas import PERSONAS
from pms.local.adapter import LocalPms
from pms.opendental import OpenDentalPms, capabilities_for
from pms.protocol import PmsAdapter, PmsUnavailable
from pms.types import (
    CommLogWrite,
    ContactPreferenceWrite,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
)
from pms.writeback import marker_for
from tests.fakes.opendental_server import FakeOpenDental
from tests.integration.harness import demo_snapshot
from tests.pms.opendental.conftest import PRACTICE, AdapterFactory

NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
CHECKED = ["prompt_payer", "deceased", "attorney", "agency", "credit_balance", "insurance_pending",
           "appointment_tomorrow", "disputer_denied_claim", "minor_with_parent_guarantor"]  # fmt: skip


@pytest.fixture(scope="module")
def local_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same demo practice in the local PMS (read only by these tests)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('od-local') / 'local.db'}"

    async def load() -> None:
        pms = LocalPms.from_url(url, practice_id=PRACTICE)
        await pms.create_schema()
        await pms.load_snapshot(demo_snapshot())
        await pms.close()

    asyncio.run(load())
    return url


@pytest.fixture
async def local(local_url: str) -> AsyncIterator[LocalPms]:
    pms = LocalPms.from_url(local_url, practice_id=PRACTICE)
    yield pms
    await pms.close()


@pytest.fixture
def od_pms(make_adapter: AdapterFactory) -> OpenDentalPms:
    return make_adapter()


async def test_it_is_a_pms_adapter(od_pms: OpenDentalPms) -> None:
    assert isinstance(od_pms, PmsAdapter)
    info = await od_pms.practice()
    assert info.name == "Maple Grove Family Dental" and info.timezone == "America/Chicago"


@pytest.mark.parametrize("key", CHECKED)
async def test_reads_match_the_local_pms(key: str, od_pms: OpenDentalPms, local: LocalPms) -> None:
    persona = PERSONAS[key]
    gid, pid = persona.guarantor_id, persona.patient_id
    mine, ref = await od_pms.get_patient(pid), await local.get_patient(pid)
    assert mine is not None and ref is not None
    assert (
        mine.first_name,
        mine.last_name,
        mine.date_of_birth,
        mine.guarantor_id,
        mine.status,
        mine.language,
    ) == (
        ref.first_name,
        ref.last_name,
        ref.date_of_birth,
        ref.guarantor_id,
        ref.status,
        ref.language,
    )
    assert {c.value for c in mine.phones} == {c.value for c in ref.phones}
    assert mine.preferred_contact == ref.preferred_contact
    mobile = [c for c in ref.phones if c.kind == "mobile"]
    if mobile:
        assert [c.sms_consent for c in mine.phones if c.kind == "mobile"] == [mobile[0].sms_consent]
    if persona.phone:
        found = await od_pms.find_patients_by_phone(persona.phone)
        assert found
        assert [p.patient_id for p in found] == [
            p.patient_id for p in await local.find_patients_by_phone(persona.phone)
        ]
    assert [p.patient_id for p in await od_pms.get_family(gid)] == [
        p.patient_id for p in await local.get_family(gid)
    ]
    found = await od_pms.find_patients_by_name_dob(
        ref.first_name.upper(), f" {ref.last_name}", persona.date_of_birth
    )
    assert [p.patient_id for p in found] == [pid]

    acct, ref_acct = await od_pms.get_account(gid), await local.get_account(gid)
    assert acct is not None and ref_acct is not None
    assert acct.aging.patient_balance == ref_acct.aging.patient_balance == persona.patient_balance
    for bucket in ("bal_0_30", "bal_31_60", "bal_61_90", "bal_over_90", "total", "insurance_estimate"):
        assert getattr(acct.aging, bucket) == getattr(ref_acct.aging, bucket), bucket
    assert acct.last_payment_date == ref_acct.last_payment_date
    safety = {"attorney", "agency", "deceased", "credit_balance", "insurance_pending", "dispute"}
    assert acct.flags & safety == ref_acct.flags & safety

    ledger, ref_ledger = await od_pms.get_ledger(gid), await local.get_ledger(gid)
    assert sum(x.amount for x in ledger) == sum(x.amount for x in ref_ledger)
    assert sorted(
        (x.line_id, x.kind, x.amount, x.code, x.claim_id, x.insurance_pending) for x in ledger
    ) == sorted((x.line_id, x.kind, x.amount, x.code, x.claim_id, x.insurance_pending) for x in ref_ledger)
    claims, ref_claims = await od_pms.get_claims(gid), await local.get_claims(gid)
    assert [(c.claim_id, c.status, c.fee, c.ins_pay_estimate) for c in claims] == [
        (c.claim_id, c.status, c.fee, c.ins_pay_estimate) for c in ref_claims
    ]
    pays, ref_pays = await od_pms.get_payments(gid), await local.get_payments(gid)
    assert [(p.payment_id, p.amount, p.paid_on, p.method) for p in pays] == [
        (p.payment_id, p.amount, p.paid_on, p.method) for p in ref_pays
    ]
    plans, ref_plans = await od_pms.get_payment_plans(gid), await local.get_payment_plans(gid)
    assert [(p.plan_id, p.total, p.installment_amount, p.frequency) for p in plans] == [
        (p.plan_id, p.total, p.installment_amount, p.frequency) for p in ref_plans
    ]
    apts, ref_apts = await od_pms.get_appointments(gid), await local.get_appointments(gid)
    assert [(a.appointment_id, a.start, a.status) for a in apts] == [
        (a.appointment_id, a.start, a.status) for a in ref_apts
    ]
    comms, ref_comms = await od_pms.get_comm_history(pid), await local.get_comm_history(pid)
    assert [(c.comm_id, c.at, c.mode, c.note) for c in comms] == [
        (c.comm_id, c.at, c.mode, c.note) for c in ref_comms
    ]


async def test_the_worklist_is_the_bulk_aging_query(
    od_pms: OpenDentalPms, local: LocalPms, od: FakeOpenDental
) -> None:
    owing = await od_pms.list_accounts(limit=10_000)
    ref = await local.list_accounts(limit=10_000)
    assert {a.patient_id: (a.aging.patient_balance, a.open_claims) for a in owing.items} == {
        a.patient_id: (a.aging.patient_balance, a.open_claims) for a in ref.items
    }
    everyone = await local.list_accounts(has_balance=False, limit=10_000)
    assert len(everyone.items) > 150
    before = od.count("/queries/ShortQuery", "PUT")
    page = await od_pms.list_accounts(has_balance=False, limit=150)
    assert od.count("/queries/ShortQuery", "PUT") - before == 2  # 100 rows a page
    ids = sorted((a.patient_id for a in everyone.items), key=int)
    assert [a.patient_id for a in page.items] == ids[:150]
    rest = await od_pms.list_accounts(has_balance=False, limit=10_000, offset=150)
    assert [a.patient_id for a in rest.items] == ids[150:]


async def test_changes_since_a_cursor(od_pms: OpenDentalPms) -> None:
    everyone = await od_pms.changes_since(None)
    assert "1" in everyone.guarantor_ids and everyone.cursor
    quiet = await od_pms.changes_since(everyone.cursor)
    req = CommLogWrite(
        "k|changes", PERSONAS["minor_with_parent_guarantor"].patient_id, NOW, "text", "sent", "hi"
    )
    assert (await od_pms.write_comm_log(req)).status == "created"
    after = await od_pms.changes_since(quiet.cursor)
    assert (
        PERSONAS["minor_with_parent_guarantor"].guarantor_id in after.guarantor_ids
    )  # the minor's guarantor
    assert after.cursor >= quiet.cursor


async def test_writes_land_in_open_dental_shape(od_pms: OpenDentalPms, od: FakeOpenDental) -> None:
    gid = PERSONAS["prompt_payer"].guarantor_id
    comm = CommLogWrite("k|comm", gid, NOW, "text", "received", "Patient asked\nabout the bill")
    created = await od_pms.write_comm_log(comm)
    log = od.commlogs[-1]
    assert created.status == "created" and created.external_id == str(log["CommlogNum"])
    assert (
        log["CommDateTime"] == "2026-11-02 10:00:00"
        and log["Mode_"] == "Text"
        and log["commType"] == "Collections"
    )
    assert log["Note"] == f"Patient asked about the bill {marker_for('k|comm')}"

    pay = PaymentWrite("k|pay", gid, Decimal("40.00"), date(2026, 11, 2), "card", "pi_123", "Stripe")
    assert (await od_pms.record_payment(pay)).status == "created"
    assert od.payments[-1]["payType"] == "Credit Card"
    mine = (await od_pms.get_payments(gid))[0]
    assert (mine.amount, mine.method, mine.processor_ref) == (Decimal("40.00"), "card", "pi_123")
    acct = await od_pms.get_account(gid)
    assert acct is not None and acct.aging.patient_balance == Decimal("200.00")

    plan = PaymentPlanWrite(
        "k|plan", gid, Decimal("200.00"), Decimal("0.00"), Decimal("50.00"), 4, "monthly", date(2026, 12, 1)
    )
    assert (await od_pms.create_payment_plan(plan)).status == "created"
    posted = [r for r in od.requests if r.path == "/payplans/Dynamic"]
    assert len(posted) == 1
    new = (await od_pms.get_payment_plans(gid))[0]
    assert (new.total, new.installment_amount, new.installments, new.first_due, new.status) == (
        Decimal("200.00"),
        Decimal("50.00"),
        4,
        date(2026, 12, 1),
        "active",
    )

    promise = PromiseWrite("k|promise", gid, Decimal("50.00"), date(2026, 11, 6), "By text.")
    assert (await od_pms.record_promise(promise)).status == "created"
    assert [(p.amount, p.due_on) for p in await od_pms.get_promises(gid)] == [
        (Decimal("50.00"), date(2026, 11, 6))
    ]
    assert len(od.tasks) == 1 and marker_for("k|promise") in od.tasks[0]["Descript"]

    prefs = ContactPreferenceWrite("k|stop", gid, sms_ok=False, do_not_call=True, note="STOP by text")
    assert (await od_pms.update_contact_preferences(prefs)).status == "created"
    patient = await od_pms.get_patient(gid)
    assert patient is not None and patient.preferred_contact == "do_not_call"
    assert {c.sms_consent for c in patient.phones} == {"no"}
    assert (await od_pms.reconcile_write(prefs)) is not None  # its comm log carries the marker


@pytest.mark.parametrize(
    ("tier", "direct"),
    [
        ("read", set()),
        ("commlog", {"comm_log", "promise"}),
        ("standard", {"comm_log", "promise", "contact_preferences"}),
        ("payments", {"comm_log", "promise", "contact_preferences", "payment", "payment_plan"}),
    ],
)
async def test_capabilities_follow_the_tier(
    tier: str, direct: set[str], make_adapter: AdapterFactory, od: FakeOpenDental
) -> None:
    od.tier = tier
    pms = make_adapter(tier=tier)
    caps = pms.capabilities()
    kinds = ("comm_log", "promise", "payment", "payment_plan", "contact_preferences")
    assert {k for k in kinds if getattr(caps, k) == "direct"} == direct
    assert caps == capabilities_for(tier)  # type: ignore[arg-type]
    gid = PERSONAS["plan_candidate"].guarantor_id
    writes = {
        "comm_log": pms.write_comm_log(CommLogWrite(f"{tier}|c", gid, NOW, "phone", "sent", "Called.")),
        "promise": pms.record_promise(PromiseWrite(f"{tier}|p", gid, Decimal("25.00"), date(2026, 11, 9))),
        "payment": pms.record_payment(
            PaymentWrite(f"{tier}|pay", gid, Decimal("25.00"), date(2026, 11, 2), "card", f"pi_{tier}")
        ),
        "payment_plan": pms.create_payment_plan(
            PaymentPlanWrite(
                f"{tier}|plan",
                gid,
                Decimal("1850.00"),
                Decimal("50.00"),
                Decimal("150.00"),
                12,
                "monthly",
                date(2026, 12, 1),
            )
        ),
        "contact_preferences": pms.update_contact_preferences(
            ContactPreferenceWrite(f"{tier}|pref", gid, sms_ok=False)
        ),
    }
    for kind, write in writes.items():
        result = await write
        assert result.status == ("created" if kind in direct else "queued_manual"), (kind, result)
    refused = [r for r in od.requests if r.status == 401]
    assert refused == []  # the adapter never asks for what the tier does not allow


async def test_caller_id_match_degrades_while_open_dental_is_down(
    od_pms: OpenDentalPms, od: FakeOpenDental
) -> None:
    phone = PERSONAS["prompt_payer"].phone
    assert [p.patient_id for p in await match_caller(od_pms, phone)] == ["1"]
    od.econnector_down = True
    with pytest.raises(PmsUnavailable):
        await od_pms.find_patients_by_phone(phone or "")
    assert (
        await match_caller(od_pms, phone) == []
    )  # the conversation goes on; identity tools refuse gracefully

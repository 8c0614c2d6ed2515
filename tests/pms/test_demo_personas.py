"""Every named edge case exists in the demo practice and shows what it is named for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from pms.demo import PERSONAS, Persona, generate
from pms.snapshot import PracticeSnapshot
from pms.types import AccountSummary, Flag, Patient

REQUIRED = {
    "prompt_payer", "plan_candidate", "small_balance", "deceased", "attorney", "agency", "credit_balance",
    "insurance_pending", "payment_just_posted", "on_time_plan", "sms_opted_out", "landline_only",
    "spanish_speaker", "appointment_tomorrow", "statement_yesterday", "disputer_denied_claim",
    "shared_family_phone", "minor_with_parent_guarantor", "large_balance_needs_approval", "hawaii",
}  # fmt: skip
TZ = ZoneInfo("America/Chicago")


AS_OF = date(2026, 11, 2)


def demo(seed: int = 7, as_of: date = AS_OF) -> PracticeSnapshot:
    return _demo(seed, as_of)


@cache
def _demo(seed: int, as_of: date) -> PracticeSnapshot:
    return generate(seed=seed, as_of=as_of)


class View:
    """One persona inside a snapshot."""

    def __init__(self, snap: PracticeSnapshot, persona: Persona) -> None:
        self.snap, self.persona = snap, persona
        self.patients = {p.patient_id: p for p in snap.patients}
        self.patient: Patient = self.patients[persona.patient_id]
        self.guarantor: Patient = self.patients[persona.guarantor_id]
        self.account: AccountSummary = next(a for a in snap.accounts if a.patient_id == persona.guarantor_id)
        self.family = {p.patient_id for p in snap.patients if p.guarantor_id == persona.guarantor_id}


def view(key: str, snap: PracticeSnapshot | None = None) -> View:
    return View(snap or demo(), PERSONAS[key])


def test_every_required_persona_is_defined() -> None:
    assert set(PERSONAS) >= REQUIRED
    assert all(p.key == k and p.demonstrates for k, p in PERSONAS.items())


@pytest.mark.parametrize("seed", [7, 8])
@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_persona_exists_with_its_identity_phone_and_balance(key: str, seed: int) -> None:
    v = view(key, demo(seed))
    p = v.persona
    assert v.patient.name == p.name and v.patient.date_of_birth == p.date_of_birth
    assert v.patient.guarantor_id == p.guarantor_id
    assert p.phone is not None and p.phone.startswith("+1") and len(p.phone) == 12
    assert p.phone in {c.value for c in v.patient.phones} | {c.value for c in v.guarantor.phones}
    assert v.account.aging.patient_balance == p.patient_balance
    matches = [x for x in v.snap.patients if (x.name, x.date_of_birth) == (p.name, p.date_of_birth)]
    assert matches == [v.patient]  # name + birthday identify exactly one person


def _bal(v: View) -> Decimal:
    return v.account.aging.patient_balance


CHECKS: dict[str, Callable[[View], bool]] = {
    "prompt_payer": lambda v: Decimal(200) <= _bal(v) <= Decimal(280) and v.patient.language == "en"
    and any(c.kind == "mobile" and c.sms_consent == "yes" for c in v.patient.phones) and not v.account.flags,
    "plan_candidate": lambda v: Decimal(1800) <= _bal(v) <= Decimal(1900) and v.account.aging.bal_0_30 > 0
    and v.account.aging.bal_31_60 > 0 and v.account.aging.bal_61_90 == v.account.aging.bal_over_90 == 0,
    "small_balance": lambda v: Decimal(0) < _bal(v) < Decimal(100),
    "deceased": lambda v: v.patient.status == "deceased" and Flag.DECEASED.value in v.account.flags
    and _bal(v) > 0,
    "attorney": lambda v: "attorney / bankruptcy – do not contact" in v.patient.note
    and Flag.ATTORNEY.value in v.account.flags and _bal(v) > 0,
    "agency": lambda v: Flag.AGENCY.value in v.account.flags and "agency" in v.patient.note and _bal(v) > 0,
    "credit_balance": lambda v: v.account.aging.total < 0 and Flag.CREDIT_BALANCE.value in v.account.flags,
    "insurance_pending": lambda v: v.account.aging.total > 0 and _bal(v) == 0 and v.account.open_claims > 0
    and Flag.INSURANCE_PENDING.value in v.account.flags,
    "sms_opted_out": lambda v: [c.sms_consent for c in v.patient.phones if c.kind == "mobile"] == ["no"]
    and any("STOP" in c.note for c in v.snap.comms if c.patient_id == v.patient.patient_id),
    "landline_only": lambda v: bool(v.patient.phones) and all(c.kind == "home" for c in v.patient.phones),
    "spanish_speaker": lambda v: v.patient.language == "es" and _bal(v) > 0,
    "appointment_tomorrow": lambda v: any(
        a.patient_id in v.family and a.status == "scheduled"
        and a.start.astimezone(TZ).date() == v.snap.as_of + timedelta(days=1) for a in v.snap.appointments),
    "statement_yesterday": lambda v: v.account.last_statement_date == v.snap.as_of - timedelta(days=1)
    and any(c.at.date() == v.snap.as_of - timedelta(days=1) and "statement" in c.note
            for c in v.snap.comms if c.patient_id == v.guarantor.patient_id),
    "disputer_denied_claim": lambda v: Flag.DISPUTE.value in v.account.flags
    and any(c.status == "denied" and c.patient_id in v.family for c in v.snap.claims),
    "large_balance_needs_approval": lambda v: _bal(v) > Decimal(3000),
    "hawaii": lambda v: v.patient.timezone == "Pacific/Honolulu" and v.persona.phone is not None
    and v.persona.phone.startswith("+1808") and v.patient.state == "HI",
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_persona_shows_its_edge_case(key: str) -> None:
    assert CHECKS[key](view(key))


def test_payment_just_posted_minutes_before_a_ten_oclock_call() -> None:
    v = view("payment_just_posted")
    last = max(
        (p for p in v.snap.payments if p.guarantor_id == v.persona.guarantor_id),
        key=lambda p: int(p.payment_id),
    )
    assert last.paid_on == v.snap.as_of and last.posted_at is not None
    local = last.posted_at.astimezone(TZ)
    assert time(9, 40) <= local.time() < time(10, 0)
    assert v.account.last_payment_date == v.snap.as_of and v.account.last_payment_amount == last.amount
    assert v.account.aging.total == 0 and last.amount > 0  # it paid off what was owed before the call


def test_on_time_plan_is_current() -> None:
    v = view("on_time_plan")
    (plan,) = [p for p in v.snap.plans if p.guarantor_id == v.persona.guarantor_id]
    assert plan.status == "active" and v.account.aging.payplan_due == 0
    due = sum(1 for k in range(plan.installments) if _add_months(plan.first_due, k) <= v.snap.as_of)
    installments = [
        p for p in v.snap.payments if p.guarantor_id == plan.guarantor_id and "installment" in p.note
    ]
    assert len(installments) == due and due >= 1
    assert plan.paid_to_date == plan.down_payment + sum(p.amount for p in installments)
    assert plan.total - plan.paid_to_date == _bal(v)
    assert Decimal(50) <= plan.installment_amount <= Decimal(250)


def _add_months(d: date, k: int) -> date:
    from dateutil.relativedelta import relativedelta

    return d + relativedelta(months=k)


def test_shared_family_phone_reaches_two_adults_on_two_accounts() -> None:
    v = view("shared_family_phone")
    sharing = [p for p in v.snap.patients if any(c.value == v.persona.phone for c in p.phones)]
    assert len(sharing) == 2 and len({p.guarantor_id for p in sharing}) == 2
    assert {p.patient_id for p in sharing} == {v.persona.patient_id, *v.persona.related_patient_ids}
    assert all((v.snap.as_of - p.date_of_birth).days > 18 * 365 for p in sharing if p.date_of_birth)


def test_minor_with_parent_guarantor() -> None:
    v = view("minor_with_parent_guarantor")
    assert v.patient.date_of_birth is not None and (v.snap.as_of - v.patient.date_of_birth).days < 18 * 365
    assert not v.patient.phones and v.guarantor.patient_id != v.patient.patient_id
    assert (
        v.guarantor.date_of_birth is not None and (v.snap.as_of - v.guarantor.date_of_birth).days > 18 * 365
    )
    assert v.persona.phone in {c.value for c in v.guarantor.phones}
    assert any(x.patient_id == v.patient.patient_id and x.kind == "charge" for x in v.snap.ledger)


def test_persona_numbers_are_not_reused_by_the_random_population() -> None:
    snap = demo()
    persona_people = {p.patient_id for p in PERSONAS.values()} | {
        i for p in PERSONAS.values() for i in p.related_patient_ids
    }
    for persona in PERSONAS.values():
        users = {p.patient_id for p in snap.patients if any(c.value == persona.phone for c in p.phones)}
        assert users and all(int(u) <= 25 for u in users), persona.key
    assert all(int(i) <= 25 for i in persona_people)


def test_personas_hold_for_another_as_of_date() -> None:
    snap = demo(7, date(2026, 5, 20))
    for key in sorted(REQUIRED):
        v = view(key, snap)
        assert v.account.aging.patient_balance == v.persona.patient_balance, key
        if key in CHECKS:
            assert CHECKS[key](v), key

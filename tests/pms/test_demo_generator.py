"""The demo practice generator: determinism, ledgers that balance to the cent, and the designed mix."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import phonenumbers

from pms.demo import PERSONAS, generate
from pms.demo.aging import age_ledger
from pms.phones import to_e164
from pms.snapshot import PracticeSnapshot
from pms.types import AccountSummary, Flag

ZERO = Decimal("0.00")


@cache
def demo() -> PracticeSnapshot:
    return generate()


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# ---- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_an_identical_snapshot_whatever_the_global_random_state() -> None:
    random.seed(1)
    a = generate(seed=11, patients=300)
    random.seed(2)
    b = generate(seed=11, patients=300)
    assert a == b


def test_a_different_seed_gives_a_different_population_but_the_same_personas() -> None:
    a, b = generate(seed=11, patients=300), generate(seed=12, patients=300)
    assert a != b
    assert a.patients != b.patients and a.ledger != b.ledger
    persona_ids = {p.patient_id for p in PERSONAS.values()} | {p.guarantor_id for p in PERSONAS.values()}
    pa = {p.patient_id: p for p in a.patients if p.patient_id in persona_ids}
    pb = {p.patient_id: p for p in b.patients if p.patient_id in persona_ids}
    assert pa == pb and len(pa) == len(persona_ids)
    aa = {x.patient_id: x for x in a.accounts if x.patient_id in persona_ids}
    ab = {x.patient_id: x for x in b.accounts if x.patient_id in persona_ids}
    assert aa == ab


def test_patient_count_is_honoured_and_ids_are_unique() -> None:
    snap = demo()
    assert len(snap.patients) == 1500
    assert len({p.patient_id for p in snap.patients}) == 1500
    assert len({a.patient_id for a in snap.accounts}) == len(snap.accounts)
    assert len({x.line_id for x in snap.ledger}) == len(snap.ledger)
    assert len({c.claim_id for c in snap.claims}) == len(snap.claims)
    assert len({p.payment_id for p in snap.payments}) == len(snap.payments)
    small = generate(patients=5)
    assert len(small.patients) == 25  # the personas always exist


# ---- ledgers --------------------------------------------------------------------------------------


def _check_ledgers(snap: PracticeSnapshot) -> None:
    guarantor_of = {p.patient_id: p.guarantor_id for p in snap.patients}
    by_family: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for line in snap.ledger:
        fam = by_family[guarantor_of[line.patient_id]]
        fam[line.kind] += line.amount
        assert line.posted_date <= snap.as_of
        assert line.posted_date >= snap.as_of - timedelta(days=731)
        assert line.amount == line.amount.quantize(Decimal("0.01"))
    pending: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for c in snap.claims:
        if c.status not in ("received", "denied"):
            pending[guarantor_of[c.patient_id]][0] += c.ins_pay_estimate
            pending[guarantor_of[c.patient_id]][1] += c.writeoff
    paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for p in snap.payments:
        paid[p.guarantor_id] += p.amount
    accounts = {a.patient_id: a for a in snap.accounts}
    assert set(by_family) <= set(accounts)
    for gid, a in accounts.items():
        ag, fam = a.aging, by_family[gid]
        charges = fam["charge"]
        total = (
            charges
            - -fam["insurance_payment"]
            - -fam["writeoff"]
            - -fam["adjustment"]
            - -fam["patient_payment"]
            + fam["refund"]
            + fam["payplan_charge"]
        )
        assert total == ag.total, gid
        assert ag.bal_0_30 + ag.bal_31_60 + ag.bal_61_90 + ag.bal_over_90 == ag.total, gid
        assert ag.patient_balance == ag.total - ag.insurance_estimate - ag.writeoff_estimate, gid
        assert [ag.insurance_estimate, ag.writeoff_estimate] == pending[gid], gid
        assert paid[gid] == -fam["patient_payment"], gid
        assert ag.as_of == snap.as_of


def test_every_family_ledger_balances_exactly() -> None:
    _check_ledgers(demo())


def test_ledgers_balance_for_another_seed_and_as_of_date() -> None:
    _check_ledgers(generate(seed=3, patients=1200, as_of=date(2025, 2, 28)))


def test_received_claims_match_their_insurance_and_writeoff_lines() -> None:
    snap = demo()
    ins: dict[str, Decimal] = defaultdict(lambda: ZERO)
    wo: dict[str, Decimal] = defaultdict(lambda: ZERO)
    pending_charges: set[str] = set()
    for x in snap.ledger:
        if x.claim_id and x.kind == "insurance_payment":
            ins[x.claim_id] -= x.amount
        elif x.claim_id and x.kind == "writeoff":
            wo[x.claim_id] -= x.amount
        elif x.claim_id and x.kind == "charge" and x.insurance_pending:
            pending_charges.add(x.claim_id)
    for c in snap.claims:
        if c.status in ("received", "denied"):
            assert ins[c.claim_id] == c.ins_paid and wo[c.claim_id] == c.writeoff, c
            assert c.claim_id not in pending_charges
        else:
            assert c.claim_id in pending_charges and ins[c.claim_id] == ZERO, c
        if c.status == "denied":
            assert c.ins_paid == ZERO and c.reason_underpaid


def test_fifo_aging_puts_payments_on_the_oldest_charges() -> None:
    as_of = date(2026, 11, 2)
    lines = [
        (as_of - timedelta(days=100), 10000),
        (as_of - timedelta(days=40), 5000),
        (as_of - timedelta(days=5), -12000),
    ]
    aged = age_ledger(lines, as_of)
    assert (aged.bal_0_30, aged.bal_31_60, aged.bal_61_90, aged.bal_over_90, aged.total) == (
        0,
        3000,
        0,
        0,
        3000,
    )
    assert aged.balance_since == as_of - timedelta(days=40)
    credit = age_ledger([(as_of, 1000), (as_of, -1500)], as_of)
    assert (credit.bal_0_30, credit.total, credit.balance_since) == (-500, -500, None)


# ---- distributions on the default practice ----------------------------------------------------


def _balance_accounts(snap: PracticeSnapshot) -> list[AccountSummary]:
    return [a for a in snap.accounts if a.aging.total != 0]


def test_balance_mix() -> None:
    snap = demo()
    with_balance = _balance_accounts(snap)
    assert 0.24 <= _share(len(with_balance), len(snap.accounts)) <= 0.32
    credit = [a for a in with_balance if a.aging.total < 0]
    assert 0.02 <= _share(len(credit), len(with_balance)) <= 0.09
    assert all(Flag.CREDIT_BALANCE.value in a.flags for a in credit)
    pending = [a for a in with_balance if Flag.INSURANCE_PENDING.value in a.flags]
    assert 0.06 <= _share(len(pending), len(with_balance)) <= 0.15
    assert all(a.aging.patient_balance == ZERO and a.aging.total > 0 for a in pending)
    owed = sorted(a.aging.patient_balance for a in snap.accounts if a.aging.patient_balance > 0)
    assert Decimal(140) <= statistics.median(owed) <= Decimal(240)
    assert Decimal(750) <= owed[int(0.9 * len(owed))] <= Decimal(1400)
    assert owed[-1] <= Decimal(6000)


def test_aging_dollar_mix_is_about_55_15_10_20() -> None:
    positive = [a.aging for a in demo().accounts if a.aging.total > 0]
    total = sum(a.total for a in positive)
    shares = [
        float(sum(getattr(a, b) for a in positive) / total)
        for b in ("bal_0_30", "bal_31_60", "bal_61_90", "bal_over_90")
    ]
    for got, want in zip(shares, (0.55, 0.15, 0.10, 0.20), strict=True):
        assert abs(got - want) <= 0.06, shares


def test_family_sizes_minors_and_split_guarantors() -> None:
    snap = demo()
    sizes = Counter(Counter(p.guarantor_id for p in snap.patients).values())
    families = sum(sizes.values())
    assert 0.42 <= _share(sizes[1], families) <= 0.58
    assert 0.17 <= _share(sizes[2], families) <= 0.30
    assert 0.09 <= _share(sizes[3], families) <= 0.20
    assert 0.05 <= _share(sizes[4], families) <= 0.14
    assert sum(n for size, n in sizes.items() if size >= 5) > 0
    patients = {p.patient_id: p for p in snap.patients}
    minors = [p for p in snap.patients if p.date_of_birth and (snap.as_of - p.date_of_birth).days < 18 * 365]
    assert len(minors) > 100
    for m in minors:
        g = patients[m.guarantor_id]
        assert g.patient_id != m.patient_id and g.date_of_birth is not None
        assert (snap.as_of - g.date_of_birth).days >= 18 * 365
    split = [a for a in snap.accounts if "Shares a cell phone with spouse" in a.guarantor.note]
    assert split, "spouses with their own accounts sharing a phone exist"


def test_insurance_claims_and_payments_mix() -> None:
    snap = demo()
    recent = [c for c in snap.claims if (snap.as_of - c.service_date).days <= 60 and c.status != "denied"]
    statuses = Counter(c.status for c in recent)
    assert 0.42 <= _share(statuses["sent"], len(recent)) <= 0.68
    assert 0.15 <= _share(statuses["received"], len(recent)) <= 0.40
    assert {"waiting", "unsent", "hold"} <= set(statuses)
    settled = [c for c in snap.claims if c.status in ("received", "denied")]
    problems = sum(c.status == "denied" or bool(c.reason_underpaid) for c in settled)
    assert 0.03 <= _share(problems, len(settled)) <= 0.10
    carriers = {c.carrier for c in snap.claims}
    assert {"MetLife", "Cigna Dental", "Aetna Dental", "Guardian", "UnitedHealthcare Dental"} <= carriers
    methods: Counter[str] = Counter(p.method for p in snap.payments)
    n = len(snap.payments)
    for method, want in (("card", 0.65), ("check", 0.15), ("cash", 0.10), ("portal", 0.10)):
        assert abs(_share(methods[method], n) - want) <= 0.05, methods
    assert all(p.processor_ref for p in snap.payments if p.method in ("card", "portal"))


def test_plans_and_promises_mix() -> None:
    snap = demo()
    with_balance = _balance_accounts(snap)
    assert 0.03 <= _share(len(snap.plans), len(with_balance)) <= 0.10
    assert {p.status for p in snap.plans} == {"active", "past_due"}
    accounts = {a.patient_id: a for a in snap.accounts}
    for plan in snap.plans:
        assert Decimal(25) <= plan.installment_amount <= Decimal(250)
        assert plan.total - plan.paid_to_date <= accounts[plan.guarantor_id].aging.patient_balance
        assert (accounts[plan.guarantor_id].aging.payplan_due > 0) == (plan.status == "past_due")
    done = Counter(p.status for p in snap.promises if p.status != "open")
    n = sum(done.values())
    assert 0.48 <= _share(done["kept"], n) <= 0.72
    assert 0.07 <= _share(done["partly_kept"], n) <= 0.24
    assert 0.15 <= _share(done["broken"], n) <= 0.36
    payments = {(p.guarantor_id, p.paid_on, p.amount) for p in snap.payments}
    for promise in snap.promises:
        assert promise.created_at is not None and promise.created_at.date() <= snap.as_of
        if promise.status == "kept":
            assert any(
                (promise.guarantor_id, promise.due_on - timedelta(days=k), promise.amount) in payments
                for k in range(4)
            )


def test_contact_mix_on_guarantors() -> None:
    snap = demo()
    gs = [a.guarantor for a in snap.accounts]
    n = len(gs)
    kinds = Counter(
        "mobile" if any(c.kind == "mobile" for c in g.phones) else "landline" if g.phones else "none"
        for g in gs
    )
    assert 0.85 <= _share(kinds["mobile"], n) <= 0.95
    assert 0.04 <= _share(kinds["landline"], n) <= 0.11
    assert 0.01 <= _share(kinds["none"], n) <= 0.06
    assert 0.62 <= _share(sum(bool(g.emails) for g in gs), n) <= 0.78
    sms: Counter[str] = Counter(c.sms_consent for g in gs for c in g.phones if c.kind == "mobile")
    m = sum(sms.values())
    for value, want in (("yes", 0.55), ("unknown", 0.35), ("no", 0.10)):
        assert abs(_share(sms[value], m) - want) <= 0.06, sms
    pref: Counter[str] = Counter(g.preferred_contact for g in gs)
    for value, want in (("mobile", 0.40), ("text", 0.25), ("email", 0.15), ("home", 0.10), ("none", 0.08)):
        assert abs(_share(pref[value], n) - want) <= 0.06, pref
    assert 0 < pref["do_not_call"] <= 0.05 * n
    lang = Counter(g.language for g in gs)
    assert 0.80 <= _share(lang["en"], n) <= 0.90
    assert 0.08 <= _share(lang["es"], n) <= 0.17
    assert 0.01 <= _share(n - lang["en"] - lang["es"], n) <= 0.06
    wrong = [g for g in gs if Flag.WRONG_NUMBER.value in g.flags]
    assert wrong and len(wrong) <= 0.04 * n


def test_time_zones() -> None:
    gs = [a.guarantor for a in demo().accounts]
    n = len(gs)
    tz = Counter(g.timezone for g in gs)
    far = tz["Pacific/Honolulu"] + tz["America/Anchorage"] + tz["America/Puerto_Rico"]
    assert 0.86 <= _share(tz["America/Chicago"], n) <= 0.94
    assert 0.015 <= _share(far, n) <= 0.05
    assert 0.03 <= _share(n - tz["America/Chicago"] - far - tz[None], n) <= 0.10
    assert 0 < tz[None] <= 0.025 * n


def test_phones_are_valid_e164_unique_and_keep_the_raw_format() -> None:
    snap = demo()
    owners: dict[str, set[str]] = defaultdict(set)
    for p in snap.patients:
        for c in p.phones:
            number = phonenumbers.parse(c.value)
            assert phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)
            assert c.value.startswith("+1") and len(c.value) == 12
            assert c.raw and to_e164(c.raw) == c.value
            if c.kind == "mobile":
                owners[c.value].add(p.patient_id)
        for e in p.emails:
            assert e.value == e.value.lower() and "@example." in e.value
    raw_styles = {c.raw[:1] for p in snap.patients for c in p.phones if c.raw}
    assert {"(", "+"} <= raw_styles  # several typing styles are kept
    patients = {p.patient_id: p for p in snap.patients}
    shared = {num: ids for num, ids in owners.items() if len(ids) > 1}
    assert shared and len(shared) <= 0.03 * len(snap.patients)
    for ids in shared.values():  # deliberately shared: people of one household
        assert len({patients[i].last_name for i in ids}) == 1


def test_datetimes_are_timezone_aware_and_nothing_is_in_the_future_but_appointments() -> None:
    snap = demo()
    for p in snap.payments:
        assert p.posted_at is not None and p.posted_at.tzinfo is not None and p.paid_on <= snap.as_of
    for c in snap.comms:
        assert c.at.tzinfo is not None and c.at.date() <= snap.as_of
    for a in snap.appointments:
        assert a.start.tzinfo is not None
        assert (a.start.date() > snap.as_of) == (a.status == "scheduled")
    assert any(a.status == "broken" for a in snap.appointments)

"""Plan terms: exact cents, inside the policy, and counter-proposals ("can I do $40 a month?")."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import plans
from policies.config import BalanceBand, PlanFrequency, PlanRules, PracticePolicy, load_policy
from policies.types import ContactHistory, PlanTerms

DEMO = load_policy()
TODAY = date(2025, 1, 25)
D = Decimal


def _with(**rules: object) -> PracticePolicy:
    return DEMO.model_copy(update={"plans": PlanRules.model_validate({**DEMO.plans.model_dump(), **rules})})


def _sum(t: PlanTerms) -> Decimal:
    last = t.last_installment_amount if t.last_installment_amount is not None else t.installment_amount
    return t.down_payment + t.installment_amount * (t.installments - 1) + last


@pytest.mark.parametrize(
    ("balance", "keys"),
    [
        ("100.00", ["m2"]),
        ("250.00", ["m2", "m3"]),
        ("1850.00", ["m4", "m8", "m12"]),
        ("12345.67", ["m6", "m12", "m18"]),
    ],
)
def test_demo_options(balance: str, keys: list[str]) -> None:
    opts = plans.options(D(balance), DEMO, TODAY)
    assert [o.plan_key for o in opts] == keys
    for o in opts:
        assert o.total == D(balance) and _sum(o) == D(balance)
        assert o.first_due == date(2025, 2, 1)  # Jan 25 + 7 = Feb 1
        assert plans.validate(o, D(balance), DEMO, TODAY) == []


def test_remainder_cents_land_on_the_last_installment() -> None:
    m3 = plans.options(D("250.00"), DEMO, TODAY)[1]
    assert (m3.installment_amount, m3.installments, m3.last_installment_amount) == (D("83.33"), 3, D("83.34"))


@pytest.mark.parametrize(
    ("balance", "reason"),
    [
        ("99.99", "below_minimum"),
        ("0", "invalid_balance"),
        ("150.005", "invalid_balance"),
        ("-5", "invalid_balance"),
    ],
)
def test_no_plan_reasons(balance: str, reason: str) -> None:
    offer = plans.offer(D(balance), DEMO, TODAY)
    assert (offer.options, offer.reason) == ((), reason)
    assert offer.detail


def test_disabled_down_payment_and_too_small() -> None:
    assert plans.offer(D("500"), _with(enabled=False), TODAY).reason == "plans_disabled"
    assert (
        plans.offer(D("500"), _with(down_payment_percent=100), TODAY).reason == "down_payment_covers_balance"
    )
    assert plans.offer(D("150"), _with(min_monthly=D("100")), TODAY).reason == "too_small_for_installments"


def test_down_payment_percent_and_minimum() -> None:
    pol = _with(down_payment_percent=D("10"), down_payment_min=D("50"))
    low = plans.options(D("300.00"), pol, TODAY)[0]
    assert low.down_payment == D("50.00")
    high = plans.options(D("1234.57"), pol, TODAY)[0]
    assert high.down_payment == D("123.46")  # 10 % rounded up to the cent
    assert all(_sum(o) == D("1234.57") for o in plans.options(D("1234.57"), pol, TODAY))


def test_first_due_skips_the_29th_to_31st() -> None:
    for offset in range(60):
        today = date(2025, 1, 1) + timedelta(days=offset)
        due = plans.first_due_date(today, DEMO)
        assert due.day <= 28 and 7 <= (due - today).days <= 10


def test_staff_approval_by_amount_and_broken_promises() -> None:
    assert not plans.options(D("3000.00"), DEMO, TODAY)[0].needs_staff_approval
    assert plans.options(D("3000.01"), DEMO, TODAY)[0].needs_staff_approval
    shaky = ContactHistory(broken_promises=2)
    assert plans.options(D("800.00"), DEMO, TODAY, history=shaky)[0].needs_staff_approval


def test_weekly_plans_convert_months_and_minimum() -> None:
    pol = _with(frequencies=["weekly"])
    opts = plans.options(D("1200.00"), pol, TODAY)
    assert opts[-1].plan_key == "w26"  # 6 months of weeks
    assert all(o.installment_amount >= D("11.54") for o in opts)  # $50/month = $11.54/week
    assert all(plans.validate(o, D("1200.00"), pol, TODAY) == [] for o in opts)


def test_validate_catches_counter_proposals_outside_policy() -> None:
    forty = PlanTerms(
        "x", D("1850.00"), D("0"), D("40.00"), 47, "monthly", date(2025, 2, 1), False, D("10.00")
    )
    codes = {v.split(":")[0] for v in plans.validate(forty, D("1850.00"), DEMO, TODAY)}
    assert codes == {"installment_below_minimum", "too_long"}
    wrong = PlanTerms("x", D("1850.00"), D("0"), D("300.00"), 6, "monthly", date(2025, 2, 1))
    assert [v.split(":")[0] for v in plans.validate(wrong, D("1850.00"), DEMO, TODAY)] == ["sum_mismatch"]
    late = PlanTerms("x", D("300.00"), D("0"), D("100.00"), 3, "monthly", date(2025, 3, 30))
    codes = {v.split(":")[0] for v in plans.validate(late, D("300.00"), DEMO, TODAY)}
    assert codes == {"first_due_out_of_range", "first_due_day"}
    balloon = PlanTerms(
        "x", D("1000.00"), D("0"), D("50.00"), 3, "monthly", date(2025, 2, 1), False, D("900.00")
    )
    assert "last_installment_invalid" in {
        v.split(":")[0] for v in plans.validate(balloon, D("1000.00"), DEMO, TODAY)
    }
    unapproved = PlanTerms("x", D("4000.00"), D("0"), D("400.00"), 10, "monthly", date(2025, 2, 1))
    assert [v.split(":")[0] for v in plans.validate(unapproved, D("4000.00"), DEMO, TODAY)] == [
        "needs_staff_approval"
    ]
    weekly = PlanTerms("x", D("400.00"), D("0"), D("100.00"), 4, "weekly", date(2025, 2, 1))
    assert [v.split(":")[0] for v in plans.validate(weekly, D("400.00"), DEMO, TODAY)] == [
        "frequency_not_allowed"
    ]


@pytest.mark.parametrize(
    ("balance", "monthly", "amount", "n", "last"),
    [
        ("1850.00", "40", "154.17", 12, "154.13"),  # $40 is too little for 12 months: the closest plan
        ("1850.00", "200", "200.00", 10, "50.00"),  # exactly what was asked, remainder last
        ("130.00", "60", "60.00", 3, "10.00"),
        ("600.00", "10", "100.00", 6, None),  # raised to fit the 6-month band
        ("300.00", "1000", "300.00", 1, None),  # more than the balance: one payment
    ],
)
def test_terms_for_monthly(balance: str, monthly: str, amount: str, n: int, last: str | None) -> None:
    t = plans.terms_for_monthly(D(balance), D(monthly), DEMO, TODAY)
    assert t is not None
    assert (t.installment_amount, t.installments) == (D(amount), n)
    assert t.last_installment_amount == (D(last) if last else None)
    assert _sum(t) == D(balance)
    assert plans.validate(t, D(balance), DEMO, TODAY) == []


def test_terms_for_monthly_without_a_plan() -> None:
    assert plans.terms_for_monthly(D("50.00"), D("10"), DEMO, TODAY) is None
    assert plans.terms_for_monthly(D("500.00"), D("50"), _with(enabled=False), TODAY) is None
    assert plans.terms_for_monthly(D("500.00"), D("50"), DEMO, TODAY, frequency="weekly") is None


# --- properties ----------------------------------------------------------------------------------

cents = st.integers(1, 5_000_000).map(lambda c: Decimal(c) / 100)


@st.composite
def _policies(draw: st.DrawFn) -> PracticePolicy:
    uppers = sorted(draw(st.lists(st.integers(100, 2_000_000), min_size=0, max_size=4, unique=True)))
    bands = [BalanceBand(up_to=Decimal(u) / 100, max_months=draw(st.integers(1, 60))) for u in uppers]
    bands.append(BalanceBand(up_to=None, max_months=draw(st.integers(1, 60))))
    freqs: list[PlanFrequency] = draw(
        st.lists(
            st.sampled_from(["monthly", "every_other_week", "weekly"]), min_size=1, max_size=3, unique=True
        )
    )
    rules = PlanRules(
        min_balance_for_plan=draw(cents.filter(lambda c: c < 1000)),
        min_monthly=draw(st.integers(0, 50_000).map(lambda c: Decimal(c) / 100)),
        bands=bands,
        down_payment_percent=Decimal(draw(st.integers(0, 9_999))) / 100,
        down_payment_min=draw(st.integers(0, 100_000).map(lambda c: Decimal(c) / 100)),
        staff_approval_above=draw(cents),
        frequencies=freqs,
        max_options_offered=draw(st.integers(1, 5)),
        first_due_min_days=draw(st.integers(0, 30)),
        first_due_max_days=draw(st.integers(34, 90)),
    )
    return DEMO.model_copy(update={"plans": rules})


@settings(max_examples=200, deadline=None)
@given(balance=cents, pol=_policies(), today=st.dates(date(2024, 1, 1), date(2030, 12, 31)))
def test_property_every_option_is_in_policy_and_exact(
    balance: Decimal, pol: PracticePolicy, today: date
) -> None:
    opts = plans.options(balance, pol, today)
    assert len(opts) <= pol.plans.max_options_offered
    assert len({o.plan_key for o in opts}) == len(opts)
    for o in opts:
        assert _sum(o) == balance and o.total == balance
        assert plans.validate(o, balance, pol, today) == []
        per_year = plans.PER_YEAR[o.frequency]
        assert o.installment_amount * per_year / 12 >= pol.plans.min_monthly  # never below the minimum
        assert o.installments <= plans.band_months(balance, pol) * per_year // 12  # never beyond the band
        assert o.installments >= 2
        last = o.last_installment_amount or o.installment_amount
        assert o.installment_amount <= last < o.installment_amount + Decimal(o.installments) / 100


@settings(max_examples=200, deadline=None)
@given(balance=cents, monthly=cents, pol=_policies(), today=st.dates(date(2024, 1, 1), date(2030, 12, 31)))
def test_property_counter_proposals_are_in_policy(
    balance: Decimal, monthly: Decimal, pol: PracticePolicy, today: date
) -> None:
    t = plans.terms_for_monthly(balance, monthly, pol, today)
    if t is None:
        no_plan = {"plans_disabled", "invalid_balance", "below_minimum", "down_payment_covers_balance"}
        assert plans.offer(balance, pol, today).reason in no_plan
        return
    assert _sum(t) == balance
    assert plans.validate(t, balance, pol, today) == []
    # closest: when the patient's amount is itself in policy, it is exactly what they get
    financed = balance - t.down_payment
    n_band = plans.max_installments(plans.band_months(balance, pol), t.frequency)
    if (
        t.frequency == "monthly"
        and plans.min_installment(pol, "monthly") <= monthly <= financed
        and math.ceil(financed / monthly) <= n_band
    ):
        assert t.installment_amount == monthly

"""Payment-plan terms inside the practice policy, exact to the cent.

A plan is: an optional down payment (due at acceptance), then `installments` payments of
`installment_amount`, except that the last one is `last_installment_amount` when cents do not
divide evenly. Always: down + amount x (installments - 1) + last == balance, exactly.

Rules (all from `policy.plans`): the balance's band caps the plan length (`max_months`, converted
to installments for weekly / every-other-week plans); every installment but the last is at least
`min_monthly` as a monthly equivalent; the down payment is at least the percent / minimum; the
first installment falls `first_due_min_days`..`first_due_max_days` after acceptance and, for
monthly plans, never on the 29th-31st; balances above `staff_approval_above` (or patients with too
many broken promises) need staff approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from policies.config import PlanFrequency, PracticePolicy
from policies.types import ContactHistory, PlanTerms

CENT = Decimal("0.01")
PER_YEAR: dict[str, int] = {"weekly": 52, "every_other_week": 26, "monthly": 12}
KEY_PREFIX: dict[str, str] = {"weekly": "w", "every_other_week": "b", "monthly": "m"}


@dataclass(frozen=True, slots=True)
class PlanOffer:
    """What `offer` found: the options, or why there are none."""

    options: tuple[PlanTerms, ...]
    reason: str  # "ok", "plans_disabled", "invalid_balance", "below_minimum",
    # "down_payment_covers_balance", "too_small_for_installments"
    detail: str


def _floor(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_FLOOR)


def _ceil(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_CEILING)


def _ceil_div(a: Decimal, b: Decimal) -> int:
    return int((a / b).to_integral_value(rounding=ROUND_CEILING))


def _is_cents(x: Decimal) -> bool:
    return x.is_finite() and x == x.quantize(CENT)


def money(x: Decimal) -> str:
    """$1,234.50 / $1,850 for messages."""
    sign, x = ("-", -x) if x < 0 else ("", x)
    return f"{sign}${x:,.0f}" if x == x.to_integral_value() else f"{sign}${x:,.2f}"


def band_months(balance: Decimal, policy: PracticePolicy) -> int:
    """The longest plan (months) allowed for `balance`: the first band whose up_to covers it."""
    for band in policy.plans.bands:
        if band.up_to is None or balance <= band.up_to:
            return band.max_months
    return policy.plans.bands[-1].max_months


def max_installments(months: int, frequency: str) -> int:
    """Payments that fit in `months` at `frequency` (6 months = 6 monthly, 13 biweekly, 26 weekly)."""
    return months * PER_YEAR[frequency] // 12


def min_installment(policy: PracticePolicy, frequency: str) -> Decimal:
    """Smallest installment: `min_monthly` as a per-installment amount, at least one cent."""
    return max(CENT, _ceil(policy.plans.min_monthly * 12 / PER_YEAR[frequency]))


def required_down_payment(balance: Decimal, policy: PracticePolicy) -> Decimal:
    rules = policy.plans
    return max(_ceil(balance * rules.down_payment_percent / 100), _ceil(rules.down_payment_min))


def first_due_date(today: date, policy: PracticePolicy) -> date:
    """The first installment date: `first_due_min_days` out, moved past the 29th-31st."""
    d = today + timedelta(days=policy.plans.first_due_min_days)
    while d.day > 28:
        d += timedelta(days=1)
    return d


def needs_approval(balance: Decimal, policy: PracticePolicy, history: ContactHistory | None) -> bool:
    rules = policy.plans
    if balance > rules.staff_approval_above:
        return True
    limit = rules.staff_approval_after_broken_promises
    return history is not None and limit is not None and history.broken_promises >= limit


def _terms(
    balance: Decimal,
    down: Decimal,
    amount: Decimal,
    n: int,
    frequency: PlanFrequency,
    first_due: date,
    approval: bool,
) -> PlanTerms:
    last = balance - down - amount * (n - 1)
    return PlanTerms(
        plan_key=f"{KEY_PREFIX[frequency]}{n}",
        total=balance,
        down_payment=down,
        installment_amount=amount,
        installments=n,
        frequency=frequency,
        first_due=first_due,
        needs_staff_approval=approval,
        last_installment_amount=None if last == amount else last,
    )


def _precheck(balance: Decimal, policy: PracticePolicy) -> tuple[str, str] | None:
    rules = policy.plans
    if not rules.enabled:
        return "plans_disabled", "This practice does not offer payment plans."
    if not _is_cents(balance) or balance <= 0:
        return "invalid_balance", f"A plan needs a positive balance in whole cents, not {balance}."
    if balance < rules.min_balance_for_plan:
        return (
            "below_minimum",
            f"Plans start at {money(rules.min_balance_for_plan)}; the balance is {money(balance)}.",
        )
    if required_down_payment(balance, policy) >= balance:
        return "down_payment_covers_balance", "The required down payment is the whole balance."
    return None


def offer(
    balance: Decimal, policy: PracticePolicy, today: date, *, history: ContactHistory | None = None
) -> PlanOffer:
    """Up to `max_options_offered` in-policy plans for `balance`, shortest first, or why none."""
    problem = _precheck(balance, policy)
    if problem:
        return PlanOffer((), *problem)
    rules = policy.plans
    down = required_down_payment(balance, policy)
    financed = balance - down
    months = band_months(balance, policy)
    approval = needs_approval(balance, policy, history)
    first_due = first_due_date(today, policy)
    k = rules.max_options_offered
    out: list[PlanTerms] = []
    for frequency in rules.frequencies:
        n_max = min(max_installments(months, frequency), int(financed / min_installment(policy, frequency)))
        if n_max < 2:
            continue
        counts = sorted({(n_max * i + k // 2) // k for i in range(1, k + 1)} - {0, 1})
        if out:  # further frequencies only fill the remaining slots, longest first
            counts = counts[::-1][: k - len(out)]
        for n in counts:
            out.append(_terms(balance, down, _floor(financed / n), n, frequency, first_due, approval))
        if len(out) >= k:
            break
    if not out:
        return PlanOffer(
            (),
            "too_small_for_installments",
            f"{money(financed)} cannot be split into two payments of at least "
            f"{money(rules.min_monthly)} a month.",
        )
    return PlanOffer(tuple(out[:k]), "ok", f"{len(out[:k])} plan option(s) for {money(balance)}.")


def options(
    balance: Decimal, policy: PracticePolicy, today: date, *, history: ContactHistory | None = None
) -> list[PlanTerms]:
    """The plan options to offer for `balance` (empty when none; `offer` says why)."""
    return list(offer(balance, policy, today, history=history).options)


def terms_for_monthly(
    balance: Decimal,
    monthly: Decimal,
    policy: PracticePolicy,
    today: date,
    *,
    history: ContactHistory | None = None,
    frequency: PlanFrequency | None = None,
) -> PlanTerms | None:
    """The in-policy plan closest to "I can pay `monthly` a month" (None when no plan is possible).

    The amount is raised to the minimum installment, and further if the plan would outrun the
    band's length; the last installment takes the remainder (at most one installment).
    """
    if _precheck(balance, policy) or not monthly.is_finite():
        return None
    freq: PlanFrequency = frequency or policy.plans.frequencies[0]
    if freq not in policy.plans.frequencies:
        return None
    down = required_down_payment(balance, policy)
    financed = balance - down
    n_band = max_installments(band_months(balance, policy), freq)
    if n_band < 1:
        return None
    asked = _floor(max(monthly, Decimal(0)) * 12 / PER_YEAR[freq])
    amount = min(max(asked, min_installment(policy, freq)), financed)
    n = _ceil_div(financed, amount)
    if n > n_band:
        amount = _ceil(financed / n_band)
        n = _ceil_div(financed, amount)
    return _terms(
        balance,
        down,
        amount,
        int(n),
        freq,
        first_due_date(today, policy),
        needs_approval(balance, policy, history),
    )


def validate(
    terms: PlanTerms,
    balance: Decimal,
    policy: PracticePolicy,
    today: date,
    *,
    history: ContactHistory | None = None,
) -> list[str]:
    """Every way `terms` break the policy, as "code: sentence" strings; [] means acceptable."""
    rules = policy.plans
    v: list[str] = []
    problem = _precheck(balance, policy)
    if problem:
        return [f"{problem[0]}: {problem[1]}"]
    amounts = (terms.total, terms.down_payment, terms.installment_amount)
    last = (
        terms.last_installment_amount
        if terms.last_installment_amount is not None
        else terms.installment_amount
    )
    if not all(_is_cents(a) and a >= 0 for a in (*amounts, last)):
        return ["not_cents: every amount must be a non-negative number of whole cents."]
    n = terms.installments
    if n < 1:
        return ["installments_invalid: a plan needs at least one installment."]
    if terms.total != balance:
        v.append(f"total_mismatch: the plan total {money(terms.total)} is not the balance {money(balance)}.")
    if terms.down_payment + terms.installment_amount * (n - 1) + last != balance:
        v.append("sum_mismatch: down payment plus installments does not add up to the balance exactly.")
    if terms.frequency not in rules.frequencies:
        v.append(f"frequency_not_allowed: {terms.frequency} plans are not offered.")
        return v
    need = required_down_payment(balance, policy)
    if terms.down_payment < need:
        v.append(f"down_payment_too_small: the down payment must be at least {money(need)}.")
    financed = balance - terms.down_payment
    if financed <= 0:
        v.append("down_payment_too_large: the down payment covers the whole balance.")
    floor_amount = min(min_installment(policy, terms.frequency), financed)
    if terms.installment_amount < floor_amount:
        v.append(
            f"installment_below_minimum: {money(terms.installment_amount)} is below the "
            f"{money(rules.min_monthly)}-a-month minimum."
        )
    if last <= 0 or last > terms.installment_amount + CENT * n:
        v.append("last_installment_invalid: the last installment must be positive and not a balloon payment.")
    months = band_months(balance, policy)
    if n > max_installments(months, terms.frequency):
        v.append(f"too_long: a {money(balance)} balance allows at most {months} months.")
    lo = today + timedelta(days=rules.first_due_min_days)
    hi = today + timedelta(days=rules.first_due_max_days)
    if not lo <= terms.first_due <= hi:
        v.append(f"first_due_out_of_range: the first installment must fall between {lo} and {hi}.")
    if terms.frequency == "monthly" and terms.first_due.day > 28:
        v.append("first_due_day: monthly due dates must be on the 1st-28th.")
    if needs_approval(balance, policy, history) and not terms.needs_staff_approval:
        v.append("needs_staff_approval: this plan must be approved by staff.")
    return v

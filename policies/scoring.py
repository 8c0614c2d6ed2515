"""Worklist priority: which tier an account belongs to, a score to sort by, and why.

Tiers are decided in this order (the first that applies wins; reasons keep every signal):
1. DO_NOT_CONTACT: no patient balance, a do-not-contact flag (attorney, deceased, agency, credit
   balance, paused), a deceased guarantor, or an opt-out of all contact.
2. HUMAN_REVIEW: a human-review flag (dispute, hardship, wrong number), too many broken promises,
   no phone or e-mail on file, or an old balance with no response.
3. INSURANCE_FOLLOW_UP: the balance waits on insurance (flag, or an estimate at least
   `insurance_follow_up_ratio` x the patient balance with claims open).
4. SOFT_REMINDER for patients on a current payment plan.
5. IMMEDIATE_CALL: a large aged balance, or a broken promise on a plan-size balance.
6. PLAN_CANDIDATE: balance at or above the plan threshold.
7. SOFT_REMINDER otherwise.

The score is the weighted sum of 0-100 components (balance, age, payer history, broken promises,
contactability) with the policy's weights; DO_NOT_CONTACT scores 0. Pure arithmetic, no I/O.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from pms.types import AccountSummary
from policies.config import PracticePolicy
from policies.plans import money
from policies.types import ContactHistory, Priority, SuppressionScope, Tier

_LOG_CAP = math.log1p(10_000)


def days_old(account: AccountSummary, today: date) -> int:
    """Age of the oldest unpaid patient charge (from balance_since, else the aging buckets)."""
    if account.balance_since is not None:
        return max(0, (today - account.balance_since).days)
    a = account.aging
    if a.bal_over_90 > 0:
        return 91
    if a.bal_61_90 > 0:
        return 61
    if a.bal_31_60 > 0:
        return 31
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def prioritise(
    account: AccountSummary, history: ContactHistory, policy: PracticePolicy, today: date
) -> Priority:
    """Tier, score and human-readable reasons for one guarantor account."""
    w = policy.scoring
    g = account.guarantor
    balance = account.aging.patient_balance
    flags = set(account.flags) | set(g.flags) | set(history.extra_flags)
    if g.status == "deceased":
        flags.add("deceased")
    age = days_old(account, today)
    bp = history.broken_promises

    dnc = [f for f in w.do_not_contact_flags if f in flags]
    if "deceased" in flags and "deceased" not in dnc:
        dnc.insert(0, "deceased")
    if balance <= 0:
        return Priority(Tier.DO_NOT_CONTACT, 0.0, (f"no patient balance ({money(balance)})",))
    if dnc:
        return Priority(Tier.DO_NOT_CONTACT, 0.0, tuple(f"flagged {f}" for f in dnc))
    if any(s.scope == SuppressionScope.ALL and s.value is None for s in history.suppressions):
        return Priority(Tier.DO_NOT_CONTACT, 0.0, ("opted out of all contact",))

    components = _components(account, history, balance, age)  # only contactable accounts are scored
    score = round(
        w.balance * components[0]
        + w.age * components[1]
        + w.payer_history * components[2]
        + w.broken_promises * components[3]
        + w.contactability * components[4],
        2,
    )

    reasons: list[str] = []
    shown = money(balance)  # formatted once: Decimal formatting is the costliest part of a reason
    signals: list[str] = [f"balance {shown}"]
    if age:
        signals.append(f"oldest charge {age} days old")
    if bp:
        signals.append(_plural(bp, "broken promise"))

    review = [f"flagged {f}" for f in w.human_review_flags if f in flags]
    if bp >= w.human_review_broken_promises:
        review.append(_plural(bp, "broken promise"))
    if not g.contacts:
        review.append("no phone or e-mail on file")
    silent = history.last_response_at is None or (today - history.last_response_at.date()).days > age
    if age >= w.human_review_days and silent:
        review.append(f"over {w.human_review_days} days old with no response")
    if review:
        return _done(Tier.HUMAN_REVIEW, score, review, signals)

    ins = account.aging.insurance_estimate
    if "insurance_pending" in flags:
        reasons.append(f"insurance pending on {money(ins)}" if ins > 0 else "insurance pending")
        return _done(Tier.INSURANCE_FOLLOW_UP, score, reasons, signals)
    if ins > 0 and account.open_claims > 0 and ins >= balance * w.insurance_follow_up_ratio:
        return _done(
            Tier.INSURANCE_FOLLOW_UP, score, [f"insurance estimate pending on {money(ins)}"], signals
        )

    if history.active_plan_current:
        return _done(Tier.SOFT_REMINDER, score, ["on a current payment plan"], signals)

    if balance >= w.immediate_call_min_balance and age >= w.immediate_call_min_days:
        reasons.append(f"balance {shown} ≥ {money(w.immediate_call_min_balance)} and {age} days old")
        return _done(Tier.IMMEDIATE_CALL, score, reasons, signals)
    if bp and balance >= policy.plans.min_balance_for_plan:
        return _done(Tier.IMMEDIATE_CALL, score, [_plural(bp, "broken promise")], signals)

    threshold = max(w.plan_candidate_min_balance, policy.plans.min_balance_for_plan)
    if policy.plans.enabled and balance >= threshold:
        return _done(Tier.PLAN_CANDIDATE, score, [f"balance {shown} ≥ plan threshold"], signals)
    return _done(Tier.SOFT_REMINDER, score, [f"balance {shown} below plan threshold"], signals)


def _done(tier: Tier, score: float, reasons: list[str], signals: list[str]) -> Priority:
    extra = [s for s in signals if not any(s in r or r in s for r in reasons)]
    return Priority(tier, score, tuple(reasons + extra))


def _components(
    account: AccountSummary, history: ContactHistory, balance: Decimal, age: int
) -> tuple[float, float, float, float, float]:
    """(balance, age, payer history, broken promises, contactability), each 0-100."""
    bal = min(100.0, 100.0 * math.log1p(max(0.0, float(balance))) / _LOG_CAP)
    aged = min(100.0, age / 180 * 100)
    kept, broken = history.kept_promises, history.broken_promises
    payer = 50.0 if kept + broken == 0 else 100.0 * kept / (kept + broken)
    if account.last_payment_date is not None:
        payer = min(100.0, payer + 20.0)
    promises = min(100.0, broken * 100 / 3)
    phones = account.guarantor.phones
    if any(c.kind == "mobile" and c.sms_consent == "yes" for c in phones):
        reach = 100.0
    elif phones:
        reach = 60.0
    elif account.guarantor.emails:
        reach = 30.0
    else:
        reach = 0.0
    return bal, aged, payer, promises, reach

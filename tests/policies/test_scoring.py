"""Worklist tiers, reasons and scores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from pms.types import AccountSummary, Aging, ContactPoint, Patient
from policies.config import load_policy
from policies.scoring import days_old, prioritise
from policies.types import ContactHistory, Suppression, SuppressionScope, Tier

DEMO = load_policy()
TODAY = date(2025, 6, 10)
D = Decimal
MOBILE = ContactPoint("phone", "+13125550101", sms_consent="yes")


def account(
    balance: str,
    *,
    days: int = 45,
    flags: frozenset[str] = frozenset(),
    ins: str = "0",
    claims: int = 0,
    contacts: tuple[ContactPoint, ...] = (MOBILE,),
    **kw: object,
) -> AccountSummary:
    g = Patient("p1", "p1", "Ann", "Lee", None, contacts=contacts, **kw)  # type: ignore[arg-type]
    aging = Aging(patient_balance=D(balance), insurance_estimate=D(ins))
    return AccountSummary(
        g, aging, balance_since=TODAY - timedelta(days=days), flags=flags, open_claims=claims
    )


H = ContactHistory()
OPTED_OUT = ContactHistory(
    suppressions=(Suppression(SuppressionScope.ALL, None, datetime(2025, 1, 1, tzinfo=UTC)),)
)


@pytest.mark.parametrize(
    ("acct", "hist", "tier", "first_reason"),
    [
        (account("1850"), H, Tier.IMMEDIATE_CALL, "balance $1,850 ≥ $1,000 and 45 days old"),
        (account("1850", days=10), H, Tier.PLAN_CANDIDATE, "balance $1,850 ≥ plan threshold"),
        (account("120.50", days=10), H, Tier.SOFT_REMINDER, "balance $120.50 below plan threshold"),
        (account("300"), ContactHistory(broken_promises=1), Tier.IMMEDIATE_CALL, "1 broken promise"),
        (account("300"), ContactHistory(broken_promises=3), Tier.HUMAN_REVIEW, "3 broken promises"),
        (
            account("420", ins="420", claims=1),
            H,
            Tier.INSURANCE_FOLLOW_UP,
            "insurance estimate pending on $420",
        ),
        (
            account("420", flags=frozenset({"insurance_pending"})),
            H,
            Tier.INSURANCE_FOLLOW_UP,
            "insurance pending",
        ),
        (account("900", days=150), H, Tier.HUMAN_REVIEW, "over 120 days old with no response"),
        (account("900", flags=frozenset({"dispute"})), H, Tier.HUMAN_REVIEW, "flagged dispute"),
        (account("900", contacts=()), H, Tier.HUMAN_REVIEW, "no phone or e-mail on file"),
        (account("900", flags=frozenset({"attorney"})), H, Tier.DO_NOT_CONTACT, "flagged attorney"),
        (account("900", status="deceased"), H, Tier.DO_NOT_CONTACT, "flagged deceased"),
        (account("0"), H, Tier.DO_NOT_CONTACT, "no patient balance ($0)"),
        (account("-25"), H, Tier.DO_NOT_CONTACT, "no patient balance (-$25)"),
        (account("900"), OPTED_OUT, Tier.DO_NOT_CONTACT, "opted out of all contact"),
        (
            account("900"),
            ContactHistory(active_plan_current=True),
            Tier.SOFT_REMINDER,
            "on a current payment plan",
        ),
    ],
)
def test_tiers_and_reasons(acct: AccountSummary, hist: ContactHistory, tier: Tier, first_reason: str) -> None:
    p = prioritise(acct, hist, DEMO, TODAY)
    assert p.tier == tier
    assert p.reasons[0] == first_reason
    assert (p.score == 0) == (tier == Tier.DO_NOT_CONTACT)


def test_reasons_keep_the_other_signals() -> None:
    p = prioritise(account("1850", days=10), ContactHistory(broken_promises=0), DEMO, TODAY)
    assert p.reasons == ("balance $1,850 ≥ plan threshold", "oldest charge 10 days old")


def test_a_recent_response_keeps_an_old_balance_with_the_agent() -> None:
    answered = ContactHistory(last_response_at=datetime(2025, 6, 1, tzinfo=UTC))
    assert prioritise(account("900", days=150), answered, DEMO, TODAY).tier == Tier.PLAN_CANDIDATE


def test_score_orders_by_the_weighted_signals() -> None:
    small = prioritise(account("150", days=10), H, DEMO, TODAY).score
    big = prioritise(account("4000", days=10), H, DEMO, TODAY).score
    old = prioritise(account("150", days=100), H, DEMO, TODAY).score
    assert big > small and old > small
    heavy = DEMO.model_copy(update={"scoring": DEMO.scoring.model_copy(update={"age": 5.0})})
    assert prioritise(account("150", days=100), H, heavy, TODAY).score > old


def test_days_old_from_aging_buckets() -> None:
    g = Patient("p", "p", "A", "B", None)
    assert days_old(AccountSummary(g, Aging(bal_over_90=D("5"))), TODAY) == 91
    assert days_old(AccountSummary(g, Aging(bal_61_90=D("5"))), TODAY) == 61
    assert days_old(AccountSummary(g, Aging(bal_31_60=D("5"))), TODAY) == 31
    assert days_old(AccountSummary(g, Aging(bal_0_30=D("5"))), TODAY) == 0

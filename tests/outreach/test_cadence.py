"""policies.cadence: the next step of an account, from policy data, with reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from agent.outreach.planner import approval_needed
from policies.cadence import CadenceRules, CadenceState, PromiseView, next_step
from policies.config import DEMO_POLICY_PATH, PolicyError, load_policy
from policies.types import Tier

RULES = load_policy().cadence
DAY0 = date(2026, 11, 2)


def state(**kw: object) -> CadenceState:
    base = CadenceState(today=DAY0, tier=Tier.SOFT_REMINDER, tier_reasons=("balance $42",), balance=Decimal("42"),
                        cycle_started_on=DAY0, has_email=True)  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def test_small_balance_texts_first_and_large_balance_offers_a_plan() -> None:
    small = next_step(state(), RULES)
    assert (small.kind, small.key, small.channels, small.purpose) == ("contact", "small_text", ("sms", "email"),
                                                                     "balance_reminder")  # fmt: skip
    assert "below $100.00" in small.reasons[0]
    large = next_step(state(balance=Decimal("450")), RULES)
    assert (large.key, large.purpose) == ("plan_offer", "plan_offer")


def test_no_response_in_7_days_switches_digital_channel_then_calls_at_day_15() -> None:
    s = state(done=(("small_text", DAY0),), last_digital="sms", unanswered=1)
    wait = next_step(replace(s, today=date(2026, 11, 8)), RULES)
    assert (wait.kind, wait.key, wait.due_on) == ("wait", "digital_follow_up", date(2026, 11, 9))
    follow = next_step(replace(s, today=date(2026, 11, 9)), RULES)
    assert (follow.kind, follow.channels[0]) == ("contact", "email")
    s2 = replace(
        s, done=(*s.done, ("digital_follow_up", date(2026, 11, 9))), unanswered=2, today=date(2026, 11, 17)
    )
    call = next_step(s2, RULES)
    assert (call.kind, call.key, call.channels, call.due_on) == (
        "contact",
        "first_call",
        ("voice",),
        date(2026, 11, 17),
    )


def test_a_late_step_pushes_the_next_one_by_the_same_gap() -> None:
    s = state(done=(("small_text", date(2026, 11, 5)),), today=date(2026, 11, 10))
    assert next_step(s, RULES).due_on == date(2026, 11, 12)


def test_repeated_silence_and_old_cycles_go_to_human_review() -> None:
    assert next_step(state(unanswered=4), RULES).kind == "review"
    assert next_step(state(today=date(2027, 2, 1)), RULES).kind == "review"


def test_never_contacted_tiers_and_current_plans() -> None:
    for tier in (Tier.DO_NOT_CONTACT, Tier.INSURANCE_FOLLOW_UP):
        assert next_step(state(tier=tier), RULES).kind == "none"
    assert next_step(state(on_current_plan=True, tier=Tier.HUMAN_REVIEW), RULES).kind == "none"
    assert next_step(state(tier=Tier.HUMAN_REVIEW), RULES).kind == "review"


def test_promises_remind_the_day_before_hold_the_cadence_and_broken_ones_get_a_follow_up() -> None:
    p = PromiseView("p1", date(2026, 11, 10), broken=False, open=True)
    early = next_step(state(promises=(p,), today=date(2026, 11, 5)), RULES)
    assert (early.kind, early.key, early.due_on) == ("wait", "promise_reminder:p1", date(2026, 11, 9))
    remind = next_step(state(promises=(p,), today=date(2026, 11, 9)), RULES)
    assert (remind.kind, remind.purpose) == ("contact", "promise_reminder")
    held = next_step(
        state(promises=(p,), today=date(2026, 11, 9), done=(("promise_reminder:p1", DAY0),)), RULES
    )
    assert held.kind == "wait" and held.due_on == date(2026, 11, 11)
    broken = replace(p, broken=True, open=False)
    follow = next_step(state(promises=(broken,), today=date(2026, 11, 11)), RULES)
    assert (follow.kind, follow.purpose) == ("contact", "broken_promise_followup")


def test_a_response_pauses_the_cycle() -> None:
    s = state(done=(("small_text", DAY0),), last_response_on=date(2026, 11, 4), today=date(2026, 11, 9))
    step = next_step(s, RULES)
    assert step.kind == "wait" and step.due_on == date(2026, 11, 11)


def test_cadence_policy_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        CadenceRules.model_validate(
            {"steps": [{"key": "a", "day": 0, "channel": "voice", "purpose": "x"}] * 2}
        )
    with pytest.raises(ValueError, match="order of day"):
        CadenceRules.model_validate({"steps": [{"key": "a", "day": 5, "channel": "voice", "purpose": "x"},
                                               {"key": "b", "day": 1, "channel": "voice", "purpose": "x"}]})  # fmt: skip
    with pytest.raises(ValueError, match="quoted"):
        CadenceRules.model_validate({"send_times": {"sms": 600}})
    bad = tmp_path / "policy.yaml"
    bad.write_text(DEMO_POLICY_PATH.read_text(encoding="utf-8").replace("      day: 7\n", "      day: -1\n"))
    with pytest.raises(PolicyError, match=r"cadence\.steps\.2\.day"):
        load_policy(bad)


@pytest.mark.parametrize(
    ("mode", "channel", "purpose", "balance", "broken", "needs"),
    [
        ("recommend", "sms", "balance_reminder", "40", 0, True),
        ("assisted", "sms", "balance_reminder", "40", 0, False),
        ("assisted", "voice", "balance_call", "40", 0, True),
        ("assisted", "sms", "plan_offer", "400", 0, True),
        ("assisted", "sms", "balance_reminder", "900", 0, True),
        ("autonomous", "voice", "balance_call", "4000", 1, False),
        ("autonomous", "sms", "plan_offer", "9000", 0, True),
        ("autonomous", "sms", "plan_offer", "400", 2, True),
    ],
)
def test_automation_modes(
    mode: str, channel: str, purpose: str, balance: str, broken: int, needs: bool
) -> None:
    policy = load_policy().model_copy(update={"automation_mode": mode})
    assert approval_needed(policy, channel, purpose, Decimal(balance), broken) is needs

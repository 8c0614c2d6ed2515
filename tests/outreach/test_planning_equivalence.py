"""The planning hot path (memoised zone, window and phone look-ups shared across accounts) decides
exactly what a straightforward evaluation decides.

Reference: every account evaluated from empty caches (nothing shared between accounts), and, for
accounts blocked only by the calendar window, `next_allowed_at` found by stepping the clock a
minute at a time through `check` itself. A few thousand generated accounts (the planning
benchmark's generator: demo practice tiled with new numbers, synthetic histories and cycles),
at clocks that cover open and closed windows, a DST change, a holiday and a Sunday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.outreach.facts import AccountFacts
from agent.outreach.planner import cadence_state
from agent.store.outreach import Cycle
from benchmarks.planning import Case, _clear_caches, build_cases, make_accounts
from policies import cadence, compliance, scoring
from policies.config import PracticePolicy, load_policy

CLOCKS = [
    datetime(2026, 11, 2, 16, 0, tzinfo=UTC),  # Mon 10:00 Central: windows open
    datetime(2026, 11, 3, 3, 30, tzinfo=UTC),  # 21:30 Central: closed in Central and Eastern
    datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # the night the US springs forward
    datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # the night the US falls back
    datetime(2026, 12, 25, 15, 0, tzinfo=UTC),  # a holiday
    datetime(2026, 11, 8, 14, 0, tzinfo=UTC),  # a Sunday morning
]
WINDOW_CODES = frozenset({"outside_window", "inconvenient_time", "holiday", "sunday"})


@pytest.fixture(scope="module")
def policy() -> PracticePolicy:
    return load_policy()


@pytest.fixture(scope="module")
def accounts() -> list:
    return make_accounts(2500, base_patients=1500)


def _plan(c: Case, policy: PracticePolicy, now: datetime, today: date) -> tuple:
    p = scoring.prioritise(c.account, c.history, policy, today)
    facts = AccountFacts(c.account, c.history, (), ())
    st = cadence_state(facts, p, Cycle("c", c.cycle_started_on, None), [], policy, today, done=c.done)
    step = cadence.next_step(st, policy.cadence)
    d = (
        compliance.check(c.action, c.account.guarantor, c.account, c.history, policy, now)
        if c.action
        else None
    )
    offset = d.next_allowed_at.utcoffset() if d is not None and d.next_allowed_at is not None else None
    return p, step, d, offset


@pytest.mark.parametrize("now", CLOCKS, ids=lambda t: t.strftime("%Y%m%dT%H%M"))
def test_shared_caches_decide_like_a_cold_evaluation(
    accounts: list, policy: PracticePolicy, now: datetime
) -> None:
    cases = build_cases(accounts, now)
    today = now.astimezone(ZoneInfo(policy.practice.timezone)).date()
    _clear_caches()
    warm = [_plan(c, policy, now, today) for c in cases]
    warm_again = [_plan(c, policy, now, today) for c in cases]
    assert warm_again == warm
    # Cold per account: nothing shared with the accounts evaluated before it.
    for i in range(0, len(cases), 5):
        _clear_caches()
        assert _plan(cases[i], policy, now, today) == warm[i], cases[i].account.patient_id
    assert len({d.reason for _, _, d, _ in warm if d is not None}) >= 8  # a spread of decisions


def _first_allowed_minute(
    c: Case, policy: PracticePolicy, now: datetime, limit: timedelta
) -> datetime | None:
    assert c.action is not None
    t = now
    while t <= now + limit:
        if compliance.check(c.action, c.account.guarantor, c.account, c.history, policy, t).allowed:
            return t
        t += timedelta(minutes=1)
    return None


def test_next_allowed_at_is_the_first_allowed_minute(accounts: list, policy: PracticePolicy) -> None:
    now = CLOCKS[1]
    cases = build_cases(accounts, now)
    blocked = []
    for c in cases:
        if c.action is None:
            continue
        d = compliance.check(c.action, c.account.guarantor, c.account, c.history, policy, now)
        if not d.allowed and d.next_allowed_at is not None and set(d.blocked_by) <= WINDOW_CODES:
            blocked.append((c, d))
    assert len(blocked) > 500
    # A spread of zones and restrictions: every 25th, plus every one with a patient restriction.
    sample = blocked[::25] + [(c, d) for c, d in blocked if "inconvenient_time" in d.blocked_by][:10]
    for c, d in sample:
        assert d.next_allowed_at is not None
        found = _first_allowed_minute(c, policy, now, d.next_allowed_at - now + timedelta(minutes=1))
        assert found == d.next_allowed_at, (c.account.patient_id, d)

"""The benchmarks run, at trivially small sizes. No timing assertions: numbers live in docs/benchmarks.md.

What is asserted is what must hold at any speed: the plan's shape, the duplicate detector, and
(end to end, against PostgreSQL + Redis) that replayed MessageSids are processed once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import planning, run
from benchmarks.common import percentile, summary_ms
from benchmarks.sms_load import Person, Planned, SmsResult, build_plan, run_sms, verify


def _people(n: int, unknown: int = 5) -> tuple[list[Person], list[Person]]:
    known = [Person(f"+1763555{i:04d}", f"Pat Doe{i}", None, True) for i in range(n)]
    strangers = [Person(f"+1651555{i:04d}", "Sam Reed", None, False) for i in range(unknown)]
    return known, strangers


def test_plan_is_open_loop_at_the_rate_with_replays() -> None:
    known, strangers = _people(200)
    plan = build_plan(known, strangers, rate=20, duration=5, warmup=2, replay_share=0.2, seed=3)
    originals = [m for m in plan if not m.replay]
    assert len(originals) == 20 * 7
    assert [round(m.t * 20) for m in originals] == list(range(140))
    assert {m.phase for m in originals if m.t < 2} == {"warmup"}
    replays = [m for m in plan if m.replay]
    assert replays and all(m.phase == "measure" for m in replays)
    by_sid = {m.sid: m for m in originals}
    assert len(by_sid) == len(originals)
    assert all(r.sid in by_sid and r.t > by_sid[r.sid].t and r.body == by_sid[r.sid].body for r in replays)
    assert plan == sorted(plan, key=lambda m: m.t)
    # one person's texts are at least 3 s apart when numbers are plentiful
    last: dict[str, float] = {}
    for m in originals:
        assert m.t - last.get(m.from_, -10.0) >= 3.0 - 1e-9
        last[m.from_] = m.t


def test_plan_with_few_numbers_still_fills_every_slot() -> None:
    known, strangers = _people(3, unknown=0)
    plan = build_plan(known, strangers, rate=10, duration=2, warmup=0, replay_share=0)
    assert len(plan) == 20
    assert {m.from_ for m in plan} <= {p.phone for p in known}


def test_verify_counts_duplicates_and_losses() -> None:
    plan = [
        Planned(0.0, "SM1", "+1", "hi", "measure"),
        Planned(0.1, "SM2", "+2", "hi", "measure"),
        Planned(0.2, "SM2", "+2", "hi", "measure", replay=True),
        Planned(0.3, "SM3", "+3", "hi", "measure"),
    ]
    statuses = {"SM1": [200], "SM2": [200, 200], "SM3": [200]}
    inbound = {"SM1": 1, "SM2": 2}  # SM2 recorded twice, SM3 lost
    timeline = [
        ("+1", "in", "SM1"),
        ("+1", "out", "x"),
        ("+2", "in", "SM2"),
        ("+2", "out", "y"),
        ("+2", "out", "z"),
    ]
    result = SmsResult(workers=1, rate=1, duration=1, patients=1)
    verify(result, plan, statuses, inbound, timeline, Counter({"+1": 1, "+2": 1}))
    assert (result.duplicate_inbound, result.missing_inbound) == (1, 1)
    assert (result.multi_reply, result.replayed_multi_reply) == (1, 1)
    assert result.twilio_mismatch == 1  # +2: two replies recorded, one received
    assert result.duplicates == 3


def test_percentiles() -> None:
    xs = [float(i) for i in range(1, 101)]
    assert (percentile(xs, 50), percentile(xs, 99), percentile(xs, 100)) == (50.0, 99.0, 100.0)
    s = summary_ms([0.001, 0.002, 0.003])
    assert s["max"] == pytest.approx(3.0) and s["n"] == 3


def test_planning_runs_on_a_small_practice() -> None:
    accounts = planning.make_accounts(300, base_patients=400)
    assert len(accounts) == 300 and len({a.patient_id for a in accounts}) == 300
    assert all(a.aging.patient_balance > 0 for a in accounts)
    r = planning.run_planning(accounts=300, prepared=accounts, repeats=1, say=lambda _: None)
    assert sum(r.tiers.values()) == 300
    assert sum(r.decisions.values()) == r.checks > 0
    assert r.seconds > 0


def test_cli_planning_quick(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert run.main(["planning", "--quick", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [p["accounts"] for p in data["planning"]] == [2000, 2000]
    assert data["machine"]["nproc"]


@pytest.mark.postgres
@pytest.mark.redis
def test_sms_load_end_to_end_tiny(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    """A few texts through `agent.cli serve` + FakeTwilio + the load generator, replays included."""
    r = run_sms(
        workers=1,
        rate=5,
        duration=2,
        warmup=0.5,
        patients=400,
        replay_share=0.3,
        redis_url=redis_url.rsplit("/", 1)[0] + "/13",
        workdir=tmp_path,
        say=lambda _: None,
    )
    assert r.sent > 0 and r.replays > 0
    assert r.errors == 0 and r.warmup_errors == 0, r.error_kinds
    assert r.inbound_rows == r.texts  # every text once, replays never
    assert r.missing_inbound == 0 and r.duplicates == 0
    assert r.replies == r.twilio_messages > 0

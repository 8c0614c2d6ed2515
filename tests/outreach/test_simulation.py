"""Sixty days of outreach over the demo practice with a frozen clock and simulated patients.

Shown: zero compliance violations by the independent checker (tests/outreach/checker.py), every
eligible account contacted per the cadence, every ineligible edge case left alone, promise
reminders and broken-promise follow-ups, human review after repeated silence, and a payment posted
minutes before a planned contact cancelling it.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from agent.store.db import make_engine
from agent.store.models import ContactAttemptRow, StaffTaskRow, new_id
from agent.store.models_outreach import OutreachJobRow
from agent.store.outreach import OutreachStore
from policies.config import load_policy
from tests.outreach.checker import check, never_contact
from tests.outreach.conftest import demo
from tests.outreach.sim import START, Clock, Simulation, make_runtime, policy_file

DAYS = 60
# Personas that demonstrate "never contacted" (pms/demo/personas.py).
EDGE_CASES = {"5": "deceased", "6": "attorney", "7": "agency", "8": "credit_balance", "9": "insurance_pending",
              "11": "on_time_plan", "19": "dispute", "183": "wrong_number"}  # fmt: skip


async def test_sixty_days_of_outreach_are_compliant_and_follow_the_cadence(
    demo_sqlite: str, tmp_path: Path
) -> None:
    clock = Clock(START)
    rt = await make_runtime(demo_sqlite, policy_file(tmp_path, "autonomous"), clock)
    sim = Simulation(rt, clock)
    snapshot = demo()
    try:
        # Day 0, before anything is sent: plan, then a payment lands 5 minutes before one contact.
        clock.now = START + timedelta(hours=1)
        first = await sim.service.plan()
        planned = {i.patient_id: i for i in first.items if i.status in ("scheduled", "awaiting_approval")}
        assert planned, "the first plan schedules contacts"
        victim = next(i for i in planned.values() if i.status == "scheduled" and i.channel == "sms")
        assert victim.at is not None and victim.job_id is not None
        sim.at(
            victim.at - timedelta(minutes=5),
            lambda: sim.pay(victim.patient_id, Decimal("10.00"), "sim-early"),
        )
        await sim.run(DAYS)

        payments = {a.patient_id: await rt.pms.get_payments(a.patient_id) for a in snapshot.accounts}
        report = await check(rt.db, snapshot, payments)
        assert report.violations == []
        assert report.contacts, "the simulation contacted patients"
        contacted = {c.guarantor_id for c in report.contacts}
        channels = {c.channel for c in report.contacts}
        assert channels == {"sms", "email", "voice"}

        # The payment minutes before the contact cancelled it (re-checked at dispatch).
        store = OutreachStore(rt.sessions, clock)
        cancelled = await store.get_job(victim.job_id)
        assert (
            cancelled is not None and cancelled.state == "cancelled" and cancelled.detail == "payment_posted"
        )

        # Every ineligible edge case left alone, all run long.
        left_alone = never_contact(snapshot)
        assert set(EDGE_CASES) <= left_alone | {"183"}
        assert not (contacted & left_alone)
        assert not (contacted & set(EDGE_CASES))

        # Every account eligible at the start got its first cadence contact within 3 days (or paid first).
        for gid, item in planned.items():
            if gid == victim.patient_id:
                continue
            sent = sorted((c for c in report.contacts if c.guarantor_id == gid), key=lambda c: c.at)
            assert sent, f"eligible account {gid} ({item.step.key}) was never contacted"
            assert sent[0].at - item.at < timedelta(days=3) if item.at else True

        # Per cadence: steps in policy order, with at least the policy's day gaps between them.
        rules = load_policy().cadence
        order = {s.key: (n, s.day) for n, s in enumerate(rules.steps)}
        jobs = await store.list_jobs(states=("sent",))
        by_cycle: dict[str, list] = {}
        for j in jobs:
            if j.step_key in order:
                by_cycle.setdefault(j.cycle_id, []).append(j)
        for steps in by_cycle.values():
            steps.sort(key=lambda j: j.sent_at)
            keys = [j.step_key for j in steps]
            assert len(keys) == len(set(keys)), keys
            assert [order[k][0] for k in keys] == sorted(order[k][0] for k in keys), keys
            for a, b in itertools.pairwise(steps):
                gap = order[b.step_key][1] - order[a.step_key][1]
                assert (b.sent_at.date() - a.sent_at.date()).days >= gap - 1, (a.step_key, b.step_key)
        assert any(j.step_key == "digital_follow_up" for j in jobs)
        assert any(j.step_key == "first_call" for j in jobs)
        assert any(j.purpose == "promise_reminder" for j in jobs)
        assert any(j.purpose == "broken_promise_followup" for j in jobs)

        # Silence goes to a person: review tasks exist for accounts the cadence gave up on.
        async with rt.sessions() as s:
            reviews = (
                await s.scalars(select(StaffTaskRow).where(StaffTaskRow.kind == "outreach_review"))
            ).all()
        assert reviews
        assert sim.stats.stops and sim.stats.promises and sim.stats.payments
    finally:
        await rt.close()


async def test_the_independent_checker_catches_what_the_gate_must_prevent(demo_sqlite: str) -> None:
    """The checker is not vacuous: contacts at 07:30, on Thanksgiving, to the deceased persona, a
    fourth text in a week, and a contact that was never counted are all reported."""
    engine = make_engine(demo_sqlite)
    snapshot = demo()
    prompt = next(a for a in snapshot.accounts if a.patient_id == "1").guarantor
    mobile = prompt.phones[0].value

    async def sent(gid: str, to: str, at: datetime, *, counted: bool = True) -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(OutreachJobRow).values(
                id=new_id("oj_"), dedupe_key=new_id("dk"), practice_id="maple-grove", guarantor_id=gid,
                cycle_id="c", step_key="small_text", channel="sms", to=to, line_type="mobile",
                purpose="balance_reminder", tier="soft_reminder", score=0.0, reasons=[], balance=Decimal("1"),
                plan_date=at.date(), due_at=at, state="sent", approval="auto", tries=1, detail="",
                created_at=at, updated_at=at, sent_at=at))  # fmt: skip
            if counted:
                await conn.execute(insert(ContactAttemptRow).values(
                    id=new_id("att_"), patient_id=gid, guarantor_id=gid, channel="sms", to=to,
                    direction="outbound", at=at, counted=True, conversation=False, with_consent=False))  # fmt: skip

    chicago = ZoneInfo("America/Chicago")
    await sent("1", mobile, datetime(2026, 11, 3, 7, 30, tzinfo=chicago))
    await sent("1", mobile, datetime(2026, 11, 26, 12, 0, tzinfo=chicago))
    for day in (4, 5, 6):
        await sent("1", mobile, datetime(2026, 11, day, 12, 0, tzinfo=chicago), counted=day != 6)
    await sent("5", "+17635550105", datetime(2026, 11, 9, 12, 0, tzinfo=chicago))
    report = await check(engine, snapshot, {})
    await engine.dispose()
    rules = " | ".join(report.violations)
    for expected in ("outside 08:00-21:00", "public holiday", "text cap exceeded",
                     "left alone", "count:"):  # fmt: skip
        assert expected in rules, (expected, rules)

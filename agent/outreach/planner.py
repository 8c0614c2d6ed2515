"""The daily outreach pipeline: A/R -> tier -> cadence step -> compliance gate -> scheduled job.

`Planner.plan(now)` walks every account with a balance (paged from the PMS), prioritises it
(`scoring.prioritise`), computes its next cadence step (`cadence.next_step`), picks the first
candidate channel and destination the gate does not block for good, and schedules the contact at
the step's preferred patient-local time or the gate's next allowed instant after it. With
`persist=True` the contact becomes an `outreach_jobs` row (scheduled, or awaiting approval by the
automation mode) and human-review steps become one staff task per cycle. The returned
`WorkItem`s are the worklist (`GET /api/worklist`, `balanceline outreach plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from agent.logs import get_logger
from agent.outreach.facts import AccountFacts, gather, line_type, promise_is_broken, store_facts
from agent.store.outreach import Cycle, OutreachJob, OutreachStore, PlannedJob
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from pms.types import AccountSummary, ContactPoint, Patient
from policies import cadence, compliance, scoring
from policies.config import PracticePolicy
from policies.timezones import resolve_zones, zone
from policies.types import Channel, ContactAction, Decision, Priority, Tier
from policies.windows import local_instant

log = get_logger(__name__)

ALL_CHANNELS = frozenset({"sms", "email", "voice"})
DONE_STATES = frozenset({"sent", "rejected", "failed_permanent", "failed_transient", "unknown"})
OPEN = frozenset({"awaiting_approval", "scheduled", "dispatching"})
_MAX_RESCHEDULES = 6


@dataclass(frozen=True, slots=True)
class WorkItem:
    patient_id: str
    tier: str
    score: float
    reasons: tuple[str, ...]
    step: cadence.Step
    channel: str | None = None
    to: str | None = None
    at: datetime | None = None
    decision: Decision | None = None
    status: str = "none"  # scheduled | awaiting_approval | open_job | waiting | review | blocked | none
    job_id: str | None = None

    @property
    def purpose(self) -> str:
        return self.step.purpose


@dataclass
class PlanSummary:
    items: list[WorkItem] = field(default_factory=list)
    created: int = 0

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)


def approval_needed(
    policy: PracticePolicy, channel: str, purpose: str, balance: Decimal, broken: int
) -> bool:
    """The automation mode's answer: must staff approve this contact before it goes out?"""
    mode, auto = policy.automation_mode, policy.cadence.automation
    if mode == "recommend":
        return True
    if mode == "assisted":
        return not (
            purpose in auto.assisted_auto_purposes
            and channel in auto.assisted_auto_channels
            and balance <= auto.assisted_max_balance
        )
    return balance > auto.autonomous_max_balance or broken > auto.autonomous_max_broken_promises


def cadence_state(
    facts: AccountFacts,
    priority: Priority,
    cycle: Cycle,
    jobs: list[OutreachJob],
    policy: PracticePolicy,
    today: date,
    channels: frozenset[str] = ALL_CHANNELS,
    done: tuple[tuple[str, date], ...] | None = None,
) -> cadence.CadenceState:
    """The cadence's view of one account: what this cycle already did and how the patient answered.
    `done` overrides the steps derived from `jobs` (the planning benchmark's synthetic cycles)."""
    acc, h = facts.account, facts.history
    g = acc.guarantor
    tz = zone(policy.practice.timezone)
    a, b = h.last_response_at, h.last_payment_at
    last_response = a if b is None else b if a is None else max(a, b)
    found: list[tuple[str, date]] = []
    last_digital: Channel | None = None
    unanswered = 0
    for j in jobs:
        if j.state not in DONE_STATES:
            continue
        found.append((j.step_key, (j.sent_at or j.due_at).astimezone(tz).date()))
        if j.state == "sent":
            if j.channel in ("sms", "email"):
                last_digital = j.channel  # type: ignore[assignment]
            if last_response is None or (j.sent_at and j.sent_at > last_response):
                unanswered += 1
    views = (
        tuple(
            cadence.PromiseView(
                p.promise_id,
                p.due_on,
                broken=promise_is_broken(p, facts.payments, today, tz),
                open=p.status == "open" and p.due_on >= today,
            )
            for p in facts.promises
        )
        if facts.promises
        else ()
    )
    mobile = phone = email = False
    for c in g.contacts:
        if c.channel == "email":
            email = True
        else:
            phone = True
            mobile = mobile or c.kind == "mobile"
    return cadence.CadenceState(
        today,
        priority.tier,
        priority.reasons,
        acc.aging.patient_balance,
        cycle.started_on,
        tuple(found) if done is None else done,
        last_digital,
        unanswered,
        last_response.astimezone(tz).date() if last_response else None,
        views,
        h.active_plan_current,
        "email" if g.preferred_contact == "email" else "sms",
        mobile and "sms" in channels,
        email and "email" in channels,
        phone and "voice" in channels,
        scoring.days_old(acc, today),
    )


def _unchanged(cycle: Cycle, today: date, pms_changed: bool, active_at: datetime | None) -> bool:
    return not (
        pms_changed
        or cycle.balance_changed
        or cycle.reviewed_at is None
        or cycle.next_review_on is None
        or today >= cycle.next_review_on
        or (active_at is not None and active_at >= cycle.reviewed_at)
    )


REVIEW_AT_LEAST_EVERY = 7  # days: a safety net under the incremental planner


def next_review(
    item: WorkItem, acc: AccountSummary, cycle: Cycle, policy: PracticePolicy, today: date
) -> date | None:
    """The first day the account's answer could change by the calendar alone (None: every run).

    Accounts with a planned or blocked-for-now contact are evaluated every run; quiet ones (none,
    waiting, review, blocked for good) on the day their wait ends, a tier's age threshold is
    crossed, or at least weekly. Any change to the account in between makes it evaluated at once."""
    if item.status not in ("none", "waiting", "review", "blocked"):
        return None
    if item.status == "blocked" and item.decision is not None and item.decision.next_allowed_at is not None:
        return None
    days = [today + timedelta(days=REVIEW_AT_LEAST_EVERY)]
    if item.step.due_on is not None and item.step.due_on > today:
        days.append(item.step.due_on)
    w = policy.scoring
    ages = (w.immediate_call_min_days, w.human_review_days, policy.cadence.human_review_after_days)
    if acc.balance_since is not None:
        days += [
            acc.balance_since + timedelta(days=t)
            for t in ages
            if acc.balance_since + timedelta(days=t) > today
        ]
    cycle_review = cycle.started_on + timedelta(days=policy.cadence.human_review_after_days)
    if cycle_review > today:
        days.append(cycle_review)
    return min(days)


def _targets(g: Patient, channel: Channel) -> list[ContactPoint]:
    if channel == "email":
        return list(g.emails)
    phones = sorted(g.phones, key=lambda c: (not c.is_preferred, c.kind != "mobile"))
    return [c for c in phones if c.kind == "mobile"] if channel == "sms" else phones


def schedule(
    action: ContactAction, facts: AccountFacts, policy: PracticePolicy, start: datetime
) -> tuple[Decision, datetime | None]:
    """The gate's decision at `start` and the first instant from `start` at which it allows the contact."""
    g, acc, h = facts.account.guarantor, facts.account, facts.history
    first = compliance.check(action, g, acc, h, policy, start)
    d, t = first, start
    for _ in range(_MAX_RESCHEDULES):
        if d.allowed:
            return first, t
        if d.next_allowed_at is None:
            return first, None
        t = d.next_allowed_at
        d = compliance.check(action, g, acc, h, policy, t)
    return first, None


def preferred_start(
    g: Patient, channel: Channel, due: date, policy: PracticePolicy, now: datetime, to: str | None
) -> datetime:
    res = resolve_zones(g, to if channel != "email" else None, policy)
    tz = zone(res.primary or policy.practice.timezone)
    at = policy.cadence.send_times.get(channel)
    start = local_instant(due, (at.hour * 3600 + at.minute * 60) if at else 0, tz)
    return max(start, now)


def choose_contact(
    step: cadence.Step, facts: AccountFacts, policy: PracticePolicy, now: datetime
) -> tuple[Channel | None, ContactPoint | None, datetime | None, Decision | None]:
    """First (channel, destination) of the step the gate does not block for good, and when."""
    g = facts.account.guarantor
    first_block: tuple[Channel, ContactPoint, Decision] | None = None
    due = step.due_on or now.date()
    for ch in step.channels:
        for c in _targets(g, ch):
            action = ContactAction(channel=ch, to=c.value, purpose=_gate_purpose(step.purpose),
                                   line_type=line_type(c.kind))  # fmt: skip
            start = preferred_start(g, ch, due, policy, now, c.value)
            decision, at = schedule(action, facts, policy, start)
            if at is not None:
                return ch, c, at, decision
            if first_block is None:
                first_block = (ch, c, decision)
    if first_block is None:
        return None, None, None, None
    return first_block[0], first_block[1], None, first_block[2]


def _gate_purpose(purpose: str) -> compliance.Purpose:
    if purpose == "promise_reminder":
        return "promise_reminder"
    return "balance"


def _not_contacting(reason: str) -> Decision:
    return Decision(False, reason, None, "No contact is planned for this account now.")


class Planner:
    def __init__(
        self,
        *,
        pms: PmsAdapter,
        records: SqlRecords,
        store: OutreachStore,
        policy: PracticePolicy,
        clock: Callable[[], datetime],
        channels: frozenset[str] = ALL_CHANNELS,
    ) -> None:
        self.pms, self.records, self.store, self.policy, self.clock = pms, records, store, policy, clock
        self.channels = channels
        self.tz = ZoneInfo(policy.practice.timezone)

    async def accounts(self, page_size: int = 500) -> list[AccountSummary]:
        out: list[AccountSummary] = []
        offset = 0
        while True:
            page = await self.pms.list_accounts(has_balance=True, limit=page_size, offset=offset)
            out.extend(page.items)
            offset += len(page.items)
            if not page.items or (page.total is not None and offset >= page.total):
                return out

    async def plan(
        self,
        *,
        persist: bool = True,
        incremental: bool = False,
        now: datetime | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> PlanSummary:
        """Evaluate every account with a balance. `persist`: save jobs, cycles and review tasks
        (False = a preview). `incremental`: skip accounts for which nothing can have changed since
        their last evaluation (their items then have status "unchanged"; used by the runners)."""
        now = now or self.clock()
        today = now.astimezone(self.tz).date()
        practice_id = self.policy.practice.practice_id
        accounts = await self.accounts()
        balances = {a.patient_id: a.aging.patient_balance for a in accounts}
        cycles = await self.store.cycles(practice_id, balances, today, write=persist)
        jobs = await self.store.jobs_by_cycle([c.cycle_id for c in cycles.values()])
        fresh: set[str] | None = None
        activity: dict[str, datetime] = {}
        if persist and incremental:
            fresh = await self._pms_changes(practice_id)
            activity = await self.store.activity({a.patient_id: [c.value for c in a.guarantor.contacts]
                                                  for a in accounts})  # fmt: skip
        summary = PlanSummary()
        reviews: dict[str, date | None] = {}
        for i, acc in enumerate(accounts):
            gid = acc.patient_id
            cycle = cycles[gid]
            if fresh is not None and _unchanged(cycle, today, gid in fresh, activity.get(gid)):
                step = cadence.Step("none", reasons=("nothing changed since the last evaluation",))
                summary.items.append(WorkItem(gid, "", 0.0, (), step, status="unchanged"))
                continue
            item = await self._plan_one(acc, cycle, jobs.get(cycle.cycle_id, []), now, today, persist)
            summary.items.append(item)
            reviews[gid] = next_review(item, acc, cycle, self.policy, today)
            if item.status in ("scheduled", "awaiting_approval") and item.job_id:
                summary.created += 1
            if progress is not None:
                progress(i + 1, len(accounts))
        if persist:
            await self.store.set_reviewed(practice_id, reviews, now)
        log.info("outreach_planned", accounts=len(accounts), evaluated=len(reviews), jobs=summary.created)
        return summary

    async def _pms_changes(self, practice_id: str) -> set[str] | None:
        """Accounts the PMS changed since the last incremental plan (None: the adapter cannot say)."""
        if not self.pms.capabilities().changes_since:
            return None
        key = f"{practice_id}:plan"
        cursor = await self.store.get_cursor(key)
        changes = await self.pms.changes_since(cursor)
        await self.store.set_cursor(key, changes.cursor)
        return set(changes.guarantor_ids) if cursor is not None else None

    async def _review(
        self, gid: str, cycle: Cycle, priority: Priority, step: cadence.Step, persist: bool
    ) -> None:
        """One staff task per account and cycle."""
        if not persist or cycle.review_task_id is not None or priority.tier == Tier.DO_NOT_CONTACT:
            return
        task = await self.records.create_staff_task(
            kind="outreach_review",
            patient_id=gid,
            conversation_id=None,
            summary="Outreach needs a person: " + "; ".join(step.reasons[:3]),
            context={"tier": priority.tier.value, "reasons": list(step.reasons)},
        )
        await self.store.set_review_task(self.policy.practice.practice_id, gid, task)

    async def _plan_one(
        self, acc: AccountSummary, cycle: Cycle, jobs: list[OutreachJob], now: datetime, today: date,
        persist: bool,
    ) -> WorkItem:  # fmt: skip
        gid = acc.patient_id
        open_job = next((j for j in jobs if j.state in OPEN), None)
        if open_job is not None:  # already planned: the job row says what and why
            step = cadence.Step("contact", open_job.step_key, (open_job.channel,), open_job.purpose,  # type: ignore[arg-type]
                                open_job.due_at.date(), open_job.reasons)  # fmt: skip
            return WorkItem(gid, open_job.tier, open_job.score, open_job.reasons, step, channel=open_job.channel,
                            to=open_job.to, at=open_job.due_at, status=open_job.state, job_id=open_job.job_id,
                            decision=Decision(True, "ok", None, "Already planned; re-checked at dispatch."))  # fmt: skip
        facts = await store_facts(self.records, acc, now)
        priority = scoring.prioritise(acc, facts.history, self.policy, today)
        if priority.tier not in (Tier.DO_NOT_CONTACT, Tier.INSURANCE_FOLLOW_UP):
            facts = await gather(self.pms, self.records, acc, now, self.tz, known=facts)
            priority = scoring.prioritise(acc, facts.history, self.policy, today)

        def mk(step: cadence.Step, **kw: Any) -> WorkItem:
            return WorkItem(gid, priority.tier.value, priority.score, priority.reasons, step, **kw)

        state = cadence_state(facts, priority, cycle, jobs, self.policy, today, self.channels)
        skipped: list[str] = []
        blocked: WorkItem | None = None
        for _ in range(len(self.policy.cadence.steps) + 2):
            step = cadence.next_step(state, self.policy.cadence)
            if skipped:
                step = replace(step, reasons=(*step.reasons, *skipped))
            if step.kind == "none":
                return blocked or mk(step, decision=_not_contacting("not_eligible"), status="none")
            if step.kind == "wait":
                return mk(step, decision=_not_contacting("not_due"), status="waiting")
            if step.kind == "review":
                await self._review(gid, cycle, priority, step, persist)
                return mk(step, channel="staff", decision=_not_contacting("human_review"), status="review")
            channel, contact, at, decision = choose_contact(step, facts, self.policy, now)
            if channel is not None and contact is not None and at is not None:
                break
            # Blocked for good on every candidate channel: skip the step (explained) and try the next.
            why = decision.reason if decision is not None else "no_destination"
            skipped.append(f"{step.key} skipped: {'/'.join(step.channels) or 'no channel'} blocked ({why})")
            if blocked is None:
                blocked = mk(step, channel=channel, to=contact.value if contact else None,
                             decision=decision or _not_contacting("no_destination"), status="blocked")  # fmt: skip
            state = replace(state, done=(*state.done, (step.key, today)))
        else:
            return blocked or mk(step, decision=_not_contacting("no_destination"), status="blocked")
        assert channel is not None and contact is not None and at is not None
        needs = approval_needed(self.policy, channel, step.purpose, acc.aging.patient_balance,
                                facts.history.broken_promises)  # fmt: skip
        status = "awaiting_approval" if needs else "scheduled"
        job_id = None
        if persist:
            job_id = await self.store.save_planned(
                PlannedJob(
                    dedupe_key=f"{self.policy.practice.practice_id}|{gid}|{cycle.cycle_id}|{step.key}",
                    practice_id=self.policy.practice.practice_id, guarantor_id=gid, cycle_id=cycle.cycle_id,
                    step_key=step.key, channel=channel, to=contact.value, line_type=line_type(contact.kind),
                    purpose=step.purpose, tier=priority.tier.value, score=priority.score,
                    reasons=step.reasons, balance=acc.aging.patient_balance, plan_date=today, due_at=at,
                    approval="required" if needs else "auto",
                )
            )  # fmt: skip
        return mk(step, channel=channel, to=contact.value, at=at, decision=decision,
                        status=status, job_id=job_id)  # fmt: skip

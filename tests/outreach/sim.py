"""A time-travel simulation of outreach over the demo practice: frozen clock, simulated patients.

The product runs for real (runtime, record store, local PMS, planner, dispatcher, SMS through
`GuardedSms` to the embedded local outbox). E-mail and voice are `LoopbackChannel`s standing in
for the vendor channels at the `OutreachChannel` seam: like the real ones, they record the counted
contact attempt and answer SENT with a provider reference.

Patients answer what reaches them, decided by a seeded RNG per contact: reply STOP to a text,
pay in full a few days later, reply and promise to pay (kept or broken), reply only, or stay
silent. Staff approve whatever the automation mode sends to the approval queue each morning.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus, OutreachChannel
from agent.outreach.service import OutreachService
from agent.outreach.sms_channel import SmsOutreachChannel
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.state import make_state
from agent.store.outreach import OutreachJob
from agent.store.records import SqlRecords
from pms.types import PaymentWrite
from policies.config import DEMO_POLICY_PATH
from policies.types import SuppressionScope

CHICAGO = ZoneInfo("America/Chicago")
START = datetime(2026, 11, 2, 6, 0, tzinfo=CHICAGO).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class LoopbackChannel:
    """Stands in for a vendor channel: records the counted attempt, answers SENT."""

    name: str
    records: SqlRecords
    sent: list[ContactRequest] = field(default_factory=list)

    async def dispatch(self, req: ContactRequest) -> DispatchResult:
        ref = f"{self.name}:{req.attempt_id}"
        await self.records.record_attempt(
            channel=req.channel,
            to=req.to,
            patient_id=req.patient_id,
            guarantor_id=req.patient_id,
            provider_sid=ref,
            status="sent",
        )
        self.sent.append(req)
        return DispatchResult(DispatchStatus.SENT, provider_ref=ref)


def policy_file(tmp: Path, mode: str) -> Path:
    raw = yaml.safe_load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    raw["automation_mode"] = mode
    path = tmp / f"policy-{mode}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


async def make_runtime(
    url: str, policy: Path, clock: Clock, *, redis_url: str | None = None, redis_prefix: str = "bl:"
) -> Runtime:
    settings = Settings(DATABASE_URL=url, POLICY_FILE=str(policy), REDIS_URL=redis_url)  # type: ignore[call-arg]
    rt = await build_runtime(settings, clock=clock)
    if redis_url:  # the test's own key namespace
        default, rt.state = rt.state, make_state(redis_url, prefix=redis_prefix)
        await default.close()
    return rt


def channels_for(rt: Runtime) -> dict[str, OutreachChannel]:
    return {
        "sms": SmsOutreachChannel(rt.outbound_sms, rt.policy),
        "email": LoopbackChannel("email", rt.records),
        "voice": LoopbackChannel("voice", rt.records),
    }


Event = tuple[datetime, int, Callable[[], Awaitable[None]]]


@dataclass
class Stats:
    stops: int = 0
    payments: int = 0
    promises: int = 0
    kept: int = 0
    replies: int = 0
    approvals: int = 0
    cancelled_by_payment: str | None = None


class Simulation:
    def __init__(self, rt: Runtime, clock: Clock, *, seed: int = 11) -> None:
        self.rt, self.clock = rt, clock
        self.service = OutreachService.from_runtime(rt, channels=channels_for(rt), worker="sim")
        self.rng = random.Random(seed)
        self.events: list[Event] = []
        self._seq = itertools.count()
        self.seen: set[str] = set()
        self.stats = Stats()
        self._reacted_at: datetime | None = None

    def at(self, when: datetime, fn: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self.events, (when, next(self._seq), fn))

    async def run(self, days: int, step: timedelta = timedelta(hours=2)) -> None:
        """Tick every `step` from 06:00 to midnight Chicago time (every window of the demo's zones,
        Honolulu's included, falls inside); patients' events fire at their own instants."""
        end = self.clock.now + timedelta(days=days)
        last_day = None
        while self.clock.now < end:
            local = self.clock.now.astimezone(CHICAGO)
            if local.date() != last_day and local.hour >= 7:
                last_day = local.date()
                await self._staff_approves()
            await self._fire_events()
            if local.hour >= 6:
                await self.service.tick()
                await self._react()
            self.clock.now += step

    async def _fire_events(self) -> None:
        while self.events and self.events[0][0] <= self.clock.now:
            _, _, fn = heapq.heappop(self.events)
            await fn()

    async def _staff_approves(self) -> None:
        for job in await self.service.store.list_jobs(states=("awaiting_approval",)):
            if await self.service.store.decide(job.job_id, approve=True, actor="sim-staff"):
                self.stats.approvals += 1

    async def _react(self) -> None:
        """Each contact that went out gets the patient's (seeded) reaction."""
        since, self._reacted_at = self._reacted_at, self.clock.now
        for job in await self.service.store.list_jobs(states=("sent",), updated_since=since):
            if job.job_id in self.seen:
                continue
            self.seen.add(job.job_id)
            await self._patient_reacts(job)

    async def _patient_reacts(self, job: OutreachJob) -> None:
        r = self.rng.random()
        now = self.clock.now
        gid = job.guarantor_id
        if job.channel == "sms" and r < 0.08:
            self.at(now + timedelta(minutes=10), lambda: self._stop(gid, job.to))
        elif r < 0.30:
            self.at(now + timedelta(days=self.rng.randint(1, 3)), lambda: self._pay_all(gid))
        elif r < 0.45:
            keep = self.rng.random() < 0.5
            self.at(now + timedelta(hours=3), lambda: self._promise(gid, job.channel, job.to, keep))
        elif r < 0.55:
            self.at(now + timedelta(hours=2), lambda: self._reply(gid, job.channel, job.to))

    # ---- behaviours --------------------------------------------------------------------------

    async def _stop(self, gid: str, to: str) -> None:
        self.stats.stops += 1
        await self.rt.records.add_suppression(
            patient_id=gid, value=to, scope=SuppressionScope.SMS, reason="stop", source="sms"
        )

    async def _reply(self, gid: str, channel: str, to: str) -> None:
        self.stats.replies += 1
        await self.rt.records.record_attempt(
            channel=channel, to=to, patient_id=gid, guarantor_id=gid, direction="inbound", counted=False
        )

    async def pay(self, gid: str, amount: Decimal, key: str) -> None:
        if amount <= 0:
            return
        self.stats.payments += 1
        local = self.clock.now.astimezone(CHICAGO)
        await self.rt.pms.record_payment(
            PaymentWrite(
                idempotency_key=key,
                guarantor_id=gid,
                amount=amount,
                paid_on=local.date(),
                method="portal",
                processor_ref=key,
            )
        )

    async def _pay_all(self, gid: str) -> None:
        account = await self.rt.pms.get_account(gid)
        if account is not None:
            await self.pay(gid, account.aging.patient_balance, f"sim-pay-{gid}-{self.clock.now:%Y%m%d%H}")

    async def _promise(self, gid: str, channel: str, to: str, keep: bool) -> None:
        await self._reply(gid, channel, to)
        account = await self.rt.pms.get_account(gid)
        if account is None or account.aging.patient_balance <= 0:
            return
        amount = min(account.aging.patient_balance, Decimal("50.00"))
        due = self.clock.now.astimezone(CHICAGO).date() + timedelta(days=6)
        await self.rt.records.record_promise(
            guarantor_id=gid, amount=amount, due_on=due, conversation_id="sim", channel=channel
        )
        self.stats.promises += 1
        if keep:
            self.stats.kept += 1
            when = datetime.combine(due, time(12), CHICAGO).astimezone(UTC)
            self.at(when, lambda: self.pay(gid, amount, f"sim-promise-{gid}-{due}"))

"""Outreach wired to a runtime: channels, planner, dispatcher, the incremental A/R sync and one tick.

`OutreachService.tick()` is what both runners call: sweep jobs whose worker died, apply the PMS
changes since the last cursor (cancel open jobs of accounts that no longer owe), plan once per
practice-local day (the daily pipeline), then dispatch every due job. The embedded default runs
it in-process (`run_in_process`, from `Runtime.start_background` when there is no Redis); with
Redis, `balanceline worker` runs arq workers (`agent.outreach.jobs`) that share the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from agent.logs import get_logger
from agent.outreach.channels import OutreachChannel
from agent.outreach.dispatcher import Dispatcher
from agent.outreach.planner import Planner, PlanSummary
from agent.outreach.sms_channel import SmsOutreachChannel
from agent.state.base import SharedState
from agent.store.outreach import OutreachStore
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from policies.config import PracticePolicy

if TYPE_CHECKING:
    from agent.runtime import Runtime

log = get_logger(__name__)

LEASE_SECONDS = 600.0  # a job still "dispatching" after this long lost its worker
_OPTIONAL = (("email", "agent.outreach.email_channel", "make_email_channel"),
             ("voice", "agent.outreach.voice_channel", "make_voice_channel"))  # fmt: skip


def build_channels(runtime: Runtime) -> dict[str, OutreachChannel]:
    """SMS always (the guarded path; a local outbox in the embedded default); e-mail and voice when
    their channel module exists and the vendor is configured."""
    channels: dict[str, OutreachChannel] = {"sms": SmsOutreachChannel(runtime.outbound_sms, runtime.policy)}
    configured = {"email": runtime.settings.email_configured, "voice": runtime.settings.twilio_configured}
    for name, module, factory in _OPTIONAL:
        if not configured[name]:
            continue
        try:
            make = getattr(importlib.import_module(module), factory)
        except (ImportError, AttributeError):
            continue
        channels[name] = make(runtime)
    return channels


@dataclass
class OutreachService:
    pms: PmsAdapter
    records: SqlRecords
    store: OutreachStore
    state: SharedState
    policy: PracticePolicy
    channels: dict[str, OutreachChannel]
    clock: Callable[[], datetime]
    worker: str | None = None
    _planned_on: str | None = field(default=None, init=False)
    _cursor: str | None = field(default=None, init=False)
    _swept_at: datetime | None = field(default=None, init=False)

    @classmethod
    def from_runtime(
        cls,
        runtime: Runtime,
        *,
        channels: dict[str, OutreachChannel] | None = None,
        worker: str | None = None,
    ) -> OutreachService:
        return cls(
            pms=runtime.pms,
            records=runtime.records,
            store=OutreachStore(runtime.sessions, runtime.clock),
            state=runtime.state,
            policy=runtime.policy,
            channels=build_channels(runtime) if channels is None else channels,
            clock=runtime.clock,
            worker=worker,
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.practice.timezone)

    def planner(self) -> Planner:
        return Planner(pms=self.pms, records=self.records, store=self.store, policy=self.policy,
                       clock=self.clock, channels=frozenset(self.channels))  # fmt: skip

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(store=self.store, records=self.records, pms=self.pms, state=self.state,
                          policy=self.policy, channels=self.channels, clock=self.clock, worker=self.worker)  # fmt: skip

    async def plan(
        self,
        *,
        persist: bool = True,
        incremental: bool = False,
        progress: Callable[[int, int], None] | None = None,
        now: datetime | None = None,
    ) -> PlanSummary:
        """The daily pipeline, under a practice-wide lock so two workers never plan at once."""
        async with self.state.lock(
            f"outreach:plan:{self.policy.practice.practice_id}", ttl_seconds=600, wait_seconds=600
        ):
            summary = await self.planner().plan(
                persist=persist, incremental=incremental, progress=progress, now=now
            )
        return summary

    async def sync_changes(self) -> int:
        """Incremental A/R sync: open jobs of accounts that changed and no longer owe are cancelled
        (the dispatcher re-checks everything else). Returns the number of changed accounts."""
        if not self.pms.capabilities().changes_since:
            return 0
        practice_id = self.policy.practice.practice_id
        if self._cursor is None:
            self._cursor = await self.store.get_cursor(practice_id)
        changes = await self.pms.changes_since(self._cursor)
        if changes.cursor == self._cursor:
            return 0
        if self._cursor is not None and changes.guarantor_ids:
            waiting = await self.store.list_jobs(states=("scheduled", "awaiting_approval"))
            open_ids = {j.guarantor_id for j in waiting}
            for gid in changes.guarantor_ids:
                if gid not in open_ids:
                    continue
                account = await self.pms.get_account(gid)
                if account is None or account.aging.patient_balance <= 0:
                    await self.store.cancel_open(gid, reason="balance_cleared")
        await self.store.set_cursor(practice_id, changes.cursor)
        self._cursor = changes.cursor
        return len(changes.guarantor_ids)

    async def housekeeping(self) -> None:
        """Sweep jobs whose worker died (at most every half lease) and apply PMS changes."""
        now = self.clock()
        if self._swept_at is None or (now - self._swept_at).total_seconds() >= LEASE_SECONDS / 2:
            await self.store.sweep_stale(LEASE_SECONDS)
            self._swept_at = now
        await self.sync_changes()

    async def plan_if_due(self) -> bool:
        """The daily pipeline once per practice-local day, whichever runner or worker gets here
        first (the day is marked in shared state, so Redis makes it once across workers)."""
        today = self.clock().astimezone(self.tz).date().isoformat()
        key = f"outreach:planned:{self.policy.practice.practice_id}"
        if self._planned_on == today or await self.state.get(key) == today:
            self._planned_on = today
            return False
        await self.plan(incremental=True)
        await self.state.set(key, today, ttl_seconds=3 * 86400)
        self._planned_on = today
        return True

    async def tick(self, *, plan: bool = True) -> Counter[str]:
        """One pass of the in-process runner: housekeeping, the daily plan, dispatch what is due."""
        await self.housekeeping()
        if plan:
            await self.plan_if_due()
        return await self.dispatcher().run_due()


async def run_in_process(service: OutreachService, stop: asyncio.Event, interval: float = 30.0) -> None:
    """The embedded default's runner: `tick()` every `interval` seconds until `stop` is set."""
    log.info("outreach_runner_started", interval=interval, channels=sorted(service.channels))
    while not stop.is_set():
        # Wait first: a server that starts and stops within `interval` (tests, `serve` restarts) plans nothing.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            outcomes = await service.tick()
            if outcomes:
                log.info("outreach_tick", **{k: int(v) for k, v in outcomes.items()})
        except Exception:
            log.exception("outreach_tick_failed")


def start_in_process(
    runtime: Runtime, stop: asyncio.Event, interval: float = 30.0
) -> list[asyncio.Task[None]]:
    """The task `Runtime.start_background` adds for the embedded default (with Redis, arq workers
    started by `balanceline worker` do this instead)."""
    if runtime.settings.redis_url:
        return []
    return [asyncio.create_task(run_in_process(OutreachService.from_runtime(runtime), stop, interval))]

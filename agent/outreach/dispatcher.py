"""Dispatch one scheduled outreach job: claim it, lock the account, re-check, hand it to a channel.

The job row is the truth: `OutreachStore.claim` (a conditional UPDATE) gives it to one worker
only. Under the account's shared-state lock the dispatcher reads the account again from the PMS
and the store, and cancels the contact if a payment posted after it was planned, the account is
no longer eligible (tier), or another outreach contact went out within
`cadence.min_hours_between_contacts`; it re-runs the compliance gate (a temporal block
reschedules, a standing one blocks). Channel outcomes: SENT -> sent; TRANSIENT -> retried with
exponential backoff up to `cadence.max_dispatch_tries`; PERMANENT / BLOCKED -> final.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from agent.logs import get_logger
from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus, OutreachChannel
from agent.outreach.facts import LineType, gather, paid_since
from agent.state.base import LockNotAcquired, SharedState
from agent.store.outreach import OutreachJob, OutreachStore
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from pms.types import CommLogWrite
from policies import compliance, scoring
from policies.config import PracticePolicy
from policies.types import Channel, ContactAction, Tier

log = get_logger(__name__)

_SILENT = {Tier.DO_NOT_CONTACT, Tier.INSURANCE_FOLLOW_UP, Tier.HUMAN_REVIEW}
BUSY_RETRY = timedelta(seconds=30)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        *,
        store: OutreachStore,
        records: SqlRecords,
        pms: PmsAdapter,
        state: SharedState,
        policy: PracticePolicy,
        channels: Mapping[str, OutreachChannel],
        clock: Callable[[], datetime],
        worker: str | None = None,
        lock_seconds: float = 120,
        lock_wait: float = 2,
    ) -> None:
        self.store, self.records, self.pms, self.state = store, records, pms, state
        self.policy, self.channels, self.clock = policy, channels, clock
        self.worker = worker or worker_name()
        self.lock_seconds, self.lock_wait = lock_seconds, lock_wait
        self.tz = ZoneInfo(policy.practice.timezone)

    async def run_due(self, limit: int = 200) -> Counter[str]:
        """Dispatch every job due now (one at a time); returns outcome counts."""
        out: Counter[str] = Counter()
        for job_id in await self.store.due_job_ids(self.clock(), limit):
            out[await self.dispatch(job_id)] += 1
        return out

    async def dispatch(self, job_id: str) -> str:
        job = await self.store.claim(job_id, self.worker)
        if job is None:
            return "not_claimed"
        try:
            async with self.state.lock(
                f"outreach:account:{job.guarantor_id}",
                ttl_seconds=self.lock_seconds,
                wait_seconds=self.lock_wait,
            ):
                return await self._locked(job)
        except LockNotAcquired:
            await self.store.reschedule(job.job_id, self.clock() + BUSY_RETRY, detail="account_busy",
                                        worker=self.worker)  # fmt: skip
            return "busy"
        except Exception:
            # Nothing was handed to a channel (it catches its own errors below): try again later.
            log.exception("outreach_dispatch_error", job_id=job.job_id)
            await self._retry(job, "internal_error")
            return "error"

    async def _locked(self, job: OutreachJob) -> str:
        now = self.clock()
        gid = job.guarantor_id
        account = await self.pms.get_account(gid)
        if account is None or account.aging.patient_balance <= 0:
            return await self._end(job, "cancelled", "no_balance")
        facts = await gather(self.pms, self.records, account, now, self.tz)
        if paid_since(facts.payments, job.created_at, self.tz):
            return await self._end(job, "cancelled", "payment_posted")
        today = now.astimezone(self.tz).date()
        tier = scoring.prioritise(account, facts.history, self.policy, today).tier
        if tier in _SILENT or (facts.history.active_plan_current and not job.step_key.startswith("promise")):
            return await self._end(job, "cancelled", f"not_eligible:{tier.value}")
        gap = timedelta(hours=self.policy.cadence.min_hours_between_contacts)
        recent = [a.at for a in facts.history.attempts
                  if a.direction == "outbound" and a.counted and now - gap < a.at <= now]  # fmt: skip
        if recent:
            await self.store.reschedule(
                job.job_id, max(recent) + gap, detail="recent_contact", worker=self.worker
            )
            return "rescheduled"
        action = ContactAction(
            channel=cast(Channel, job.channel),
            to=job.to,
            purpose="promise_reminder" if job.purpose == "promise_reminder" else "balance",
            line_type=cast(LineType, job.line_type),
        )
        decision = compliance.check(action, account.guarantor, account, facts.history, self.policy, now)
        if not decision.allowed:
            if decision.next_allowed_at is not None:
                await self.store.reschedule(job.job_id, decision.next_allowed_at,
                                            detail=f"gate:{decision.reason}", worker=self.worker)  # fmt: skip
                return "rescheduled"
            return await self._end(job, "blocked", f"gate:{decision.reason}")
        channel = self.channels.get(job.channel)
        if channel is None:
            return await self._end(job, "blocked", f"channel_unavailable:{job.channel}")
        req = ContactRequest(
            attempt_id=job.job_id,
            patient_id=gid,
            channel=job.channel,  # type: ignore[arg-type]
            to=job.to,
            purpose=job.purpose,
            practice_id=job.practice_id,
        )
        try:
            result = await channel.dispatch(req)
        except Exception as exc:  # a channel bug or an unexpected vendor error: treat as transient
            log.warning("outreach_channel_error", job_id=job.job_id, error=type(exc).__name__)
            result = DispatchResult(DispatchStatus.TRANSIENT, detail=f"exception:{type(exc).__name__}")
        return await self._outcome(job, result, now)

    async def _outcome(self, job: OutreachJob, result: DispatchResult, now: datetime) -> str:
        if result.status == DispatchStatus.SENT:
            await self.store.finish(job.job_id, "sent", detail=result.detail or "sent",
                                    provider_ref=result.provider_ref, worker=self.worker)  # fmt: skip
            await self.records.enqueue_pms_write(
                CommLogWrite(
                    idempotency_key=f"outreach|{job.job_id}",
                    patient_id=job.guarantor_id,
                    at=now,
                    mode={"sms": "text", "email": "email", "voice": "phone"}.get(job.channel, "none"),  # type: ignore[arg-type]
                    direction="sent",
                    note=f"BalanceLine outreach ({job.channel}, {job.purpose}).",
                )
            )
            return "sent"
        if result.status == DispatchStatus.TRANSIENT:
            return await self._retry(job, result.detail or "transient")
        state = "blocked" if result.status == DispatchStatus.BLOCKED else "failed_permanent"
        return await self._end(job, state, result.detail or state, provider_ref=result.provider_ref)

    async def _retry(self, job: OutreachJob, detail: str) -> str:
        rules = self.policy.cadence
        if job.tries >= rules.max_dispatch_tries:
            return await self._end(job, "failed_transient", detail)
        delay = timedelta(seconds=rules.retry_backoff_seconds * 2 ** (job.tries - 1))
        await self.store.reschedule(
            job.job_id, self.clock() + delay, detail=f"retry:{detail}", worker=self.worker
        )
        return "retry"

    async def _end(self, job: OutreachJob, state: str, detail: str, provider_ref: str | None = None) -> str:
        await self.store.finish(
            job.job_id, state, detail=detail, provider_ref=provider_ref, worker=self.worker
        )
        return state

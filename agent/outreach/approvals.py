"""The outreach approval queue as the staff console reads it (`agent.console.approvals`).

Contacts the automation mode holds for a person (recommend: all; assisted: outside the low-risk
segment; autonomous: above the thresholds) wait as `awaiting_approval` outreach jobs; approving
schedules them (the gate is still re-checked at dispatch), rejecting settles the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from agent.store.outreach import OutreachJob, OutreachStore

if TYPE_CHECKING:
    from agent.runtime import Runtime

_CHANNEL = {"sms": "Text", "email": "E-mail", "voice": "Call"}


@dataclass(frozen=True, slots=True)
class PendingApproval:
    approval_id: str
    title: str
    created_at: datetime
    patient_id: str
    description: str
    reason: str


def _pending(job: OutreachJob, mode: str) -> PendingApproval:
    what = f"{_CHANNEL.get(job.channel, job.channel)}: {job.purpose.replace('_', ' ')}"
    return PendingApproval(
        approval_id=job.job_id,
        title=what,
        created_at=job.created_at,
        patient_id=job.guarantor_id,
        description=f"Planned for {job.due_at:%a %b %d %H:%M} UTC ({job.step_key}). "
        + "; ".join(job.reasons[:3]),
        reason=f"automation mode '{mode}'",
    )


async def list_pending(runtime: Runtime) -> list[PendingApproval]:
    store = OutreachStore(runtime.sessions, runtime.clock)
    jobs = await store.list_jobs(states=("awaiting_approval",), limit=500)
    return [_pending(j, runtime.policy.automation_mode) for j in jobs]


async def decide(runtime: Runtime, approval_id: str, *, approve: bool, actor: str) -> bool:
    store = OutreachStore(runtime.sessions, runtime.clock)
    return await store.decide(approval_id, approve=approve, actor=actor) is not None

"""The worklist and approval-queue views shared by the API and the CLI (JSON-ready dicts)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from agent.outreach.planner import WorkItem
from agent.store.outreach import OutreachJob


def as_of(day: date | None, now: datetime, tz: ZoneInfo) -> datetime:
    """The instant a worklist for `day` is computed at: now for today, the start of a later day."""
    if day is None or day <= now.astimezone(tz).date():
        return now
    return datetime.combine(day, time(0), tz)


def item_out(item: WorkItem) -> dict[str, Any]:
    d = item.decision
    return {
        "patient_id": item.patient_id,
        "tier": item.tier,
        "score": item.score,
        "reasons": list(item.step.reasons) or list(item.reasons),
        "tier_reasons": list(item.reasons),
        "status": item.status,
        "job_id": item.job_id,
        "next_step": {
            "kind": item.step.kind,
            "step": item.step.key or None,
            "channel": item.channel,
            "at": item.at.isoformat() if item.at else None,
            "due_on": item.step.due_on.isoformat() if item.step.due_on else None,
            "purpose": item.step.purpose or None,
            "template": item.step.purpose or None,
        },
        "decision": {
            "allowed": d.allowed if d else False,
            "reason": d.reason if d else "none",
            "next_allowed_at": d.next_allowed_at.isoformat() if d and d.next_allowed_at else None,
            "detail": d.detail if d else "",
        },
    }


def job_out(job: OutreachJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "patient_id": job.guarantor_id,
        "step": job.step_key,
        "channel": job.channel,
        "purpose": job.purpose,
        "tier": job.tier,
        "score": job.score,
        "reasons": list(job.reasons),
        "balance": str(job.balance),
        "due_at": job.due_at.isoformat(),
        "state": job.state,
        "approval": job.approval,
        "detail": job.detail,
    }

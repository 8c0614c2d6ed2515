"""Outreach tables: the planned/dispatched contacts (the truth for each attempt), cycles and sync cursors.

`outreach_jobs` is the durable attempt row: one per planned contact, identified by `dedupe_key`
(account | cycle | step) so re-planning never duplicates a step. A worker owns a job only after
winning the conditional UPDATE `state: scheduled -> dispatching`; its id is the vendor idempotency
key (`ContactRequest.attempt_id`). States:

    awaiting_approval -> scheduled (approved) | rejected
    scheduled -> dispatching -> sent | blocked | cancelled | failed_permanent | failed_transient
                            \\-> scheduled (rescheduled: gate said later, or a transient failure to retry)
    dispatching (worker died mid-send) -> unknown (swept after the lease; never re-sent automatically)
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, Money
from pms.local.models import UtcDateTime

OPEN_STATES = ("awaiting_approval", "scheduled", "dispatching")
FINAL_STATES = ("sent", "blocked", "cancelled", "failed_permanent", "failed_transient", "rejected", "unknown")


class OutreachJobRow(Base):
    __tablename__ = "outreach_jobs"
    __table_args__ = (
        Index("ix_outreach_jobs_state_due_at", "state", "due_at"),
        Index("ix_outreach_jobs_guarantor_id", "guarantor_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    guarantor_id: Mapped[str] = mapped_column(String(64))
    cycle_id: Mapped[str] = mapped_column(String(64))
    step_key: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    to: Mapped[str] = mapped_column(String(320))
    line_type: Mapped[str] = mapped_column(String(16), default="mobile")
    purpose: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(default=0.0)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    balance: Mapped[Decimal] = mapped_column(Money)
    plan_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(24))
    approval: Mapped[str] = mapped_column(String(16))  # auto | required | approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text, default="")  # machine-readable reason, no PHI
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutreachAccountRow(Base):
    """The current collection cycle of one account (a cycle restarts when a clear account owes again)."""

    __tablename__ = "outreach_accounts"

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cycle_id: Mapped[str] = mapped_column(String(64))
    cycle_started_on: Mapped[date] = mapped_column(Date)
    balance: Mapped[Decimal] = mapped_column(Money)
    review_task_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Incremental planning: nothing can change for this account before `next_review_on` unless
    # something about it changes after `reviewed_at` (PMS change, contact, ledger, promise, flag).
    next_review_on: Mapped[date | None] = mapped_column(Date)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutreachCursorRow(Base):
    """Where the last incremental A/R sync stopped (`PmsAdapter.changes_since`)."""

    __tablename__ = "outreach_cursors"

    practice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(255))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime)

"""`OutreachStore`: outreach jobs (the durable attempt rows), collection cycles and sync cursors.

A job is claimed by exactly one worker with a conditional UPDATE (`scheduled -> dispatching`,
rowcount 1 wins), on SQLite and PostgreSQL alike, however many workers race for it. Every state
change that matters (approval, dispatch outcome) writes an audit event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from agent.store.base import StoreBase, upsert
from agent.store.models import (
    AccountFlagRow,
    ConsentEntryRow,
    ContactAttemptRow,
    ConversationRow,
    PromiseRow,
    new_id,
)
from agent.store.models_outreach import OPEN_STATES, OutreachAccountRow, OutreachCursorRow, OutreachJobRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """What the planner asks the store to keep (id and timestamps are the store's)."""

    dedupe_key: str
    practice_id: str
    guarantor_id: str
    cycle_id: str
    step_key: str
    channel: str
    to: str
    line_type: str
    purpose: str
    tier: str
    score: float
    reasons: tuple[str, ...]
    balance: Decimal
    plan_date: date
    due_at: datetime
    approval: str  # auto | required | approved | rejected


@dataclass(frozen=True, slots=True)
class OutreachJob(PlannedJob):
    """A stored job: the plan plus where it stands."""

    job_id: str = ""
    state: str = ""
    tries: int = 0
    provider_ref: str | None = None
    detail: str = ""
    created_at: datetime = EPOCH  # always set on stored jobs (a default only because PlannedJob has none)
    sent_at: datetime | None = None
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Cycle:
    cycle_id: str
    started_on: date
    review_task_id: str | None
    next_review_on: date | None = None
    reviewed_at: datetime | None = None
    balance_changed: bool = True


_PLANNED = tuple(PlannedJob.__dataclass_fields__)


def _job(r: OutreachJobRow) -> OutreachJob:
    plan = {k: getattr(r, k) for k in _PLANNED}
    plan["reasons"] = tuple(r.reasons or ())
    return OutreachJob(**plan, job_id=r.id, state=r.state, tries=r.tries, provider_ref=r.provider_ref,
                       detail=r.detail, created_at=r.created_at, sent_at=r.sent_at, claimed_by=r.claimed_by)  # fmt: skip


# Planning may revive a job of the same step that ended without contacting anyone for a reason that
# can change (the gate said "not now" at dispatch, a payment posted, the worker died before the send).
REVIVABLE = ("blocked", "cancelled")


class OutreachStore(StoreBase):
    # ---- cycles --------------------------------------------------------------------------------

    async def cycles(
        self, practice_id: str, balances: dict[str, Decimal], today: date, *, write: bool = True
    ) -> dict[str, Cycle]:
        """The current cycle of every account in `balances`; a new one starts when an account that
        was clear (or unknown) owes again. Balances are remembered for the next call (`write=False`:
        a preview that changes nothing)."""
        now = self._now()
        out: dict[str, Cycle] = {}
        ids = list(balances)
        async with self._sessions() as s, s.begin() as tx:
            rows: dict[str, OutreachAccountRow] = {}
            for chunk in _chunks(ids, 500):
                found = await s.scalars(
                    select(OutreachAccountRow).where(
                        OutreachAccountRow.practice_id == practice_id,
                        OutreachAccountRow.guarantor_id.in_(chunk),
                    )
                )
                rows.update({r.guarantor_id: r for r in found})
            for gid, bal in balances.items():
                row = rows.get(gid)
                if row is None:
                    row = OutreachAccountRow(
                        practice_id=practice_id, guarantor_id=gid, cycle_id=new_id("cyc_"),
                        cycle_started_on=today, balance=bal, review_task_id=None, updated_at=now,
                    )  # fmt: skip
                    s.add(row)
                elif row.balance <= 0 < bal:
                    row.cycle_id, row.cycle_started_on, row.review_task_id = new_id("cyc_"), today, None
                changed = row.balance != bal or row.reviewed_at is None
                if row.balance != bal:
                    row.balance, row.updated_at = bal, now
                out[gid] = Cycle(row.cycle_id, row.cycle_started_on, row.review_task_id, row.next_review_on,
                                 row.reviewed_at, changed)  # fmt: skip
            if not write:
                await tx.rollback()
        return out

    async def set_reviewed(self, practice_id: str, next_review: dict[str, date | None], at: datetime) -> None:
        """Remember when each account was last evaluated and the first day it could need anything."""
        async with self._tx() as s:
            for gid, day in next_review.items():
                await s.execute(
                    update(OutreachAccountRow)
                    .where(
                        OutreachAccountRow.practice_id == practice_id, OutreachAccountRow.guarantor_id == gid
                    )
                    .values(next_review_on=day, reviewed_at=at)
                )

    async def activity(self, contacts: dict[str, Sequence[str]]) -> dict[str, datetime]:
        """The latest record-store change per account: contact attempts, conversations, promises,
        BalanceLine flags and consent/suppression entries (by patient or by one of `contacts`)."""
        ids = list(contacts)
        owner = {v.casefold(): gid for gid, values in contacts.items() for v in values}
        out: dict[str, datetime] = {}

        def bump(gid: str | None, at: datetime | None) -> None:
            if gid is not None and at is not None and (gid not in out or at > out[gid]):
                out[gid] = at

        async with self._tx() as s:
            for chunk in _chunks(ids, 500):
                for col, at in (
                    (ContactAttemptRow.guarantor_id, ContactAttemptRow.at),
                    (ConversationRow.guarantor_id, ConversationRow.updated_at),
                    (PromiseRow.guarantor_id, PromiseRow.created_at),
                    (AccountFlagRow.guarantor_id, AccountFlagRow.set_at),
                    (ConsentEntryRow.patient_id, ConsentEntryRow.at),
                ):
                    for gid, when in await s.execute(
                        select(col, func.max(at)).where(col.in_(chunk)).group_by(col)
                    ):
                        bump(gid, when)
            values = list(owner)
            for chunk in _chunks(values, 500):
                rows = await s.execute(
                    select(ConsentEntryRow.value, func.max(ConsentEntryRow.at))
                    .where(func.lower(ConsentEntryRow.value).in_(chunk))
                    .group_by(ConsentEntryRow.value)
                )
                for value, when in rows:
                    bump(owner.get((value or "").casefold()), when)
        return out

    async def set_review_task(self, practice_id: str, guarantor_id: str, task_id: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(OutreachAccountRow)
                .where(
                    OutreachAccountRow.practice_id == practice_id,
                    OutreachAccountRow.guarantor_id == guarantor_id,
                )
                .values(review_task_id=task_id)
            )

    # ---- jobs: planning ------------------------------------------------------------------------

    async def jobs_by_cycle(self, cycle_ids: Sequence[str]) -> dict[str, list[OutreachJob]]:
        out: dict[str, list[OutreachJob]] = {}
        async with self._tx() as s:
            for chunk in _chunks(list(cycle_ids), 500):
                rows = await s.scalars(
                    select(OutreachJobRow)
                    .where(OutreachJobRow.cycle_id.in_(chunk))
                    .order_by(OutreachJobRow.created_at)
                )
                for r in rows:
                    out.setdefault(r.cycle_id, []).append(_job(r))
        return out

    async def save_planned(self, job: PlannedJob) -> str | None:
        """Insert the job (or revive a REVIVABLE one of the same step); None when one already exists."""
        now = self._now()
        state = "scheduled" if job.approval == "auto" else "awaiting_approval"
        values: dict[str, Any] = {
            **{k: getattr(job, k) for k in _PLANNED},
            "reasons": list(job.reasons),
            "id": new_id("oj_"),
            "state": state,
            "tries": 0,
            "detail": "",
            "created_at": now,
            "updated_at": now,
        }
        revive = {k: values[k] for k in ("channel", "to", "line_type", "purpose", "tier", "score", "reasons",
                                          "balance", "plan_date", "due_at", "approval", "state", "updated_at")}  # fmt: skip
        async with self._tx() as s:
            stmt = upsert(s, OutreachJobRow).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["dedupe_key"],
                set_={**revive, "claimed_by": None, "detail": "replanned"},
                where=OutreachJobRow.state.in_(REVIVABLE),
            )
            result: Any = await s.execute(stmt)
            if result.rowcount != 1:
                return None
            job_id = await s.scalar(
                select(OutreachJobRow.id).where(OutreachJobRow.dedupe_key == job.dedupe_key)
            )
            s.add(
                self._audit_row(
                    "outreach.planned",
                    patient_id=job.guarantor_id,
                    conversation_id=None,
                    detail={"job_id": job_id, "step": job.step_key, "channel": job.channel,
                            "due_at": job.due_at.isoformat(), "state": state},
                )
            )  # fmt: skip
        return str(job_id)

    # ---- jobs: dispatch ------------------------------------------------------------------------

    async def due_job_ids(self, now: datetime, limit: int = 500) -> list[str]:
        async with self._tx() as s:
            rows = await s.scalars(
                select(OutreachJobRow.id)
                .where(OutreachJobRow.state == "scheduled", OutreachJobRow.due_at <= now)
                .order_by(OutreachJobRow.due_at, OutreachJobRow.id)
                .limit(limit)
            )
            return list(rows)

    async def claim(self, job_id: str, worker: str) -> OutreachJob | None:
        """Take the job for `worker` if it is still scheduled and due; None if anyone else has it."""
        now = self._now()
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutreachJobRow)
                .where(
                    OutreachJobRow.id == job_id,
                    OutreachJobRow.state == "scheduled",
                    OutreachJobRow.due_at <= now,
                )
                .values(
                    state="dispatching",
                    claimed_by=worker,
                    claimed_at=now,
                    tries=OutreachJobRow.tries + 1,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return None
            row = await s.get(OutreachJobRow, job_id)
            assert row is not None
            return _job(row)

    async def finish(
        self,
        job_id: str,
        state: str,
        *,
        detail: str,
        provider_ref: str | None = None,
        worker: str | None = None,
    ) -> bool:
        """Final outcome of a claimed job (only its claimant's view counts)."""
        now = self._now()
        async with self._tx() as s:
            q = update(OutreachJobRow).where(
                OutreachJobRow.id == job_id, OutreachJobRow.state == "dispatching"
            )
            if worker is not None:
                q = q.where(OutreachJobRow.claimed_by == worker)
            values: dict[str, Any] = {"state": state, "detail": detail[:500], "updated_at": now}
            if provider_ref is not None:
                values["provider_ref"] = provider_ref
            if state == "sent":
                values["sent_at"] = now
            result: Any = await s.execute(q.values(**values))
            if result.rowcount != 1:
                return False
            row = await s.get(OutreachJobRow, job_id)
            assert row is not None
            s.add(
                self._audit_row(
                    f"outreach.{state}",
                    patient_id=row.guarantor_id,
                    conversation_id=None,
                    detail={"job_id": job_id, "step": row.step_key, "channel": row.channel,
                            "detail": detail[:200], "provider_ref": provider_ref, "tries": row.tries},
                )
            )  # fmt: skip
            return True

    async def reschedule(
        self, job_id: str, due_at: datetime, *, detail: str, worker: str | None = None
    ) -> bool:
        """Put a claimed job back for later (the gate said "not yet", or a transient failure)."""
        async with self._tx() as s:
            q = update(OutreachJobRow).where(
                OutreachJobRow.id == job_id, OutreachJobRow.state == "dispatching"
            )
            if worker is not None:
                q = q.where(OutreachJobRow.claimed_by == worker)
            result: Any = await s.execute(
                q.values(state="scheduled", due_at=due_at, detail=detail[:500], claimed_by=None,
                         updated_at=self._now())
            )  # fmt: skip
            return bool(result.rowcount == 1)

    async def sweep_stale(self, lease_seconds: float) -> int:
        """Jobs whose worker died mid-dispatch become `unknown`: never re-sent automatically."""
        now = self._now()
        stale = (
            OutreachJobRow.state == "dispatching",
            OutreachJobRow.claimed_at < now - timedelta(seconds=lease_seconds),
        )
        async with self._sessions() as s:  # a read first: the write (and its fsync) only when needed
            if not await s.scalar(select(func.count()).select_from(OutreachJobRow).where(*stale)):
                return 0
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutreachJobRow)
                .where(*stale)
                .values(state="unknown", detail="worker_lost_during_dispatch", updated_at=now)
            )
            return int(result.rowcount or 0)

    async def cancel_open(self, guarantor_id: str, *, reason: str) -> int:
        """Cancel every not-yet-dispatched job of an account (a payment posted, a flag was set)."""
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutreachJobRow)
                .where(
                    OutreachJobRow.guarantor_id == guarantor_id,
                    OutreachJobRow.state.in_(("scheduled", "awaiting_approval")),
                )
                .values(state="cancelled", detail=reason, updated_at=self._now())
            )
            return int(result.rowcount or 0)

    # ---- approvals -----------------------------------------------------------------------------

    async def list_jobs(
        self,
        *,
        states: Iterable[str] | None = None,
        guarantor_id: str | None = None,
        updated_since: datetime | None = None,
        due_by: datetime | None = None,
        limit: int = 10_000,
    ) -> list[OutreachJob]:
        q = select(OutreachJobRow).order_by(OutreachJobRow.due_at, OutreachJobRow.id).limit(limit)
        if due_by is not None:
            q = q.where(OutreachJobRow.due_at <= due_by)
        if updated_since is not None:
            q = q.where(OutreachJobRow.updated_at >= updated_since)
        if states is not None:
            q = q.where(OutreachJobRow.state.in_(list(states)))
        if guarantor_id is not None:
            q = q.where(OutreachJobRow.guarantor_id == guarantor_id)
        async with self._tx() as s:
            return [_job(r) for r in await s.scalars(q)]

    async def get_job(self, job_id: str) -> OutreachJob | None:
        async with self._tx() as s:
            row = await s.get(OutreachJobRow, job_id)
            return _job(row) if row else None

    async def decide(self, job_id: str, *, approve: bool, actor: str) -> OutreachJob | None:
        """Approve (-> scheduled) or reject a job awaiting approval; None if it is not awaiting one."""
        now = self._now()
        values: dict[str, Any] = (
            {"state": "scheduled", "approval": "approved"}
            if approve
            else {"state": "rejected", "approval": "rejected"}
        )
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutreachJobRow)
                .where(OutreachJobRow.id == job_id, OutreachJobRow.state == "awaiting_approval")
                .values(**values, decided_by=actor[:64], updated_at=now)
            )
            if result.rowcount != 1:
                return None
            row = await s.get(OutreachJobRow, job_id)
            assert row is not None
            s.add(
                self._audit_row(
                    "outreach.approved" if approve else "outreach.rejected",
                    patient_id=row.guarantor_id,
                    conversation_id=None,
                    detail={"job_id": job_id, "step": row.step_key, "channel": row.channel},
                    actor=actor,
                )
            )
            return _job(row)

    async def open_counts(self) -> dict[str, int]:
        async with self._tx() as s:
            rows = await s.execute(
                select(OutreachJobRow.state, func.count())
                .where(OutreachJobRow.state.in_(OPEN_STATES))
                .group_by(OutreachJobRow.state)
            )
            return {state: int(n) for state, n in rows}

    # ---- incremental sync ----------------------------------------------------------------------

    async def get_cursor(self, practice_id: str) -> str | None:
        async with self._tx() as s:
            row = await s.get(OutreachCursorRow, practice_id)
            return row.cursor if row else None

    async def set_cursor(self, practice_id: str, cursor: str) -> None:
        now = self._now()
        async with self._tx() as s:
            stmt = upsert(s, OutreachCursorRow).values(practice_id=practice_id, cursor=cursor, synced_at=now)
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["practice_id"], set_={"cursor": cursor, "synced_at": now}
                )
            )


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


@dataclass(frozen=True, slots=True)
class PromiseMade:
    promise_id: str
    guarantor_id: str
    amount: Decimal
    due_on: date
    status: str
    channel: str
    conversation_id: str | None
    created_at: datetime


async def promises_made(store: StoreBase, start: datetime, end: datetime) -> list[PromiseMade]:
    """Promises the agent recorded in [start, end), oldest first (for the weekly reconciliation)."""
    q = (
        select(PromiseRow)
        .where(PromiseRow.created_at >= start, PromiseRow.created_at < end)
        .order_by(PromiseRow.created_at, PromiseRow.id)
    )
    async with store._tx() as s:
        rows = (await s.scalars(q)).all()
    return [
        PromiseMade(
            r.id, r.guarantor_id, r.amount, r.due_on, r.status, r.channel, r.conversation_id, r.created_at
        )
        for r in rows
    ]

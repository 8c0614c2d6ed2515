"""The PMS-write outbox drainer: delivers queued write-backs exactly once, as far as the PMS can tell.

Rows are queued by `SqlRecords.enqueue_pms_write` (one row per idempotency key, note already
carrying the `[cx:XXXXXXXX]` marker). A drain:

1. treats rows stuck IN_FLIGHT longer than `stuck_after` (a crashed drainer) as UNKNOWN;
2. claims due PENDING/UNKNOWN rows → IN_FLIGHT, attempts + 1. PostgreSQL: one UPDATE over a
   SELECT … FOR UPDATE SKIP LOCKED, RETURNING the batch; SQLite: a conditional UPDATE per row (WHERE
   state and attempts are as read), so two drainers never claim the same row;
3. calls the adapter. Outcomes: done (created / already_exists / queued_manual / unsupported) →
   CONFIRMED with the external id; timeout, `PmsUnavailable` or an "unknown" result → UNKNOWN,
   retried with backoff, never sooner than `reconcile_grace`; a definite failure → PENDING with
   backoff, and FAILED (plus a staff task) once `max_attempts` is reached.
4. reconcile-before-retry: a row claimed from UNKNOWN (the last attempt may have landed) is first
   looked up in the PMS when the adapter offers `reconcile_write(req)` (Open Dental searches the
   patient's records for the `[cx:…]` marker): found → CONFIRMED `already_exists` without a
   second POST; not found → the write is sent again. Adapters idempotent by key (the local PMS)
   need no lookup.

Every finishing update is fenced on (state = IN_FLIGHT, attempts = the claimed attempt), so a
drainer that lost its row to recovery cannot overwrite the newer outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from agent.store.base import utc_now
from agent.store.models import AuditEventRow, OutboxRow, StaffTaskRow, new_id
from agent.store.pg_statements import insert_when
from agent.store.pms_writes import KINDS, decode
from agent.store.writes import audit_values
from pms.protocol import PmsAdapter, PmsUnavailable
from pms.types import WriteResult

log = structlog.get_logger(__name__)

_DUE = ("PENDING", "UNKNOWN")


@dataclass(frozen=True)
class DrainReport:
    recovered: int = 0  # stuck IN_FLIGHT rows moved to UNKNOWN
    claimed: int = 0
    confirmed: int = 0
    unknown: int = 0
    retrying: int = 0  # definite failure, will retry
    failed: int = 0  # gave up: staff task created
    outcomes: dict[str, str] = field(default_factory=dict)  # outbox id -> new state


@dataclass(frozen=True)
class _Claimed:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    conversation_id: str | None
    previous_state: str = "PENDING"


class OutboxDrainer:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | AsyncEngine,
        pms: PmsAdapter,
        clock: Callable[[], datetime] = utc_now,
        *,
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=1),
        call_timeout: float = 60.0,
        stuck_after: timedelta = timedelta(minutes=5),
        reconcile_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        # Core statements on the engine: no ORM unit of work on this path.
        self._engine: AsyncEngine = (
            session_factory if isinstance(session_factory, AsyncEngine) else session_factory.kw["bind"]
        )
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._pms = pms
        self._clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.call_timeout = call_timeout
        self.stuck_after = stuck_after
        self.reconcile_grace = reconcile_grace

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try after `attempts` tries: base · 2^(attempts-1), capped."""
        return min(self.base_delay * (2 ** max(0, attempts - 1)), self.max_delay)

    async def drain_once(self, limit: int = 50) -> DrainReport:
        now = self._clock()
        recovered = await self._recover_stuck(now)
        claimed = await self._claim(now, limit)
        counts = {"CONFIRMED": 0, "UNKNOWN": 0, "PENDING": 0, "FAILED": 0}
        outcomes: dict[str, str] = {}
        for row in claimed:
            state = await self._deliver(row)
            outcomes[row.id] = state
            counts[state] = counts.get(state, 0) + 1
        return DrainReport(
            recovered=recovered,
            claimed=len(claimed),
            confirmed=counts["CONFIRMED"],
            unknown=counts["UNKNOWN"],
            retrying=counts["PENDING"],
            failed=counts["FAILED"],
            outcomes=outcomes,
        )

    async def run_forever(self, stop_event: asyncio.Event, interval: float = 2.0, *, limit: int = 50) -> None:
        """Drain until `stop_event` is set; a full batch drains again at once, errors are logged."""
        while not stop_event.is_set():
            report = DrainReport()
            try:
                report = await self.drain_once(limit)
            except Exception:  # keep the loop alive (database restart, …)
                log.exception("outbox_drain_failed")
            if report.claimed >= limit:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=interval)

    # ---- claiming ------------------------------------------------------------------------------

    async def _recover_stuck(self, now: datetime) -> int:
        async with self._engine.begin() as c:
            result: Any = await c.execute(
                update(OutboxRow)
                .where(OutboxRow.state == "IN_FLIGHT", OutboxRow.updated_at < now - self.stuck_after)
                .values(state="UNKNOWN", last_error="in flight too long (drainer stopped?)", updated_at=now)
            )
            return int(result.rowcount or 0)

    def _due(self, now: datetime) -> Any:
        return (
            select(OutboxRow.id, OutboxRow.state, OutboxRow.attempts)
            .where(OutboxRow.state.in_(_DUE), OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.created_at, OutboxRow.id)
        )

    async def _claim(self, now: datetime, limit: int) -> list[_Claimed]:
        async with self._engine.begin() as c:
            if c.dialect.name == "postgresql":
                return await self._claim_locked(c, now, limit)
            claimed: list[_Claimed] = []
            candidates = (await c.execute(self._due(now).limit(limit))).all()
            for cid, state, attempts in candidates:
                # The claim is this conditional UPDATE: a row another drainer took no longer matches.
                result = await c.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == cid, OutboxRow.state == state, OutboxRow.attempts == attempts)
                    .values(state="IN_FLIGHT", attempts=OutboxRow.attempts + 1, updated_at=now)
                    .returning(OutboxRow.kind, OutboxRow.payload, OutboxRow.conversation_id)
                )
                got = result.first()
                if got is not None:
                    claimed.append(
                        _Claimed(cid, got.kind, got.payload, attempts + 1, got.conversation_id, state)
                    )
            return claimed

    async def _claim_locked(self, c: AsyncConnection, now: datetime, limit: int) -> list[_Claimed]:
        """PostgreSQL: one statement claims the batch; rows another drainer holds are skipped."""
        due = self._due(now).limit(limit).with_for_update(skip_locked=True).cte("due")
        result = (
            await c.execute(
                update(OutboxRow)
                .where(OutboxRow.id == due.c.id)
                .values(state="IN_FLIGHT", attempts=OutboxRow.attempts + 1, updated_at=now)
                .returning(
                    OutboxRow.id,
                    due.c.state,
                    due.c.attempts,
                    OutboxRow.kind,
                    OutboxRow.payload,
                    OutboxRow.conversation_id,
                    OutboxRow.next_attempt_at,
                    OutboxRow.created_at,
                )
            )
        ).all()
        rows = sorted(result, key=lambda r: (r.next_attempt_at, r.created_at, r.id))  # RETURNING: no order
        return [_Claimed(r.id, r.kind, r.payload, r.attempts + 1, r.conversation_id, r.state) for r in rows]

    # ---- delivering ----------------------------------------------------------------------------

    async def _deliver(self, row: _Claimed) -> str:
        try:
            req = decode(row.payload)
            result: WriteResult | None = None
            reconcile = getattr(self._pms, "reconcile_write", None)
            if row.previous_state == "UNKNOWN" and reconcile is not None:
                result = await asyncio.wait_for(reconcile(req), timeout=self.call_timeout)
                if result is not None:
                    log.info("outbox_reconciled", outbox_id=row.id, kind=row.kind)
            if result is None:
                method = getattr(self._pms, KINDS[row.kind][1])
                result = await asyncio.wait_for(method(req), timeout=self.call_timeout)
            assert result is not None
        except (TimeoutError, PmsUnavailable) as exc:
            return await self._finish(row, "UNKNOWN", error=f"{type(exc).__name__}: {exc}"[:500])
        except asyncio.CancelledError:  # shutting down mid-call: let the next drainer retry soon
            with contextlib.suppress(Exception):
                await asyncio.shield(self._finish(row, "UNKNOWN", error="drainer stopped mid-call"))
            raise
        except Exception as exc:  # a bug or a rejected request: a definite failure
            log.warning("outbox_write_error", outbox_id=row.id, kind=row.kind, error=type(exc).__name__)
            return await self._failure(row, f"{type(exc).__name__}: {exc}"[:500])
        if result.done:
            return await self._finish(row, "CONFIRMED", result=result)
        if result.status == "unknown":
            return await self._finish(row, "UNKNOWN", error=result.message or "unknown", result=result)
        return await self._failure(row, result.message or result.status, result=result)

    async def _failure(self, row: _Claimed, error: str, result: WriteResult | None = None) -> str:
        state = "FAILED" if row.attempts >= self.max_attempts else "PENDING"
        return await self._finish(row, state, error=error, result=result)

    async def _finish(
        self, row: _Claimed, state: str, *, error: str | None = None, result: WriteResult | None = None
    ) -> str:
        now = self._clock()
        values: dict[str, Any] = {"state": state, "updated_at": now, "last_error": error}
        if result is not None:
            values["result_status"] = result.status
            values["external_id"] = result.external_id
        if state == "PENDING":
            values["next_attempt_at"] = now + self.backoff(row.attempts)
        elif state == "UNKNOWN":  # give a write that may still land time to show up before the lookup
            values["next_attempt_at"] = now + max(self.backoff(row.attempts), self.reconcile_grace)
        subject = row.payload.get("patient_id") or row.payload.get("guarantor_id")
        rows: list[tuple[Any, dict[str, Any]]] = []  # written only if the fenced update matched
        if state in ("CONFIRMED", "FAILED"):
            detail = {"outbox_id": row.id, "kind": row.kind, "attempts": row.attempts}
            detail |= {"status": values.get("result_status"), "external_id": values.get("external_id")}
            if error:
                detail["error"] = error
            audit = audit_values(
                f"pms_write.{state.lower()}",
                at=now,
                actor="outbox",
                patient_id=subject,
                conversation_id=row.conversation_id,
                detail=detail,
            )
            rows.append((AuditEventRow, audit))
        if state == "FAILED":
            task = {
                "id": new_id("st_"),
                "kind": "pms_write_failed",
                "patient_id": subject,
                "conversation_id": row.conversation_id,
                "summary": f"PMS write failed ({row.kind.replace('_', ' ')}); please enter it by hand.",
                "context": {"outbox_id": row.id, "error": error, "payload": row.payload},
                "priority": "high",
                "status": "open",
                "created_at": now,
            }
            rows.append((StaffTaskRow, task))
        fenced = (
            update(OutboxRow)
            .where(OutboxRow.id == row.id, OutboxRow.state == "IN_FLIGHT", OutboxRow.attempts == row.attempts)
            .values(**values)
        )
        if not await self._write_fenced(fenced, rows):
            log.warning("outbox_row_taken_over", outbox_id=row.id, attempts=row.attempts)
            return "LOST"
        log.info("outbox_write", outbox_id=row.id, kind=row.kind, state=state, attempts=row.attempts)
        return state

    async def _write_fenced(self, fenced: Any, rows: list[tuple[Any, dict[str, Any]]]) -> bool:
        """Run the fenced UPDATE and, only if it matched its row, insert `rows`, atomically.
        PostgreSQL: one statement (data-modifying CTEs) in autocommit; SQLite: one transaction."""
        if self._engine.dialect.name == "postgresql":
            gate = fenced.returning(OutboxRow.id).cte("u")
            ctes = []
            for n, (model, values) in enumerate(rows):
                table = model.__table__
                exprs = {c: literal(v, type_=table.c[c].type) for c, v in values.items()}
                ctes.append(insert_when(table, exprs, gate).returning(table.c.id).cte(f"r{n}"))
            async with self._autocommit.connect() as c:
                return bool(await c.scalar(select(func.count()).select_from(gate).add_cte(*ctes)))
        async with self._engine.begin() as c:
            res: Any = await c.execute(fenced)
            if res.rowcount != 1:
                return False
            for model, values in rows:
                await c.execute(insert(model), values)
        return True


async def outbox_states(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Row counts per state (for ops pages and tests)."""
    async with session_factory() as s:
        rows = (await s.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))).all()
    return {state: int(n) for state, n in rows}

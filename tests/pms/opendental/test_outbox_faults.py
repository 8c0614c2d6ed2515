"""Fault tests of write-back to Open Dental through the outbox, on SQLite and PostgreSQL.

- a POST whose response is lost after the server applied it → exactly one record after recovery;
- a restart with a non-empty outbox (one row caught in flight) → every write lands exactly once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.outbox import OutboxDrainer, outbox_states
from agent.store.db import make_session_factory
from agent.store.models import OutboxRow
from agent.store.pms_writes import marker_for, with_marker
from agent.store.records import SqlRecords
from pms.types import CommLogWrite, PaymentPlanWrite, PaymentWrite, PromiseWrite
from tests.fakes.opendental_server import FakeOpenDental
from tests.pms.opendental.conftest import AdapterFactory
from tests.store import conftest as store
from tests.store.conftest import Clock
from tools.context import PmsWrite

# the record-store fixtures, on SQLite and PostgreSQL
store_url, sqlite_template, pg_store_url = store.store_url, store.sqlite_template, store.pg_store_url
engine, clock, records = store.engine, store.clock, store.records

G = "1"  # Emily Carter, the demo's prompt payer: guarantor with a $240.00 balance


def _writes(clock: Clock, tag: str) -> dict[str, PmsWrite]:
    return {
        "comm_log": CommLogWrite(f"p|{G}|{tag}|c", G, clock(), "text", "received", "Texted about the bill."),
        "promise": PromiseWrite(f"p|{G}|{tag}|promise", G, Decimal("50.00"), date(2026, 11, 6), "By text."),
        "payment": PaymentWrite(
            f"p|payment|pi_{tag}", G, Decimal("40.00"), date(2026, 11, 2), "card", f"pi_{tag}", "Stripe"
        ),
        "payment_plan": PaymentPlanWrite(
            f"p|{G}|{tag}|plan",
            G,
            Decimal("240.00"),
            Decimal("0.00"),
            Decimal("80.00"),
            3,
            "monthly",
            date(2026, 12, 1),
            "3 x $80",
        ),
    }


_WHERE = {
    "comm_log": ("/commlogs", "commlogs", "Note"),
    "promise": ("/commlogs", "commlogs", "Note"),
    "payment": ("/payments", "payments", "PayNote"),
    "payment_plan": ("/payplans", "payplans", "Note"),
}


def _landed(od: FakeOpenDental, kind: str, key: str) -> int:
    _, table, field = _WHERE[kind]
    marker = marker_for(key)
    return sum(1 for row in getattr(od, table) if marker in str(row[field]))


@pytest.mark.parametrize(("kind", "mode"), [("promise", "hang"), ("payment", "504")])
async def test_lost_response_after_apply_gives_exactly_one_record(
    kind: str,
    mode: str,
    od: FakeOpenDental,
    make_adapter: AdapterFactory,
    records: SqlRecords,
    engine: AsyncEngine,
    clock: Clock,
) -> None:
    req = _writes(clock, f"lost-{mode}")[kind]
    prefix = _WHERE[kind][0]
    od.lose_next(1, "POST", prefix, mode=mode)
    await records.enqueue_pms_write(req)
    drainer = OutboxDrainer(make_session_factory(engine), make_adapter(), clock)

    first = await drainer.drain_once()
    assert first.unknown == 1  # no answer: the write may have landed, so it is not re-posted now
    assert _landed(od, kind, req.idempotency_key) == 1  # …and it did

    assert (await drainer.drain_once()).claimed == 0  # the grace period has not passed
    clock.advance(seconds=drainer.reconcile_grace.total_seconds())
    second = await drainer.drain_once()
    assert second.confirmed == 1
    assert _landed(od, kind, req.idempotency_key) == 1
    assert od.count(prefix, "POST") == 1  # reconciled by marker, never re-posted
    async with make_session_factory(engine)() as s:
        row = (await s.scalars(select(OutboxRow))).one()
    assert (row.state, row.result_status, row.attempts) == ("CONFIRMED", "already_exists", 2)
    if kind == "promise":  # the staff follow-up task exists once too
        assert sum(marker_for(req.idempotency_key) in t["Descript"] for t in od.tasks) == 1


async def test_not_found_after_the_grace_period_is_posted_again(
    od: FakeOpenDental, make_adapter: AdapterFactory, records: SqlRecords, engine: AsyncEngine, clock: Clock
) -> None:
    """The eConnector was down (the write never landed): the lookup finds nothing, so it is sent."""
    req = _writes(clock, "down")["payment"]
    await records.enqueue_pms_write(req)
    drainer = OutboxDrainer(make_session_factory(engine), make_adapter(), clock)
    od.econnector_down = True
    assert (await drainer.drain_once()).unknown == 1
    od.econnector_down = False
    clock.advance(seconds=drainer.reconcile_grace.total_seconds())
    assert (await drainer.drain_once()).confirmed == 1
    assert _landed(od, "payment", req.idempotency_key) == 1
    assert od.count("/payments", "POST") == 1
    assert (await outbox_states(make_session_factory(engine))) == {"CONFIRMED": 1}


async def test_restart_with_a_non_empty_outbox_drains_each_write_once(
    od: FakeOpenDental, make_adapter: AdapterFactory, records: SqlRecords, engine: AsyncEngine, clock: Clock
) -> None:
    writes = _writes(clock, "restart")
    for req in writes.values():
        await records.enqueue_pms_write(req)
    # The old process claimed the comm log, POSTed it (Open Dental applied it) and died.
    caught = writes["comm_log"]
    old = make_adapter()
    assert (await old.write_comm_log(with_marker(caught))).status == "created"  # type: ignore[arg-type]
    async with make_session_factory(engine)() as s, s.begin():
        await s.execute(
            update(OutboxRow)
            .where(OutboxRow.idempotency_key == caught.idempotency_key)
            .values(state="IN_FLIGHT", attempts=1, updated_at=clock())
        )
    clock.advance(minutes=10)

    restarted = OutboxDrainer(make_session_factory(engine), make_adapter(), clock)
    report = await restarted.drain_once()
    assert report.recovered == 1 and report.confirmed == 4
    assert (await restarted.drain_once()).claimed == 0
    for kind, req in writes.items():
        assert _landed(od, kind, req.idempotency_key) == 1, kind
    assert od.count("/commlogs", "POST") == 2  # the caught comm log once (before the crash) + the promise
    assert (await outbox_states(make_session_factory(engine))) == {"CONFIRMED": 4}


async def test_a_promise_whose_task_answer_was_lost_is_completed_once(
    od: FakeOpenDental, make_adapter: AdapterFactory, records: SqlRecords, engine: AsyncEngine, clock: Clock
) -> None:
    """A promise is two POSTs (comm log, then the staff task): the task's answer is lost after it was
    applied. The retry finds both by marker and posts neither again."""
    req = _writes(clock, "task")["promise"]
    od.lose_next(1, "POST", "/tasks", mode="504")
    await records.enqueue_pms_write(req)
    drainer = OutboxDrainer(make_session_factory(engine), make_adapter(), clock)
    assert (await drainer.drain_once()).unknown == 1
    clock.advance(seconds=drainer.reconcile_grace.total_seconds())
    assert (await drainer.drain_once()).confirmed == 1
    marker = marker_for(req.idempotency_key)
    assert _landed(od, "promise", req.idempotency_key) == 1
    assert sum(marker in t["Descript"] for t in od.tasks) == 1
    assert (od.count("/commlogs"), od.count("/tasks")) == (1, 1)

"""The PMS-write outbox against the real local PMS (behind a lossy network), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.outbox import OutboxDrainer, outbox_states
from agent.store.db import make_engine, make_session_factory
from agent.store.models import OutboxRow
from agent.store.records import SqlRecords
from pms.types import (
    CommLogWrite,
    ContactPreferenceWrite,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
)
from tests.store.conftest import T0, Clock
from tests.store.pms_double import Crash, FlakyNetwork, seeded_pms
from tools.context import PmsWrite

WAIT = 20.0


@pytest.fixture
async def net(engine: AsyncEngine) -> AsyncIterator[FlakyNetwork]:
    yield FlakyNetwork(await seeded_pms(engine, f"t{uuid.uuid4().hex[:10]}"))


@pytest.fixture
def drainer(engine: AsyncEngine, net: FlakyNetwork, clock: Clock) -> OutboxDrainer:
    return OutboxDrainer(make_session_factory(engine), net, clock, max_attempts=3)


def comm(key: str = "demo|G1|cv_1", patient_id: str = "G1") -> CommLogWrite:
    return CommLogWrite(
        idempotency_key=key, patient_id=patient_id, at=T0, mode="text", direction="received", note="Texted."
    )


async def rows(engine: AsyncEngine) -> list[OutboxRow]:
    async with make_session_factory(engine)() as s:
        return list((await s.scalars(select(OutboxRow).order_by(OutboxRow.created_at))).all())


async def comm_notes(net: FlakyNetwork, patient_id: str = "G1") -> list[str]:
    return [c.note for c in await net.pms.get_comm_history(patient_id)]


async def test_every_kind_is_delivered_once_with_its_marker(
    records: SqlRecords, drainer: OutboxDrainer, net: FlakyNetwork, engine: AsyncEngine
) -> None:
    writes: list[PmsWrite] = [
        comm(),
        PromiseWrite(
            "demo|G1|cv_1|promise", "G1", Decimal("50.00"), date(2026, 3, 6), note="Will pay Friday"
        ),
        PaymentWrite("demo|ch_1", "G1", Decimal("25.50"), date(2026, 3, 2), "card", "ch_1"),
        PaymentPlanWrite(
            "demo|G1|cv_1|plan",
            "G1",
            Decimal("300.00"),
            Decimal("0.00"),
            Decimal("50.00"),
            6,
            "monthly",
            date(2026, 4, 1),
            note="6 x $50",
        ),
        ContactPreferenceWrite("demo|G1|optout|SM1", "G1", sms_ok=False, note="STOP by text"),
    ]
    for w in writes:
        await records.enqueue_pms_write(w, conversation_id="cv_1")
    report = await drainer.drain_once()
    assert (report.claimed, report.confirmed) == (5, 5)
    assert all(n == 1 for n in net.sent.values()) and len(net.sent) == 5
    stored = await rows(engine)
    assert {r.state for r in stored} == {"CONFIRMED"}
    assert all(r.external_id and r.result_status == "created" and r.attempts == 1 for r in stored)

    markers = {r.kind: r.marker for r in stored}
    assert f"Texted. {markers['comm_log']}" in await comm_notes(net)
    [promise] = await net.pms.get_promises("G1")
    assert markers["promise"] in promise.note and promise.amount == Decimal("50.00")
    assert any(markers["payment"] in p.note for p in await net.pms.get_payments("G1"))
    assert any(markers["payment_plan"] in p.note for p in await net.pms.get_payment_plans("G1"))
    patient = await net.pms.get_patient("G1")
    assert patient is not None and patient.contacts[0].sms_consent == "no"

    assert (await drainer.drain_once()).claimed == 0
    kinds = [e["kind"] for e in await records.list_audit(patient_id="G1")]
    assert kinds.count("pms_write.confirmed") == 5 and kinds.count("pms_write.queued") == 5
    assert await records.outbox_backlog() == 0


async def test_same_key_twice_is_one_row_and_one_pms_record(
    records: SqlRecords, drainer: OutboxDrainer, net: FlakyNetwork, engine: AsyncEngine
) -> None:
    await records.enqueue_pms_write(comm())
    await records.enqueue_pms_write(comm())
    assert len(await rows(engine)) == 1
    await drainer.drain_once()
    await records.enqueue_pms_write(comm())  # even after delivery
    assert (await drainer.drain_once()).claimed == 0
    assert len(await comm_notes(net)) == 1


async def test_lost_response_is_retried_later_and_reconciled(
    records: SqlRecords, drainer: OutboxDrainer, net: FlakyNetwork, engine: AsyncEngine, clock: Clock
) -> None:
    await records.enqueue_pms_write(comm())
    net.lose_responses = 1
    report = await drainer.drain_once()
    assert report.unknown == 1
    [row] = await rows(engine)
    assert row.state == "UNKNOWN" and "TimeoutError" in (row.last_error or "")
    assert (await drainer.drain_once()).claimed == 0  # backing off
    clock.advance(seconds=31)
    assert (await drainer.drain_once()).confirmed == 1
    [row] = await rows(engine)
    assert (row.state, row.result_status, row.attempts) == ("CONFIRMED", "already_exists", 2)
    assert len(await comm_notes(net)) == 1  # the PMS holds exactly one record


async def test_crash_after_pms_applied_recovers_to_exactly_one_record(
    records: SqlRecords, engine: AsyncEngine, net: FlakyNetwork, clock: Clock
) -> None:
    await records.enqueue_pms_write(comm())
    net.crash_after_apply = 1
    first = OutboxDrainer(make_session_factory(engine), net, clock)
    with pytest.raises(Crash):
        await first.drain_once()
    [row] = await rows(engine)
    assert row.state == "IN_FLIGHT"

    restarted = OutboxDrainer(make_session_factory(engine), net, clock)
    assert (await restarted.drain_once()).claimed == 0  # might still be in flight elsewhere
    clock.advance(minutes=6)
    report = await restarted.drain_once()
    assert (report.recovered, report.confirmed) == (1, 1)
    [row] = await rows(engine)
    assert (row.state, row.result_status) == ("CONFIRMED", "already_exists")
    assert len(await comm_notes(net)) == 1


async def test_pms_unavailable_then_delivered(
    records: SqlRecords, drainer: OutboxDrainer, net: FlakyNetwork, engine: AsyncEngine, clock: Clock
) -> None:
    await records.enqueue_pms_write(comm())
    net.unavailable = 2
    assert (await drainer.drain_once()).unknown == 1
    clock.advance(seconds=31)
    assert (await drainer.drain_once()).unknown == 1
    assert (await drainer.drain_once()).claimed == 0
    clock.advance(seconds=61)  # backoff doubled
    assert (await drainer.drain_once()).confirmed == 1
    [row] = await rows(engine)
    assert (row.result_status, row.attempts) == ("created", 3)
    assert sum(net.sent.values()) == 1


async def test_definite_failure_retries_then_fails_with_staff_task(
    records: SqlRecords, drainer: OutboxDrainer, engine: AsyncEngine, clock: Clock
) -> None:
    await records.enqueue_pms_write(comm(key="demo|P404|cv_9", patient_id="P404"), conversation_id="cv_9")
    states = []
    for _ in range(3):
        report = await drainer.drain_once()
        states.append(next(iter(report.outcomes.values())))
        clock.advance(minutes=5)
    assert states == ["PENDING", "PENDING", "FAILED"]
    [row] = await rows(engine)
    assert row.state == "FAILED" and "P404" in (row.last_error or "")
    [task] = await records.list_staff_tasks(kind="pms_write_failed")
    assert task["priority"] == "high" and task["context"]["outbox_id"] == row.id
    assert task["conversation_id"] == "cv_9"
    assert "pms_write.failed" in [e["kind"] for e in await records.list_audit(patient_id="P404")]
    assert await records.outbox_backlog() == 0
    clock.advance(days=1)
    assert (await drainer.drain_once()).claimed == 0


async def test_late_finisher_cannot_overwrite_a_recovered_row(
    records: SqlRecords, engine: AsyncEngine, net: FlakyNetwork, clock: Clock
) -> None:
    await records.enqueue_pms_write(comm())
    gate = asyncio.Event()
    net.hold = gate
    slow = OutboxDrainer(make_session_factory(engine), net, clock)
    slow_task = asyncio.create_task(slow.drain_once())
    async with asyncio.timeout(WAIT):
        while net.hold is not None or (await rows(engine))[0].state != "IN_FLIGHT":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    clock.advance(minutes=6)
    other = OutboxDrainer(make_session_factory(engine), net, clock)
    assert (await other.drain_once()).confirmed == 1
    gate.set()
    report = await asyncio.wait_for(slow_task, WAIT)
    assert report.outcomes == {(await rows(engine))[0].id: "LOST"}
    [row] = await rows(engine)
    assert (row.state, row.attempts) == ("CONFIRMED", 2)
    assert len(await comm_notes(net)) == 1


async def test_concurrent_drainers_never_double_send(
    records: SqlRecords, store_url: str, net: FlakyNetwork, clock: Clock
) -> None:
    keys = [f"demo|G1|cv_{i}" for i in range(40)]
    for key in keys:
        await records.enqueue_pms_write(comm(key=key))
    net.delay = 0.002
    engines = [make_engine(store_url) for _ in range(4)]  # as if four separate processes
    claimed: list[int] = []

    async def drain(engine: AsyncEngine) -> None:
        d = OutboxDrainer(make_session_factory(engine), net, clock)
        while (report := await d.drain_once(limit=5)).claimed:
            claimed.append(report.claimed)

    try:
        await asyncio.wait_for(asyncio.gather(*[drain(e) for e in engines]), WAIT * 3)
    finally:
        for e in engines:
            await e.dispose()
    assert sum(claimed) == 40
    assert net.sent == {k: 1 for k in keys}
    assert await outbox_states(records._sessions) == {"CONFIRMED": 40}
    assert len(await comm_notes(net)) == 40


async def test_run_forever_drains_until_stopped(
    records: SqlRecords, drainer: OutboxDrainer, net: FlakyNetwork
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(drainer.run_forever(stop, interval=0.02))
    for i in range(3):
        await records.enqueue_pms_write(comm(key=f"demo|G1|loop{i}"))
    async with asyncio.timeout(WAIT):
        while await records.outbox_backlog():  # noqa: ASYNC110 - polling the database is the point
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, WAIT)
    assert len(await comm_notes(net)) == 3


def test_backoff_doubles_and_caps(drainer: OutboxDrainer) -> None:
    assert [drainer.backoff(n) for n in (1, 2, 3)] == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
    ]
    assert drainer.backoff(30) == timedelta(hours=1)


async def test_cancelled_mid_call_leaves_the_row_retryable(
    records: SqlRecords, drainer: OutboxDrainer, net: FlakyNetwork, engine: AsyncEngine, clock: Clock
) -> None:
    await records.enqueue_pms_write(comm())
    net.hold = asyncio.Event()  # never set: the call hangs until cancelled
    task = asyncio.create_task(drainer.drain_once())
    async with asyncio.timeout(WAIT):
        while net.hold is not None:  # noqa: ASYNC110 - waiting for the call to start
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await rows(engine)
    assert row.state == "UNKNOWN" and row.last_error == "drainer stopped mid-call"
    clock.advance(seconds=31)
    assert (await drainer.drain_once()).confirmed == 1
    assert len(await comm_notes(net)) == 1

"""Scale-out: two arq workers on real Redis + PostgreSQL never double-contact an account, and two
in-process dispatchers on SQLite claim each job once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, select

from agent.outreach.jobs import enqueue_due, make_worker
from agent.outreach.service import OutreachService, run_in_process
from agent.store.db import make_engine
from agent.store.migrate import upgrade
from agent.store.models import ContactAttemptRow
from agent.store.outreach import OutreachStore
from pms.local.adapter import LocalPms
from policies.config import load_policy
from tests.outreach.conftest import demo
from tests.outreach.sim import START, Clock, channels_for, make_runtime, policy_file


async def _sent_per_account(store: OutreachStore) -> Counter[str]:
    return Counter(j.guarantor_id for j in await store.list_jobs(states=("sent",)))


async def test_two_arq_workers_on_redis_and_postgres_never_double_contact(
    fresh_pg_url: str, redis_url: str, redis_prefix: str, redis_cleanup: None, tmp_path: Path,
) -> None:  # fmt: skip
    await upgrade(fresh_pg_url)  # the real migrations, 0005_outreach included
    engine = make_engine(fresh_pg_url)
    await LocalPms(engine, practice_id=load_policy().practice.practice_id).load_snapshot(demo())
    await engine.dispose()

    clock = Clock(START + timedelta(hours=4, minutes=30))  # 10:30 in Chicago: the day's texts are due
    policy = policy_file(tmp_path, "autonomous")
    a = await make_runtime(fresh_pg_url, policy, clock, redis_url=redis_url, redis_prefix=redis_prefix)
    b = await make_runtime(fresh_pg_url, policy, clock, redis_url=redis_url, redis_prefix=redis_prefix)
    queue = f"{redis_prefix}outreach"
    try:
        service = OutreachService.from_runtime(a, channels=channels_for(a), worker="planner")
        assert await service.plan_if_due()
        assert not await service.plan_if_due(), "the day is planned once (marked in Redis)"
        due = await service.store.list_jobs(states=("scheduled",), due_by=clock())
        assert len(due) >= 5
        wa = make_worker(a, queue=queue, burst=True, channels=channels_for(a), worker_name="worker-a")
        wb = make_worker(b, queue=queue, burst=True, channels=channels_for(b), worker_name="worker-b")
        redis = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            assert await enqueue_due(service, redis, queue) == len(due)
            assert await enqueue_due(service, redis, queue) == 0, "the same schedule is enqueued once"
            for job in due:  # and a duplicate of every job under another arq id, to make the workers race
                await redis.enqueue_job(
                    "dispatch_job", job.job_id, _job_id=f"dup:{job.job_id}", _queue_name=queue
                )
            await asyncio.gather(wa.async_run(), wb.async_run())
        finally:
            await redis.aclose()
            await wa.close()
            await wb.close()

        jobs = await service.store.list_jobs()
        by_id = {j.job_id: j for j in jobs}
        assert all(by_id[j.job_id].state not in ("scheduled", "dispatching") for j in due)
        sent = await _sent_per_account(service.store)
        assert sent and max(sent.values()) == 1, sent
        async with a.sessions() as s:
            attempts = await s.scalar(
                select(func.count())
                .select_from(ContactAttemptRow)
                .where(ContactAttemptRow.direction == "outbound")
            )
        assert attempts == sum(sent.values()), "every contact counted exactly once"
        assert {j.claimed_by for j in jobs if j.state == "sent"} <= {"worker-a", "worker-b"}
    finally:
        await a.close()
        await b.close()


async def test_two_in_process_dispatchers_on_sqlite_claim_each_job_once(
    demo_sqlite: str, tmp_path: Path
) -> None:
    clock = Clock(START + timedelta(hours=4, minutes=30))
    rt = await make_runtime(demo_sqlite, policy_file(tmp_path, "autonomous"), clock)
    try:
        one = OutreachService.from_runtime(rt, channels=channels_for(rt), worker="one")
        two = OutreachService.from_runtime(rt, channels=channels_for(rt), worker="two")
        await one.plan()
        due = await one.store.due_job_ids(clock())
        assert due
        d1, d2 = one.dispatcher(), two.dispatcher()
        results = await asyncio.gather(*(d.dispatch(j) for j in due for d in (d1, d2)))
        outcomes = Counter(results)
        assert outcomes["not_claimed"] >= len(due)
        sent = await _sent_per_account(one.store)
        assert sent and max(sent.values()) == 1
        assert outcomes["sent"] == sum(sent.values())
    finally:
        await rt.close()


async def test_the_in_process_runner_plans_and_dispatches_on_its_own(
    demo_sqlite: str, tmp_path: Path
) -> None:
    clock = Clock(START + timedelta(hours=4, minutes=30))
    rt = await make_runtime(demo_sqlite, policy_file(tmp_path, "autonomous"), clock)
    stop = asyncio.Event()
    try:
        service = OutreachService.from_runtime(rt, channels=channels_for(rt), worker="embedded")
        task = asyncio.create_task(run_in_process(service, stop, interval=0.05))
        for _ in range(400):
            await asyncio.sleep(0.05)
            if await service.store.list_jobs(states=("sent",)):
                break
        stop.set()
        await asyncio.wait_for(task, 30)
        jobs = await service.store.list_jobs()
        sent = [j for j in jobs if j.state == "sent"]
        assert sent and all(j.approval == "auto" for j in sent)
        assert rt.local_outbox is not None and rt.local_outbox.messages
    finally:
        stop.set()
        await rt.close()

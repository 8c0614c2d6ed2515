"""arq workers for outreach on Redis (`balanceline worker`): scale-out dispatch of scheduled contacts.

Two arq functions share one queue:
- `outreach_tick` (cron, every minute, `unique` so one worker runs each minute's tick): sweep jobs
  whose worker died, apply PMS changes, run the daily plan once per practice-local day (marked in
  shared state, so however many workers run, one plans), and enqueue one `dispatch_job` per due job;
- `dispatch_job(job_id)`: `Dispatcher.dispatch`, which claims the job row with a conditional UPDATE.
  A duplicate enqueue, a redelivery or two workers racing for one job find it already claimed.

Retries are the job row's (the dispatcher reschedules TRANSIENT failures with backoff), so arq's
own retry is off (`max_tries=1`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from arq import cron, func
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

from agent.logs import get_logger
from agent.outreach.channels import OutreachChannel
from agent.outreach.service import OutreachService

if TYPE_CHECKING:
    from agent.runtime import Runtime

log = get_logger(__name__)

QUEUE = "bl:outreach"


async def dispatch_job(ctx: dict[str, Any], job_id: str) -> str:
    service: OutreachService = ctx["outreach"]
    return await service.dispatcher().dispatch(job_id)


async def enqueue_due(service: OutreachService, redis: ArqRedis, queue: str = QUEUE) -> int:
    """One `dispatch_job` per due job; the arq job id names the job and its due instant, so the
    same schedule is enqueued once while a rescheduled job can be enqueued again."""
    n = 0
    for job in await service.store.list_jobs(states=("scheduled",), due_by=service.clock()):
        arq_id = f"outreach:{job.job_id}:{int(job.due_at.timestamp())}"
        if await redis.enqueue_job("dispatch_job", job.job_id, _job_id=arq_id, _queue_name=queue):
            n += 1
    return n


async def outreach_tick(ctx: dict[str, Any]) -> int:
    service: OutreachService = ctx["outreach"]
    await service.housekeeping()
    await service.plan_if_due()
    return await enqueue_due(service, ctx["redis"], ctx.get("queue", QUEUE))


def make_worker(
    runtime: Runtime,
    *,
    queue: str = QUEUE,
    burst: bool = False,
    channels: dict[str, OutreachChannel] | None = None,
    worker_name: str | None = None,
    max_jobs: int = 10,
) -> Worker:
    """An arq worker on `REDIS_URL` with the runtime's store, PMS, policy and channels."""
    url = runtime.settings.redis_url
    if not url:
        raise ValueError("arq workers need REDIS_URL")
    service = OutreachService.from_runtime(runtime, channels=channels, worker=worker_name)
    return Worker(
        functions=[func(dispatch_job, name="dispatch_job", max_tries=1)],
        cron_jobs=[cron(outreach_tick, name="outreach_tick", second=0, unique=True)],
        redis_settings=RedisSettings.from_dsn(url),
        queue_name=queue,
        burst=burst,
        handle_signals=False,
        max_jobs=max_jobs,
        keep_result=60,
        ctx={"outreach": service, "queue": queue},
        log_results=False,
    )


async def run_outreach_worker(runtime: Runtime, stop: asyncio.Event) -> None:
    """Run an arq outreach worker until `stop` is set (used by `balanceline worker`)."""
    worker = make_worker(runtime)
    task = asyncio.create_task(worker.async_run())
    log.info("outreach_worker_started", queue=QUEUE)
    try:
        await stop.wait()
    finally:
        await worker.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

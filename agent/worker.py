"""`balanceline worker`: background loops that must run exactly once across replicas."""

from __future__ import annotations

import asyncio
import signal

from agent.logs import get_logger
from agent.outreach.jobs import run_outreach_worker
from agent.payments import run_plan_charges
from agent.runtime import build_runtime
from agent.settings import Settings

log = get_logger(__name__)


async def run_worker(settings: Settings, *, interval: float = 2.0) -> None:
    runtime = await build_runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker_started", outbox_interval=interval)
    try:
        await asyncio.gather(
            runtime.outbox.run_forever(stop, interval),
            run_plan_charges(runtime, stop),  # installment reminders, charges and retries
            run_outreach_worker(runtime, stop),  # arq: daily outreach plan + dispatch of due contacts
        )
    finally:
        await runtime.close()
        log.info("worker_stopped")

"""Dispatch throughput: scheduled outreach contacts sent per second by one worker, loopback Twilio.

    python -m benchmarks.run outreach --patients 3000

Setup (untimed): the demo practice (`--patients`) in SQLite or a scratch PostgreSQL database (real
migrations), the demo policy in autonomous mode, the clock frozen at 10:30 Chicago time on the
demo's as-of day, and the daily plan run once, so every account whose first cadence step is a
text has a job due. Twilio is FakeTwilio (tests/fakes/twilio_rest.py) in its own process, reached
through the real SDK-shaped REST client (`TwilioSmsClient`, `TWILIO_API_BASE`).

Timed: `Dispatcher.run_due()` until no job is due, by `dispatchers` concurrent dispatchers in this
one process (1 = one worker; more shows how much of a worker's time is waiting on I/O). Every job
goes the whole production path: claim (conditional UPDATE), the account's lock, the PMS and record
store read again, the compliance gate, `GuardedSms` (suppression + gate + Twilio REST call + message
and counted-attempt rows), the job's final state and the PMS comm-log outbox row.

Verified afterwards: every due job is final, FakeTwilio received exactly one text per sent job, and
the record store counted exactly one attempt per sent job.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
import yaml
from pydantic import SecretStr
from rich.table import Table
from sqlalchemy import func, select

from benchmarks.common import create_database, drop_database, sqlalchemy_url

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 16, 30, tzinfo=UTC)  # 10:30 in Chicago on the demo's as-of day


@dataclass
class DispatchBench:
    backend: str
    patients: int
    dispatchers: int
    jobs: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    texts_at_twilio: int = 0
    counted_attempts: int = 0
    setup_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def consistent(self) -> bool:
        sent = self.outcomes.get("sent", 0)
        return sent == self.texts_at_twilio == self.counted_attempts


@contextlib.contextmanager
def _fake_twilio() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.fake_twilio_server"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"FakeTwilio did not start: {line!r}")
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        proc.terminate()
        proc.wait(timeout=10)


def _policy(tmp: Path) -> Path:
    from policies.config import DEMO_POLICY_PATH

    raw = yaml.safe_load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    raw["automation_mode"] = "autonomous"
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


async def _prepare(url: str, patients: int) -> None:
    from agent.store.db import make_engine
    from agent.store.migrate import upgrade
    from pms.demo import generate
    from pms.local.adapter import LocalPms
    from policies.config import load_policy

    await upgrade(url)
    engine = make_engine(url)
    try:
        snapshot = generate(seed=7, patients=patients, as_of=START.date())
        await LocalPms(engine, practice_id=load_policy().practice.practice_id).load_snapshot(snapshot)
    finally:
        await engine.dispose()


async def _measure(url: str, twilio: str, tmp: Path, result: DispatchBench) -> None:
    from agent.outreach.service import OutreachService
    from agent.outreach.sms_channel import SmsOutreachChannel
    from agent.runtime import build_runtime
    from agent.settings import Settings
    from agent.store.models import ContactAttemptRow
    from tests.fakes.twilio_rest import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

    settings = Settings(  # type: ignore[call-arg]
        DATABASE_URL=url, POLICY_FILE=str(_policy(tmp)), REDIS_URL=None, TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=SecretStr(DEFAULT_AUTH_TOKEN), TWILIO_FROM_NUMBER="+13125550100", TWILIO_API_BASE=twilio,
    )  # fmt: skip
    rt = await build_runtime(settings, clock=lambda: START)
    try:
        channels = {"sms": SmsOutreachChannel(rt.outbound_sms, rt.policy)}
        services = [OutreachService.from_runtime(rt, channels=channels, worker=f"bench-{i}")  # type: ignore[arg-type]
                    for i in range(result.dispatchers)]  # fmt: skip
        await services[0].plan()
        result.jobs = len(await services[0].store.due_job_ids(START, limit=1_000_000))
        outcomes: Counter[str] = Counter()

        async def drain(service: OutreachService) -> None:
            d = service.dispatcher()
            while True:
                ids = await service.store.due_job_ids(START, limit=50)
                if not ids:
                    return
                for job_id in ids:
                    outcomes[await d.dispatch(job_id)] += 1

        t = time.perf_counter()
        await asyncio.gather(*(drain(s) for s in services))
        result.seconds = time.perf_counter() - t
        outcomes.pop("not_claimed", None)
        result.outcomes = dict(outcomes)
        async with rt.sessions() as s:
            result.counted_attempts = int(
                await s.scalar(
                    select(func.count()).select_from(ContactAttemptRow).where(ContactAttemptRow.counted)
                )
                or 0
            )
    finally:
        await rt.close()
    async with httpx.AsyncClient(timeout=10) as client:
        result.texts_at_twilio = len((await client.get(f"{twilio}/fake/messages")).json())


def run_outreach_dispatch(
    *,
    backend: Literal["sqlite", "postgresql"] = "sqlite",
    patients: int = 3000,
    dispatchers: int = 1,
    say: Callable[[str], None] = print,
) -> DispatchBench:
    result = DispatchBench(backend=backend, patients=patients, dispatchers=dispatchers)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        dbname = f"bl_bench_outreach_{uuid.uuid4().hex[:8]}"
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}" if backend == "sqlite" else sqlalchemy_url(dbname)

        async def go() -> None:
            if backend == "postgresql":
                await create_database(dbname)
            try:
                t = time.perf_counter()
                say(f"[outreach] preparing {patients:,} patients on {backend}")
                await _prepare(url, patients)
                result.setup_seconds = time.perf_counter() - t
                with _fake_twilio() as twilio:
                    say(f"[outreach] dispatching with {dispatchers} dispatcher(s)")
                    await _measure(url, twilio, tmp, result)
            finally:
                if backend == "postgresql":
                    await drop_database(dbname)

        asyncio.run(go())
    return result


def dispatch_table(results: list[DispatchBench]) -> Table:
    t = Table(title="Outreach dispatch: scheduled texts sent per second (loopback Twilio)")
    for col in ("backend", "patients", "dispatchers", "jobs", "seconds", "jobs/s", "outcomes", "consistent"):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(r.backend, f"{r.patients:,}", str(r.dispatchers), str(r.jobs), f"{r.seconds:.2f}",
                  f"{r.per_second:.1f}", ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())),
                  "yes" if r.consistent else "NO")  # fmt: skip
    return t

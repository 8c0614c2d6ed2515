"""Shared helpers: the machine, percentiles, CPU accounting from /proc, ports, scratch databases."""

from __future__ import annotations

import math
import os
import platform
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PG_ADMIN_DSN = os.environ.get("BALANCELINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# A Redis database of its own: the test suite uses 0 and 1. Only `bl:*` keys are ever deleted.
REDIS_BENCH_URL = os.environ.get("BALANCELINE_BENCH_REDIS", "redis://127.0.0.1:6379/13")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---- the machine --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """nproc, CPU model, memory, Python and the load average right now (the box is shared)."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "nproc": str(os.cpu_count() or 0),
        "cpu": model,
        "memory": mem,
        "python": platform.python_version(),
        "loadavg": load,
    }


def python_speed_ms(repeats: int = 3) -> float:
    """CPU milliseconds of a fixed pure-Python workload (best of `repeats`): the same code measures
    slower on a slower or throttled machine, so results from different days are compared with
    this beside them (the shared machines here have varied ~3x between sessions)."""
    best = math.inf
    for _ in range(repeats):
        t = time.process_time()
        acc: dict[int, int] = {}
        for i in range(300_000):
            acc[i & 1023] = acc.get(i & 1023, 0) + (i * 7 >> 3)
        "".join(str(v) for v in acc.values())
        best = min(best, time.process_time() - t)
    return 1000 * best


# ---- statistics ---------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100); NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99/max (and mean) of durations given in seconds, in milliseconds."""
    xs = sorted(s * 1000 for s in seconds)
    return {
        "n": float(len(xs)),
        "p50": percentile(xs, 50),
        "p95": percentile(xs, 95),
        "p99": percentile(xs, 99),
        "max": xs[-1] if xs else math.nan,
        "mean": sum(xs) / len(xs) if xs else math.nan,
    }


# ---- CPU accounting from /proc ------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15 of stat)


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (scans /proc; no psutil)."""
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def pids_named(name: str) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm == name:
                out.append(int(entry.name))
    return out


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in parts[:8]]
    idle = vals[3] + vals[4]  # idle + iowait
    total = sum(vals)
    return (total - idle) / _TICKS, total / _TICKS


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@dataclass
class CpuMeter:
    """CPU used by named groups of processes over a window.

    Each group is a function returning its pids, asked at start and at stop: a process that
    appears during the window counts from zero, one that ends during it is lost (and said so)."""

    groups: dict[str, Callable[[], list[int]]]
    _start: dict[str, dict[int, float]] = field(default_factory=dict)
    _sys: tuple[float, float] = (0.0, 0.0)
    lost: dict[str, int] = field(default_factory=dict)
    result: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._start = {g: {p: proc_cpu_seconds(p) for p in pids()} for g, pids in self.groups.items()}
        self._sys = system_cpu()

    def stop(self, wall: float) -> dict[str, float]:
        """Cores used per group (CPU seconds / wall seconds), plus `machine` and `other` (not ours)."""
        used: dict[str, float] = {}
        for g, pids in self.groups.items():
            before = self._start.get(g, {})
            now = {p: proc_cpu_seconds(p) for p in pids()}
            self.lost[g] = sum(1 for p in before if p not in now)
            used[g] = sum(max(0.0, v - before.get(p, 0.0)) for p, v in now.items()) / wall
        busy, _total = system_cpu()
        used["machine"] = (busy - self._sys[0]) / wall
        used["other"] = max(
            0.0, used["machine"] - sum(v for k, v in used.items() if k not in ("machine", "other"))
        )
        self.result = used
        return used


# ---- ports and scratch databases ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlalchemy_url(dbname: str, admin_dsn: str = PG_ADMIN_DSN) -> str:
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{dbname}"


async def create_database(name: str, admin_dsn: str = PG_ADMIN_DSN) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str, admin_dsn: str = PG_ADMIN_DSN) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def backend_pids(dbname: str, admin_dsn: str = PG_ADMIN_DSN) -> list[int]:
    """PostgreSQL backend processes connected to `dbname` (to charge their CPU to the benchmark)."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", dbname)
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def pg_transactions(dbname: str, admin_dsn: str = PG_ADMIN_DSN) -> int:
    """Committed + rolled-back transactions of `dbname` so far (pg_stat_database)."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        n = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", dbname
        )
    finally:
        await conn.close()
    return int(n or 0)


async def inbound_texts(dbname: str, admin_dsn: str = PG_ADMIN_DSN) -> int:
    """Inbound messages recorded in `dbname` so far (texts the app has handled)."""
    import asyncpg

    dsn = admin_dsn.rsplit("/", 1)[0] + "/" + dbname
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        n = await conn.fetchval("SELECT count(*) FROM messages WHERE direction = 'in'")
    finally:
        await conn.close()
    return int(n or 0)

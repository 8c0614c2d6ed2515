"""``python -m benchmarks.run voice``: cloud speech on loopback vendors, then local speech.

Printed as two tables; every number is also returned for ``--json``. Method: docs/benchmarks.md (Voice).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.voice_cloud import (
    TARGET_BARGE_P95_MS,
    TARGET_CAPACITY,
    TARGET_JITTER_P99_MS,
    TARGET_OVERHEAD_P50_MS,
    TARGET_OVERHEAD_P95_MS,
    VoiceResult,
    run_cloud,
)
from benchmarks.voice_local import TARGET_P50_ONE_CALL_MS, TARGET_P95_MS, local_capacity, run_local


def _ms(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def _cpu(r: VoiceResult) -> str:
    c = r.cpu
    return "/".join(f"{c.get(k, 0.0):.2f}" for k in ("app", "vendors", "callers", "other"))


def cloud_table(results: list[VoiceResult]) -> Table:
    injected = results[0].injected_ms if results else math.nan
    t = Table(
        title=(
            f"Voice, cloud speech on loopback vendors (injected {injected:.0f} ms subtracted; targets: "
            "overhead "
            f"p50 <= {TARGET_OVERHEAD_P50_MS:.0f} / p95 <= {TARGET_OVERHEAD_P95_MS:.0f} ms, barge-in p95 <= "
            f"{TARGET_BARGE_P95_MS:.0f} ms, jitter p99 <= {TARGET_JITTER_P99_MS:.0f} ms with no underruns)"
        )
    )
    for col in ("scenario", "at once", "calls", "overhead p50", "p95", "max", "barge-in p50", "p95",
                "jitter p99 ms", "frames", "underruns", "errors", "cores app/vendors/callers/other",
                ):  # fmt: skip
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(
            r.scenario,
            str(r.concurrency),
            str(r.calls),
            _ms(r.overhead.get("p50")),
            _ms(r.overhead.get("p95")),
            _ms(r.overhead.get("max")),
            _ms(r.barge.get("p50")),
            _ms(r.barge.get("p95")),
            _ms(r.jitter.get("p99")),
            f"{r.frames:,}",
            str(r.underruns),
            str(len(r.errors)),
            _cpu(r),
        )
    return t


def local_table(results: list[VoiceResult]) -> Table:
    t = Table(
        title=(
            "Offline voice-to-voice, local speech + rules brain (targets: "
            f"p50 <= {TARGET_P50_ONE_CALL_MS:.0f} ms "
            f"at one call; concurrency at p95 <= {TARGET_P95_MS:.0f} ms)"
        )
    )
    for col in (
        "at once",
        "calls",
        "p50 ms",
        "p95 ms",
        "max ms",
        "errors",
        "cores app/vendors/callers/other",
    ):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(
            str(r.concurrency),
            str(r.calls),
            _ms(r.overhead.get("p50")),
            _ms(r.overhead.get("p95")),
            _ms(r.overhead.get("max")),
            str(len(r.errors)),
            _cpu(r),
        )
    return t


def capacity(results: list[VoiceResult]) -> int:
    """The largest capacity level that stayed smooth (jitter and underruns) without errors."""
    return max((r.concurrency for r in results if r.scenario == "capacity" and r.smooth), default=0)


def run_voice(
    *, quick: bool, console: Console, err: Console, capacity_levels: list[int] | None = None
) -> dict[str, Any]:
    say = err.print
    say("voice: cloud speech on loopback vendors")
    cloud = run_cloud(
        single_calls=1 if quick else 5,
        concurrent=2 if quick else 100,
        capacity_levels=tuple(capacity_levels or ([3] if quick else [100, 200])),
        ramp_s=1.0 if quick else 5.0,
        say=say,
    )
    console.print(cloud_table(cloud))
    for r in cloud:
        if r.breakdown:
            hops = ", ".join(f"{hop} {ms:.0f} ms" for hop, ms in r.breakdown.items())
            console.print(f"overhead by hop at one call (p50, injected latency removed): {hops}")
    held = capacity(cloud)
    console.print(
        f"capacity: {held} concurrent calls held smoothly (target >= {TARGET_CAPACITY}; largest level tried: "
        f"{max((r.concurrency for r in cloud if r.scenario == 'capacity'), default=0)})"
    )
    say("voice: local speech")
    local = run_local(single_calls=1 if quick else 3, levels=(2,) if quick else (2, 4, 8), say=say)
    console.print(local_table(local))
    console.print(f"local speech: {local_capacity(local)} concurrent calls at p95 <= {TARGET_P95_MS:.0f} ms")
    return {
        "cloud": [asdict(r) for r in cloud],
        "capacity": held,
        "local": [asdict(r) for r in local],
        "local_capacity": local_capacity(local),
    }

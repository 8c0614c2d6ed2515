"""`python -m benchmarks.run` (`make bench`): run the benchmarks and print the numbers as tables.

    python -m benchmarks.run                          # both, at the issue's sizes
    python -m benchmarks.run sms --workers 2 --rate 300 --rate 60 --duration 30
    python -m benchmarks.run sms --profile            # py-spy the app workers (pip install py-spy)
    python -m benchmarks.run planning --accounts 100000
    python -m benchmarks.run voice                    # voice: overhead, barge-in, capacity, local speech
    python -m benchmarks.run --quick                  # tiny sizes: proves the machinery, measures nothing
    python -m benchmarks.run --json out.json          # also write every number as JSON

Needs PostgreSQL (BALANCELINE_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/postgres; a
scratch database is created and dropped) and Redis (BALANCELINE_BENCH_REDIS, default db 13; only
`bl:*` keys are touched). See docs/benchmarks.md for the method and the latest numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import machine, python_speed_ms
from benchmarks.planning import DAYTIME, EVENING, TARGET_SECONDS, PlanningResult, make_accounts, run_planning
from benchmarks.sms_load import TARGET_P99_MS, TARGET_RATE, SmsResult, run_sms


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def _verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]not met[/red]"


def sms_table(results: list[SmsResult]) -> Table:
    t = Table(
        title=f"SMS webhooks (target >= {TARGET_RATE:.0f}/s, p99 <= {TARGET_P99_MS:.0f} ms, 0 errors/duplicates)"
    )
    for col in ("workers", "offered/s", "achieved/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
                "dup in/reply/twilio", "replays", "cores app/pg/other", "CPU ms/text app/pg", "target"):  # fmt: skip
        t.add_column(col, justify="right")
    for r in results:
        lat = r.latency
        t.add_row(
            str(r.workers),
            f"{r.rate:.0f}",
            f"{r.achieved:.1f}",
            _ms(lat.get("p50", math.nan)),
            _ms(lat.get("p95", math.nan)),
            _ms(lat.get("p99", math.nan)),
            _ms(lat.get("max", math.nan)),
            f"{r.errors + r.warmup_errors}" + (f" ({r.missing_inbound} lost)" if r.missing_inbound else ""),
            f"{r.duplicate_inbound}/{r.multi_reply + r.excess_replies}/{r.twilio_excess}",
            str(r.replays),
            f"{r.cpu.get('app', 0):.2f}/{r.cpu.get('postgres', 0):.2f}/{r.cpu.get('other', 0):.2f}",
            "-"
            if r.achieved < 0.9 * r.rate
            else f"{r.cpu_ms_per_text.get('app', 0):.1f}/{r.cpu_ms_per_text.get('postgres', 0):.1f}",
            _verdict(r.meets_target),
        )
    return t


def planning_table(results: list[PlanningResult]) -> Table:
    t = Table(
        title=f"Planning: prioritise + cadence step + compliance check (target 100,000 accounts <= {TARGET_SECONDS:.0f} s)"
    )
    for col in ("accounts", "now (UTC)", "cold s", "warm s", "accounts/s", "prioritise s", "cadence s", "check s",
                "checks", "target"):  # fmt: skip
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(
            f"{r.accounts:,}",
            r.at[:16].replace("T", " "),
            f"{r.seconds:.2f}",
            f"{r.warm_seconds:.2f}",
            f"{r.per_second:,.0f}",
            f"{r.prioritise_seconds:.2f}",
            f"{r.cadence_seconds:.2f}",
            f"{r.check_seconds:.2f}",
            f"{r.checks:,}",
            _verdict(r.meets_target),
        )
    return t


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("bench", nargs="?", choices=("all", "sms", "planning", "voice", "outreach"), default="all")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run; the numbers mean nothing)")
    p.add_argument("--json", type=Path, help="write every result as JSON here")
    s = p.add_argument_group("sms")
    s.add_argument(
        "--workers", type=int, action="append", help="uvicorn workers (repeatable; default 1 and 2)"
    )
    s.add_argument(
        "--rate",
        type=float,
        action="append",
        help=f"texts per second (repeatable; default {TARGET_RATE:.0f})",
    )
    s.add_argument("--duration", type=float, default=30.0, help="measured seconds (default 30)")
    s.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds at the same rate (default 5)")
    s.add_argument("--patients", type=int, default=5000, help="demo practice size (400 = the harness's own)")
    s.add_argument("--replay-share", type=float, default=0.05, help="share of MessageSids sent twice")
    s.add_argument("--profile", action="store_true", help="py-spy the app workers during the window")
    s.add_argument("--keep-db", action="store_true", help="keep the scratch database for inspection")
    g = p.add_argument_group("planning")
    g.add_argument("--accounts", type=int, default=100_000)
    g.add_argument(
        "--base-patients", type=int, default=10_000, help="size of the generated practice tiled up"
    )
    g.add_argument("--source", choices=("tiled", "demo"), default="tiled")
    g.add_argument("--population", choices=("ar", "all"), default="ar")
    g.add_argument("--repeats", type=int, default=3)
    o = p.add_argument_group("outreach")
    o.add_argument("--outreach-patients", type=int, default=3000, help="demo practice size for dispatch")
    o.add_argument("--outreach-backend", choices=("sqlite", "postgresql"), action="append")
    o.add_argument(
        "--dispatchers", type=int, action="append", help="concurrent dispatchers (default 1 and 4)"
    )
    v = p.add_argument_group("voice")
    v.add_argument(
        "--voice-calls", type=int, action="append", help="capacity level (repeatable; default 100 and 200)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = Console(width=None if sys.stdout.isatty() else 170)
    err = Console(stderr=True)
    info = machine()
    info["python_speed_ms"] = f"{python_speed_ms():.0f}"
    console.print(
        f"machine: {info['nproc']} x {info['cpu']}, {info['memory']}, Python {info['python']}, "
        f"load average {info['loadavg']} (other work on the machine shows up as 'other' CPU); "
        f"speed probe {info['python_speed_ms']} ms (lower is faster; see docs/benchmarks.md)"
    )
    out: dict[str, Any] = {"machine": info, "sms": [], "planning": []}
    if args.bench in ("all", "planning"):
        n = 2_000 if args.quick else args.accounts
        accs = make_accounts(n, base_patients=min(args.base_patients, 1_000 if args.quick else args.base_patients),
                             source=args.source, population=args.population)  # fmt: skip
        results = [
            run_planning(
                accounts=n,
                at=at,
                source=args.source,
                population=args.population,
                repeats=1 if args.quick else args.repeats,
                prepared=accs,
                say=err.print,
            )
            for at in (DAYTIME, EVENING)
        ]
        out["planning"] = [
            asdict(r) | {"per_second": r.per_second, "meets_target": r.meets_target} for r in results
        ]
        console.print(planning_table(results))
    if args.bench in ("all", "sms"):
        sms: list[SmsResult] = []
        for workers in args.workers or [1, 2]:
            for rate in args.rate or ([20.0] if args.quick else [TARGET_RATE]):
                r = run_sms(
                    workers=workers,
                    rate=rate,
                    duration=3.0 if args.quick else args.duration,
                    warmup=1.0 if args.quick else args.warmup,
                    patients=400 if args.quick else args.patients,
                    replay_share=args.replay_share,
                    profile=args.profile,
                    keep=args.keep_db,
                    say=err.print,
                )
                sms.append(r)
                if r.achieved >= 0.9 * r.rate:
                    r.notes.append(
                        f"{r.pg_transactions / (r.achieved * r.duration):.1f} PostgreSQL transactions per text"
                    )
                if r.deferred:
                    r.notes.append(
                        f"{r.deferred} replays arrived while their first delivery was still being processed: "
                        "answered 503 + Retry-After and retried (then 200); latency counts the first answer"
                    )
                if r.missing_inbound:
                    r.notes.append(
                        f"{r.missing_inbound} texts answered 200 but never recorded; "
                        f"{r.missing_after_failed_attempt} of them: a replay was answered 'duplicate' while "
                        "the first attempt was still running, and that attempt then failed"
                    )
                if r.twilio_mismatch:
                    r.notes.append(f"{r.twilio_mismatch} numbers: FakeTwilio and the database disagree")
                for note in r.notes:
                    err.print(f"  note: {note}")
                if r.profile:
                    err.print(f"  py-spy, workers={workers} rate={rate:.0f}: share of CPU samples")
                    for name, share in r.profile:
                        err.print(f"    {share:5.1f}%  {name}", markup=False)
        out["sms"] = [r.as_dict() for r in sms]
        console.print(sms_table(sms))
    if args.bench in ("all", "outreach"):
        from benchmarks.outreach_dispatch import dispatch_table, run_outreach_dispatch

        runs = [
            run_outreach_dispatch(backend=b, patients=300 if args.quick else args.outreach_patients, dispatchers=d,
                                  say=err.print)
            for b in (args.outreach_backend or (["sqlite"] if args.quick else ["sqlite", "postgresql"]))
            for d in (args.dispatchers or ([1] if args.quick else [1, 4]))
        ]  # fmt: skip
        out["outreach"] = [asdict(r) | {"per_second": r.per_second, "consistent": r.consistent} for r in runs]
        console.print(dispatch_table(runs))
    if args.bench == "voice":  # not part of "all": a few minutes of real-time calls (docs/benchmarks.md)
        from benchmarks.voice_run import run_voice

        out["voice"] = run_voice(quick=args.quick, console=console, err=err, capacity_levels=args.voice_calls)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

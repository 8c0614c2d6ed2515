"""A/B of the SMS benchmark: this tree against another commit, run alternately on the same machine.

The shared machines here change speed by 2-3x between sessions and by tens of percent within one,
so a number measured yesterday says little about a change made today. This runs
``python -m benchmarks.run sms`` on a git worktree of ``--base`` and on the working tree in turns
(base, this, base, this, ...) and prints each round and the ratio of the medians::

    python -m benchmarks.ab --base 92132e2 --rounds 2 --rate 40 --duration 20

Both sides use this venv. The worktree is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
METRICS = (
    ("app CPU ms/text", lambda r: r["app_cpu_ms_per_handled"]),
    ("PG transactions/text", lambda r: r["pg_transactions_per_handled"]),
    ("p99 ms", lambda r: r["latency"].get("p99")),
    ("errors", lambda r: r["errors"]),
)


def run_side(tree: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One SMS run in `tree` (its own code, this venv); the result's JSON."""
    cmd = [sys.executable, "-m", "benchmarks.run", "sms", "--workers", str(args.workers),
           "--rate", str(args.rate), "--duration", str(args.duration), "--json", str(out)]  # fmt: skip
    subprocess.run(cmd, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())["sms"][0]
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="the commit to compare against (e.g. origin/main, a sha)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rate", type=float, default=40.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--duration", type=float, default=20.0)
    args = p.parse_args(argv)
    console = Console(stderr=True)
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="bl-ab-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), args.base], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            for n in range(1, args.rounds + 1):
                for side, tree in (("base", base_tree), ("this", ROOT)):
                    console.print(f"round {n}: {side}")
                    rows.append((side, n, run_side(tree, args, Path(tmp) / f"{side}{n}.json")))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    Console().print(ab_table(rows, args.base))
    return 0


def ab_table(rows: list[tuple[str, int, dict[str, Any]]], base: str) -> Table:
    t = Table(title=f"SMS A/B: this tree against {base} (runs alternated; ratio = this / base, medians)")
    t.add_column("side")
    t.add_column("round", justify="right")
    for name, _ in METRICS:
        t.add_column(name, justify="right")
    for side, n, r in rows:
        t.add_row(side, str(n), *(_fmt(get(r)) for _, get in METRICS))
    ratios = []
    for _, get in METRICS:
        base_med = _median([get(r) for side, _, r in rows if side == "base"])
        this_med = _median([get(r) for side, _, r in rows if side == "this"])
        ratios.append("-" if not base_med or this_med is None else f"{this_med / base_med:.2f}")
    t.add_row("ratio", "", *ratios)
    return t


def _median(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if v is not None]
    return statistics.median(nums) if nums else None


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    raise SystemExit(main())

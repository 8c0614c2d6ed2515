"""The A/B table of `benchmarks.ab` (the runs themselves are the SMS benchmark's, tested elsewhere)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from benchmarks.ab import ab_table


def _run(cpu: float, p99: float, errors: int = 0) -> dict[str, Any]:
    return {
        "app_cpu_ms_per_handled": cpu,
        "pg_transactions_per_handled": 6.0,
        "latency": {"p99": p99},
        "errors": errors,
    }


def test_the_ratio_is_of_the_medians_this_over_base() -> None:
    rows = [
        ("base", 1, _run(30.0, 150.0)),
        ("this", 1, _run(15.0, 60.0)),
        ("base", 2, _run(20.0, 130.0)),
        ("this", 2, _run(12.0, 100.0)),
    ]
    console = Console(width=200, record=True)
    console.print(ab_table(rows, "abc123"))
    text = console.export_text()
    ratio_line = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("ratio"))
    cells = [c.strip() for c in ratio_line.split("│") if c.strip()]
    assert cells == ["ratio", "0.54", "1.00", "0.57", "-"]  # 13.5/25, 6/6, 80/140, no base errors

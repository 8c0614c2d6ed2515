"""`balanceline outreach plan|run|reconcile`: the operator's view of the outreach pipeline."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.outreach.planner import WorkItem
from agent.outreach.reconcile import parse_week, promise_report
from agent.outreach.service import OutreachService
from agent.outreach.worklist import as_of
from agent.settings import Settings, SettingsError, load_settings
from policies.config import load_policy

outreach_app = typer.Typer(
    help="Outbound outreach: worklist, run, promise reconciliation.", no_args_is_help=True
)
console = Console(stderr=True)
T = TypeVar("T")
out = Console()


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


async def _with_service(settings: Settings, fn: Callable[[OutreachService], Awaitable[T]]) -> T:
    from agent.runtime import build_runtime

    runtime = await build_runtime(settings)
    try:
        return await fn(OutreachService.from_runtime(runtime))
    finally:
        await runtime.close()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)  # fmt: skip


def _table(items: list[WorkItem], tz: ZoneInfo) -> Table:
    t = Table(title=f"Outreach worklist ({len(items)} accounts)", show_lines=False)
    for col in ("patient", "tier", "score", "next step", "when", "decision", "reasons"):
        t.add_column(col, overflow="fold")
    for i in sorted(items, key=lambda i: -i.score):
        step = f"{i.step.key or i.step.kind} ({i.channel})" if i.channel else (i.step.key or i.step.kind)
        when = (
            i.at.astimezone(tz).strftime("%a %b %d %H:%M %Z")
            if i.at
            else (i.step.due_on.isoformat() if i.step.due_on else "")
        )
        d = i.decision
        decision = "allowed" if d and d.allowed else (d.reason if d else "")
        if d is not None and not d.allowed and d.next_allowed_at is not None:
            decision += f" until {d.next_allowed_at:%b %d %H:%M}"
        style = "green" if d and d.allowed else "yellow" if i.status in ("waiting", "review") else "red"
        t.add_row(i.patient_id, i.tier, f"{i.score:.1f}", step, when, f"[{style}]{decision}[/{style}]",
                  "; ".join((i.step.reasons or i.reasons)[:3]))  # fmt: skip
    return t


@outreach_app.command("plan")
def plan(
    day: Annotated[
        str | None, typer.Option("--date", help="Plan as of this day (YYYY-MM-DD); default today.")
    ] = None,
) -> None:
    """Today's prioritised worklist: tier, reasons, next step and the compliance decision for every
    account. A preview: nothing is scheduled."""
    settings = _settings()
    try:
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        console.print(f"[red]--date must be YYYY-MM-DD, got {day!r}[/red]")
        raise typer.Exit(2) from exc

    async def go(service: OutreachService) -> list[WorkItem]:
        with _progress() as progress:
            task = progress.add_task("planning accounts", total=None)
            summary = await service.plan(
                persist=False,
                now=as_of(when, service.clock(), service.tz),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        return summary.items

    items = asyncio.run(_with_service(settings, go))
    out.print(_table(items, ZoneInfo(load_policy(settings.policy_file).practice.timezone)))


@outreach_app.command("run")
def run(
    plan_only: Annotated[bool, typer.Option(help="Plan and schedule, but send nothing now.")] = False,
) -> None:
    """Execute today's plan: schedule (or queue for approval) every contact, then send what is due now."""
    settings = _settings()

    async def go(service: OutreachService) -> None:
        await service.housekeeping()
        with _progress() as progress:
            task = progress.add_task("planning accounts", total=None)
            summary = await service.plan(
                progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
        counts = {
            s: summary.count(s) for s in ("scheduled", "awaiting_approval", "waiting", "review", "blocked")
        }
        out.print(
            f"planned {len(summary.items)} accounts: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
        if not plan_only:
            outcomes = await service.dispatcher().run_due()
            out.print(
                "dispatched: " + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "nothing due")
            )

    asyncio.run(_with_service(settings, go))


@outreach_app.command("reconcile")
def reconcile(
    week: Annotated[str, typer.Option(help="ISO week (2026-W45) or any date in it.")],
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the CSV here (default: stdout).")
    ] = None,
) -> None:
    """Weekly reconciliation: promises the agent recorded vs payments actually posted, as CSV."""
    settings = _settings()
    try:
        parse_week(week)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def go(service: OutreachService) -> str:
        report = await promise_report(service.store, service.pms, service.policy, week, service.clock())
        console.print(
            f"{report.week}: {len(report.lines)} promises, {report.total('amount')} promised, "
            f"{report.total('paid_amount')} paid; kept {report.count('kept')}, partly {report.count('partly_kept')}, "
            f"broken {report.count('broken')}, pending {report.count('pending')}"
        )
        return report.to_csv()

    text = asyncio.run(_with_service(settings, go))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")

"""`balanceline pms …`: the write-back half of the CSV round trip, and a PMS health check.

`export-writebacks` writes everything BalanceLine did that the practice's PMS could not take
directly, for staff to key in: with PMS=csv (Dentrix, Eaglesoft, Curve: the local PMS holds the
imported aging, the real PMS holds nothing we write) every confirmed write; with Open Dental the
writes the permission tier cannot record (`queued_manual` / `unsupported`); and writes that failed
for good. Each row's `writeback_id` is the write's `[cx:…]` marker (from its idempotency key), so a
re-export gives the same ids and exporting into an existing file merges by id: never a duplicate.
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.settings import Settings
from agent.store.models import OutboxRow

pms_app = typer.Typer(help="Practice-management system: write-back export, health.", no_args_is_help=True)
console = Console(stderr=True)

COLUMNS = (
    "writeback_id",
    "kind",
    "patient_id",
    "guarantor_id",
    "what",
    "amount",
    "date",
    "note",
    "status",
    "queued_at",
)
_MANUAL = ("queued_manual", "unsupported")


def _what(kind: str, p: dict[str, Any]) -> str:
    """One line staff can key from."""
    if kind == "comm_log":
        return f"Comm log ({p.get('mode')}, {p.get('direction')})"
    if kind == "promise":
        return f"Promise to pay ${p.get('amount')} by {p.get('due_on')}"
    if kind == "payment":
        return f"Payment ${p.get('amount')} by {p.get('method')} on {p.get('paid_on')} (ref {p.get('processor_ref')})"
    if kind == "payment_plan":
        return (
            f"Payment plan: ${p.get('total')} total, ${p.get('down_payment')} down, {p.get('installments')} x "
            f"${p.get('installment_amount')} {p.get('frequency')} from {p.get('first_due')}"
        )
    if kind == "contact_preferences":
        changes = {k: p.get(k) for k in ("sms_ok", "do_not_call", "email_ok") if p.get(k) is not None}
        return "Contact preferences: " + ", ".join(f"{k}={v}" for k, v in changes.items())
    return kind


def _row(r: OutboxRow) -> dict[str, str]:
    p = r.payload
    amount = p.get("amount") or p.get("total") or ""
    when = p.get("paid_on") or p.get("due_on") or p.get("first_due") or str(p.get("at") or "")[:10]
    return {
        "writeback_id": r.marker.strip("[]"),
        "kind": r.kind,
        "patient_id": str(p.get("patient_id") or p.get("guarantor_id") or ""),
        "guarantor_id": str(p.get("guarantor_id") or ""),
        "what": _what(r.kind, p),
        "amount": str(amount),
        "date": str(when),
        "note": str(p.get("note") or ""),
        "status": "failed - enter by hand" if r.state == "FAILED" else "to enter",
        "queued_at": r.created_at.astimezone(UTC).isoformat(timespec="seconds"),
    }


async def collect_writebacks(
    sessions: async_sessionmaker[AsyncSession], *, pms_kind: str, since: datetime | None = None
) -> list[dict[str, str]]:
    """The write-backs staff must key into the PMS, oldest first."""
    direct = OutboxRow.state == "CONFIRMED"
    if pms_kind != "csv":
        direct = (OutboxRow.state == "CONFIRMED") & OutboxRow.result_status.in_(_MANUAL)
    q = select(OutboxRow).where(or_(direct, OutboxRow.state == "FAILED"))
    if since is not None:
        q = q.where(OutboxRow.created_at >= since)
    async with sessions() as s:
        rows = (await s.scalars(q.order_by(OutboxRow.created_at, OutboxRow.id))).all()
    return [_row(r) for r in rows]


def merge_into(path: Path, rows: list[dict[str, str]], progress: Progress | None = None) -> tuple[int, int]:
    """Write `rows` into the CSV at `path`, merged by `writeback_id` with what is there. (new, total)"""
    existing: dict[str, dict[str, str]] = {}
    if path.exists() and path.stat().st_size:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "writeback_id" not in reader.fieldnames:
                raise ValueError(f"{path} is not a write-back export (no writeback_id column)")
            existing = {r["writeback_id"]: r for r in reader}
    task = progress.add_task("exporting write-backs", total=len(rows)) if progress else None
    new = 0
    for row in rows:
        if row["writeback_id"] not in existing:
            new += 1
            existing[row["writeback_id"]] = row
        elif existing[row["writeback_id"]].get("status") != "done":  # staff mark rows "done" by hand
            existing[row["writeback_id"]] = row
        if progress is not None and task is not None:
            progress.advance(task)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(existing.values())
    tmp.replace(path)
    return new, len(existing)


def _settings() -> Settings:
    from agent.cli import _settings as read_settings  # the CLI's settings reader (exit 2 on a bad value)

    return read_settings()


async def _collect(settings: Settings, since: datetime | None) -> list[dict[str, str]]:
    from agent.store.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        return await collect_writebacks(make_session_factory(engine), pms_kind=settings.pms, since=since)
    finally:
        await engine.dispose()


@pms_app.command("export-writebacks")
def export_writebacks(
    out: Annotated[
        Path, typer.Option(help="CSV file to write (merged by writeback_id if it exists).")
    ] = Path("writebacks.csv"),
    since: Annotated[str | None, typer.Option(help="Only write-backs queued on or after this date.")] = None,
) -> None:
    """Export the write-backs staff must key into the PMS (stable ids: re-exports never duplicate)."""
    settings = _settings()
    try:
        start = datetime.combine(date.fromisoformat(since), time(0), UTC) if since else None
    except ValueError as exc:
        console.print(f"[red]--since must be a date like 2026-11-02, got {since!r}[/red]")
        raise typer.Exit(2) from exc
    rows = asyncio.run(_collect(settings, start))
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        try:
            new, total = merge_into(out, rows, bar)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    console.print(f"[green]{new} new write-backs[/green] ({total} in {out}; PMS={settings.pms})")


@pms_app.command("health")
def health() -> None:
    """Is the PMS reachable, when did aging last run, how big is the write-back backlog (JSON)."""
    from agent.pms_health import pms_health
    from agent.runtime import build_runtime

    settings = _settings()

    async def run() -> dict[str, Any]:
        runtime = await build_runtime(settings)
        try:
            return await pms_health(runtime)
        finally:
            await runtime.close()

    report = asyncio.run(run())
    typer.echo(json.dumps(report, indent=2))
    raise typer.Exit(0 if report["reachable"] else 1)

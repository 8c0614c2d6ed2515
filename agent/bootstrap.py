"""First-start work for the CLI: migrate, seed the demo practice, import aging exports (with progress)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.settings import Settings
from agent.store.db import make_engine
from agent.store.migrate import upgrade
from pms.local.adapter import LocalPms
from pms.types import PracticeInfo
from policies.config import load_policy


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


async def prepare(settings: Settings, *, console: Console) -> None:
    """Migrate; on the local PMS, seed the demo practice if it holds no accounts yet."""
    await upgrade(settings.database_url)
    if settings.pms != "local":
        return
    policy = load_policy(settings.policy_file)
    engine = make_engine(settings.database_url)
    pms = LocalPms(engine, practice_id=policy.practice.practice_id)
    try:
        empty = await pms.count_accounts() == 0
    finally:
        await engine.dispose()
    if empty:
        console.print("First start: seeding the demo practice (Maple Grove Family Dental)…")
        await seed_demo(settings, seed=7, patients=1500, console=console)


async def seed_demo(settings: Settings, *, seed: int, patients: int, console: Console) -> None:
    from pms.demo import generate

    await upgrade(settings.database_url)
    policy = load_policy(settings.policy_file)
    today = datetime.now(ZoneInfo(policy.practice.timezone)).date()
    with _progress(console) as progress:
        gen = progress.add_task("generating patients", total=1)
        snapshot = generate(seed=seed, patients=patients, as_of=today)
        progress.update(gen, completed=1)
        load = progress.add_task("loading into the local PMS", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(load, completed=done, total=total)

        engine = make_engine(settings.database_url)
        pms = LocalPms(engine, practice_id=policy.practice.practice_id)
        try:
            await pms.load_snapshot(snapshot, replace=True, progress=tick)
        finally:
            await engine.dispose()
    with_balance = sum(1 for a in snapshot.accounts if a.aging.patient_balance > 0)
    console.print(
        f"[green]demo practice ready[/green]: {len(snapshot.patients)} patients, {len(snapshot.accounts)} accounts, "
        f"{with_balance} with a balance (as of {today}). `balanceline demo personas` lists the edge cases."
    )


async def import_aging(
    settings: Settings,
    path: Path,
    *,
    fmt: Literal["opendental", "dentrix", "generic"],
    contacts: Path | None,
    as_of: date,
    console: Console,
) -> int:
    """Import an aging export; print rejected rows; exit code 0 if anything imported, 1 otherwise."""
    from pms.csv_import import parse_aging

    await upgrade(settings.database_url)
    policy = load_policy(settings.policy_file)
    practice = PracticeInfo(
        practice_id=policy.practice.practice_id,
        name=policy.practice.name,
        timezone=policy.practice.timezone,
        phone=policy.practice.callback_number,
    )
    with _progress(console) as progress:
        task = progress.add_task(f"reading {path.name}", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = parse_aging(
                path, fmt, as_of=as_of, contacts_path=contacts, practice=practice, progress=tick
            )
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
        load = progress.add_task("writing to the local PMS", total=None)

        def tick2(done: int, total: int) -> None:
            progress.update(load, completed=done, total=total)

        engine = make_engine(settings.database_url)
        pms = LocalPms(engine, practice_id=policy.practice.practice_id)
        try:
            await pms.load_snapshot(result.snapshot, replace=False, progress=tick2)
        finally:
            await engine.dispose()
    imported = len(result.snapshot.accounts)
    console.print(f"[green]imported {imported} accounts[/green] from {path.name} (as of {as_of})")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if result.rejected:
        table = Table("row", "reason", title=f"{len(result.rejected)} rows rejected (nothing was guessed)")
        for rej in result.rejected:
            table.add_row(str(rej.row_number), rej.reason)
        console.print(table)
    return 0 if imported else 1

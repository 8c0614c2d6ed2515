"""`balanceline` command line: serve, worker, db, demo, chat, import-ar."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from agent.cli_outreach import outreach_app
from agent.cli_pms import pms_app
from agent.cli_users import first_admin_hint, users_app
from agent.settings import Settings, SettingsError, load_settings
from agent.voice.demo_call import register as register_demo_call

app = typer.Typer(
    help="BalanceLine: the practice's billing voice.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo practice.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(pms_app, name="pms")
app.add_typer(outreach_app, name="outreach")
register_demo_call(demo_app)  # `balanceline demo call` (agent/voice/demo_call.py)
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL + Redis for more than 1).")] = 1,
) -> None:
    """Run the web app (webhooks, API). Migrates the database and seeds the demo practice on first start."""
    import uvicorn

    from agent.bootstrap import prepare
    from agent.logs import configure_logging

    settings = _settings()
    configure_logging()
    if workers > 1 and (settings.is_sqlite or not settings.redis_url):
        console.print("[red]--workers > 1 needs DATABASE_URL=postgresql… and REDIS_URL (shared state).[/red]")
        raise typer.Exit(2)
    asyncio.run(prepare(settings, console=console))
    if hint := first_admin_hint(settings):
        console.print(f"[yellow]{hint}[/yellow]")
    console.print(f"[green]BalanceLine[/green] on http://{host}:{port}  (health: /healthz, API docs: /docs)")
    if workers > 1:
        uvicorn.run(
            "agent.app:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            ws_per_message_deflate=False,
        )
    else:
        from agent.app import create_app

        # No permessage-deflate: Media Streams audio doesn't compress, and deflating 50 frames/s
        # per call was measurable CPU in a busy process.
        uvicorn.run(
            create_app(settings), host=host, port=port, log_level="info", ws_per_message_deflate=False
        )


@app.command()
def worker(
    interval: Annotated[float, typer.Option(help="Seconds between outbox polls.")] = 2.0,
) -> None:
    """Background worker: drains the PMS write-back outbox (needs REDIS_URL)."""
    from agent.logs import configure_logging
    from agent.worker import run_worker

    settings = _settings()
    if not settings.redis_url:
        console.print("[red]balanceline worker needs REDIS_URL (shared state for several processes).[/red]")
        raise typer.Exit(2)
    configure_logging()
    asyncio.run(run_worker(settings, interval=interval))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (SQLite file by default, or DATABASE_URL)."""
    from agent.store.migrate import upgrade

    settings = _settings()
    asyncio.run(upgrade(settings.database_url))
    console.print("[green]database is up to date[/green]")


@demo_app.command("seed")
def demo_seed(
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same practice).")] = 7,
    patients: Annotated[int, typer.Option(help="Number of patients.")] = 1500,
) -> None:
    """(Re)create the demo practice in the local PMS."""
    from agent.bootstrap import seed_demo

    settings = _settings()
    asyncio.run(seed_demo(settings, seed=seed, patients=patients, console=console))


@demo_app.command("personas")
def demo_personas() -> None:
    """List the demo patients that show each edge case (names, phones, dates of birth)."""
    from rich.table import Table

    from pms.demo.personas import PERSONAS

    table = Table("key", "name", "phone", "date of birth", "shows")
    for key, p in PERSONAS.items():
        table.add_row(
            key,
            p.name,
            p.phone or "-",
            p.date_of_birth.isoformat() if p.date_of_birth else "-",
            p.demonstrates,
        )
    Console().print(table)


@app.command()
def chat(
    phone: Annotated[str | None, typer.Option(help="Be the patient texting from this E.164 number.")] = None,
    channel: Annotated[str, typer.Option(help="sms or voice (spoken-style replies).")] = "sms",
) -> None:
    """Talk to the agent in the terminal as a patient, through the same conversation code."""
    from agent.chat import run_chat

    if channel not in ("sms", "voice"):
        console.print("[red]--channel must be sms or voice[/red]")
        raise typer.Exit(2)
    settings = _settings()
    ch: Literal["sms", "voice"] = "sms" if channel == "sms" else "voice"
    asyncio.run(run_chat(settings, phone=phone, channel=ch, console=console))


@app.command("import-ar")
def import_ar(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A/R aging export (CSV).")],
    format: Annotated[str, typer.Option("--format", help="opendental, dentrix or generic.")] = "generic",
    contacts: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Contacts export (CSV).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Date of the report (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Import an A/R aging export into the local PMS; bad rows are reported, never silently dropped."""
    from agent.bootstrap import import_aging

    if format not in ("opendental", "dentrix", "generic"):
        console.print("[red]--format must be opendental, dentrix or generic[/red]")
        raise typer.Exit(2)
    try:
        report_date = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError as exc:
        console.print(f"[red]--as-of must be YYYY-MM-DD, got {as_of!r}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings()
    code = asyncio.run(
        import_aging(settings, file, fmt=format, contacts=contacts, as_of=report_date, console=console)  # type: ignore[arg-type]
    )
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

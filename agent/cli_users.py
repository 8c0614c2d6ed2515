"""`balanceline users add|disable|enable|list`: staff accounts of the console.

The password is prompted (hidden, typed twice) or read from stdin with `--password-stdin`; it is
never an argument, so it stays out of shell history and the process list.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agent.settings import Settings, SettingsError, load_settings
from agent.store.console_users import ConsoleStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

users_app = typer.Typer(help="Staff accounts of the console (roles: admin, billing_manager, collector).")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


async def _store(settings: Settings) -> tuple[AsyncEngine, ConsoleStore]:
    from agent.store.db import make_engine
    from agent.store.migrate import upgrade

    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    return engine, ConsoleStore(engine)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            console.print("[red]the passwords differ; nothing was changed[/red]")
            raise typer.Exit(2)
    return password


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ -).")],
    role: Annotated[str, typer.Option(help="admin, billing_manager or collector.")] = "collector",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create a console user (the first one should be an admin)."""
    from agent.console.auth import hash_password
    from agent.store.console_users import ROLES, UserError

    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        console.print("[red]username: 1-64 letters, digits, '.', '_' or '-'[/red]")
        raise typer.Exit(2)
    if role not in ROLES:
        console.print(f"[red]--role must be one of {', '.join(ROLES)}[/red]")
        raise typer.Exit(2)
    settings = _settings()
    try:
        hashed = hash_password(_read_password(password_stdin))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def run() -> None:
        engine, store = await _store(settings)
        try:
            await store.add_user(username, hashed, role, actor="cli")
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except UserError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]user {username} ({role}) created[/green]; sign in at {settings.public_base_url}/console/"
    )


def _set_disabled(username: str, disabled: bool) -> None:
    from agent.store.console_users import UserError

    settings = _settings()

    async def run() -> None:
        engine, store = await _store(settings)
        try:
            await store.set_disabled(username, disabled, actor="cli")
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except UserError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"user {username} {'disabled (signed out everywhere)' if disabled else 'enabled'}")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end all their sessions at once."""
    _set_disabled(username, True)


@users_app.command("enable")
def enable(username: Annotated[str, typer.Argument()]) -> None:
    """Re-enable a disabled user."""
    _set_disabled(username, False)


@users_app.command("list")
def list_users() -> None:
    """Usernames, roles and status."""
    settings = _settings()

    async def run() -> list[tuple[str, str, bool]]:
        engine, store = await _store(settings)
        try:
            return [(u.username, u.role, u.disabled) for u in await store.list_users()]
        finally:
            await engine.dispose()

    for name, role, disabled in asyncio.run(run()):
        typer.echo(f"{name}\t{role}\t{'disabled' if disabled else 'active'}")


def first_admin_hint(settings: Settings) -> str | None:
    """What `serve` prints when the console has no users yet (there is never a default password)."""

    async def count() -> int:
        engine, store = await _store(settings)
        try:
            return await store.count_users()
        finally:
            await engine.dispose()

    if asyncio.run(count()):
        return None
    return (
        "The staff console has no users yet. Create the first admin with:\n"
        "  balanceline users add admin --role admin\n"
        f"then sign in at {settings.public_base_url}/console/"
    )

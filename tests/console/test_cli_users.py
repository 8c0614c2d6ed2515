"""`balanceline users add|disable|enable|list`: passwords from a hidden prompt or stdin, never argv."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.console.auth import check_password
from agent.store.console_users import ConsoleStore, ConsoleUser
from agent.store.db import make_engine

runner = CliRunner()
SECRET = "a long enough secret phrase"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/users.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _user(url: str, name: str) -> ConsoleUser | None:
    async def get() -> ConsoleUser | None:
        engine = make_engine(url)
        try:
            return await ConsoleStore(engine).get_user(name)
        finally:
            await engine.dispose()

    return asyncio.run(get())


def test_add_from_stdin_then_disable_enable_and_list(db: str) -> None:
    result = runner.invoke(
        app, ["users", "add", "dana", "--role", "admin", "--password-stdin"], input=SECRET + "\n"
    )
    assert result.exit_code == 0, result.output
    user = _user(db, "dana")
    assert user is not None
    assert user.role == "admin" and check_password(user, SECRET) and SECRET not in user.password_hash
    assert (
        runner.invoke(app, ["users", "add", "dana", "--password-stdin"], input=SECRET + "\n").exit_code == 1
    )
    assert runner.invoke(app, ["users", "disable", "dana"]).exit_code == 0
    assert getattr(_user(db, "dana"), "disabled", None) is True
    listing = runner.invoke(app, ["users", "list"])
    assert "dana\tadmin\tdisabled" in listing.output
    assert runner.invoke(app, ["users", "enable", "dana"]).exit_code == 0
    assert getattr(_user(db, "dana"), "disabled", None) is False
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 1


def test_prompted_password_must_match_and_be_long_enough(db: str) -> None:
    assert runner.invoke(app, ["users", "list"]).exit_code == 0  # migrates the empty database
    mismatch = runner.invoke(app, ["users", "add", "sam"], input="first password here\nsecond password x\n")
    assert mismatch.exit_code == 2 and _user(db, "sam") is None
    short = runner.invoke(app, ["users", "add", "sam", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "12 characters" in short.output
    ok = runner.invoke(app, ["users", "add", "sam", "--role", "collector"], input=f"{SECRET}\n{SECRET}\n")
    assert ok.exit_code == 0, ok.output
    assert getattr(_user(db, "sam"), "role", None) == "collector"
    assert runner.invoke(app, ["users", "add", "bad name", "--password-stdin"], input=SECRET).exit_code == 2
    assert (
        runner.invoke(
            app, ["users", "add", "x", "--role", "owner", "--password-stdin"], input=SECRET
        ).exit_code
        == 2
    )


def test_serve_says_how_to_create_the_first_admin_until_one_exists(db: str) -> None:
    from agent.cli_users import first_admin_hint
    from agent.settings import load_settings

    settings = load_settings()
    hint = first_admin_hint(settings)
    assert hint is not None and "balanceline users add admin --role admin" in hint
    runner.invoke(app, ["users", "add", "admin", "--role", "admin", "--password-stdin"], input=SECRET + "\n")
    assert first_admin_hint(settings) is None

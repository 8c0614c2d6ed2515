"""The `balanceline` commands a practice runs: db upgrade, demo seed, import-ar, chat."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from pms.demo import generate
from pms.demo.csv_export import write_aging_csv, write_contacts_csv
from pms.local.adapter import LocalPms
from pms.local.engine import make_engine

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _accounts(url: str) -> int:
    async def count() -> int:
        pms = LocalPms(make_engine(url), practice_id="maple-grove")
        try:
            return await pms.count_accounts()
        finally:
            await pms.close()

    return asyncio.run(count())


def test_db_upgrade_and_demo_seed(env: str) -> None:
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["demo", "seed", "--patients", "120", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "demo practice ready" in r.output
    assert _accounts(env) > 0


def test_import_ar_reports_rejected_rows_and_reimport_does_not_duplicate(env: str, tmp_path: Path) -> None:
    snap = generate(seed=5, patients=150, as_of=date(2026, 11, 2))
    aging, contacts = tmp_path / "aging.csv", tmp_path / "contacts.csv"
    write_aging_csv(snap, aging, "opendental")
    write_contacts_csv(snap, contacts)
    with aging.open("a", encoding="utf-8") as f:
        f.write('"Broken, Row",999,not-money,0,0,0,0,0,0,0\n')
    args = [
        "import-ar",
        str(aging),
        "--format",
        "opendental",
        "--contacts",
        str(contacts),
        "--as-of",
        "2026-11-02",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "rejected" in r.output
    first = _accounts(env)
    assert first > 0
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert _accounts(env) == first


def test_import_ar_wrong_format_is_a_clear_error(env: str, tmp_path: Path) -> None:
    snap = generate(seed=5, patients=60, as_of=date(2026, 11, 2))
    aging = tmp_path / "dentrix.csv"
    write_aging_csv(snap, aging, "dentrix")
    r = runner.invoke(app, ["import-ar", str(aging), "--format", "opendental", "--as-of", "2026-11-02"])
    assert r.exit_code == 2
    assert "column" in r.output.lower()


def test_bad_setting_names_the_variable(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 2
    assert "REDIS_URL" in r.output


def test_chat_sms_conversation(env: str) -> None:
    r = runner.invoke(app, ["demo", "seed", "--patients", "60"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["chat"], input="what do I owe?\nEmily Carter 04/12/1988\n/quit\n")
    assert r.exit_code == 0, r.output
    assert "full name and date of birth" in r.output
    assert "$240.00" in r.output

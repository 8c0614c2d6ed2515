"""Alembic migrations on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from agent.store.db import all_metadata, make_engine
from agent.store.migrate import alembic_config, current_revision, head_revisions, upgrade

ROOT = Path(__file__).resolve().parents[2]
# The app's migrations cover the record store and the local PMS (pms/local/models.py).
MIGRATED = [(md, {t.name for t in md.sorted_tables}) for md in all_metadata()]


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/nested/dir/bl.db"  # the directory does not exist yet
    return str(request.getfixturevalue("fresh_pg_url"))


def _table_of(diff: Any) -> str:
    """The table a compare_metadata diff entry is about."""
    if isinstance(diff, list):  # modify_* entries come grouped per column
        return str(diff[0][2])
    kind, obj = diff[0], diff[1]
    if kind in ("add_column", "remove_column"):
        return str(diff[2])
    if kind.endswith("_table"):
        return str(obj.name)
    return str(obj.table.name)  # indexes, constraints


async def _inspect(url: str) -> tuple[set[str], list[Any]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def run(sync_conn: Any) -> tuple[set[str], list[Any]]:
                tables = set(inspect(sync_conn).get_table_names())
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                diffs = [
                    d for md, names in MIGRATED for d in compare_metadata(ctx, md) if _table_of(d) in names
                ]
                return tables, diffs

            return await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_upgrade_creates_tables_is_idempotent_and_matches_models(fresh_url: str) -> None:
    assert current_revision(fresh_url) is None
    await upgrade(fresh_url)
    tables, diffs = await _inspect(fresh_url)
    assert tables >= set().union(*(names for _, names in MIGRATED))
    assert "alembic_version" in tables
    assert current_revision(fresh_url) == ",".join(head_revisions())
    assert diffs == [], f"models and migrations disagree (add a revision): {diffs}"

    await upgrade(fresh_url)  # a second run is a no-op
    assert current_revision(fresh_url) == ",".join(head_revisions())
    tables_again, _ = await _inspect(fresh_url)
    assert tables_again == tables


async def test_downgrade_removes_all_tables(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/down.db"
    await upgrade(url)
    import asyncio

    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    tables, _ = await _inspect(url)
    assert tables == {"alembic_version"}
    assert current_revision(url) is None


def test_alembic_cli_reads_database_url_from_env(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = os.environ | {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    alembic = Path(sys.executable).with_name("alembic")
    subprocess.run(
        [str(alembic), "-c", str(ROOT / "alembic.ini"), "upgrade", "heads"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert current_revision(f"sqlite:///{db}") == ",".join(head_revisions())

"""Apply and inspect migrations from code: `await upgrade(url)`, `current_revision(url)`.

Alembic is configured here (no alembic.ini needed, so it works from any working directory) and run
in a worker thread, because its env.py drives the async engine with its own event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from agent.store.db import async_url, ensure_sqlite_dir, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["sqlalchemy.url"] = async_url(url)
    return cfg


async def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at `url` up to `revision` (all heads by default). Idempotent."""
    ensure_sqlite_dir(url)
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


def head_revisions() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def current_revision(url: str) -> str | None:
    """The revision the database is at (heads joined by "," if branched), None if never migrated.

    Safe to call with or without a running event loop (it runs on its own thread and loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _current(url)).result()


async def _current(url: str) -> str | None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    finally:
        await engine.dispose()
    return ",".join(sorted(heads)) if heads else None

"""Alembic environment: async engines via `run_sync`, combined metadata (record store + local PMS).

The URL comes from the caller (`config.attributes["sqlalchemy.url"]`, or the `sqlalchemy.url` main
option), else env `DATABASE_URL`, else the embedded default SQLite file. On PostgreSQL an advisory
lock serialises replicas that migrate at the same time.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from agent.settings import DEFAULT_DATABASE_URL
from agent.store.db import all_metadata, async_url, is_sqlite, make_engine

MIGRATION_LOCK_ID = 0x62616C616E6365  # pg_advisory_xact_lock key ("balance")

config = context.config


def _url() -> str:
    url = config.attributes.get("sqlalchemy.url") or config.get_main_option("sqlalchemy.url")
    return async_url(url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render custom column types (ours and the local PMS's `UtcDateTime`, `Money`) as the plain
    SQLAlchemy type they wrap, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=all_metadata(),
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = _url()
    _configure(
        url=url, literal_binds=True, render_as_batch=is_sqlite(url), dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_ID})
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run_sync)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif config.attributes.get("connection") is not None:  # a caller handed us an open sync-facade connection
    _run_sync(config.attributes["connection"])
else:
    asyncio.run(run_migrations_online())

"""Engines and sessions for the record store (SQLite by default, PostgreSQL in production).

SQLite connections get WAL (readers never block the writer), foreign keys on, and a 30 s busy
timeout so concurrent writers queue instead of failing. PostgreSQL gets a bounded, pre-pinged pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from agent.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 30_000


def async_url(url: str) -> str:
    """The async-driver form of a database URL (`postgres://`, `postgresql://`, `sqlite://` accepted)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    driver = {
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }
    return f"{driver.get(scheme, scheme)}://{rest}"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a file-backed SQLite URL (e.g. ./data for the default)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url` (`sqlite+aiosqlite:///…` or `postgresql+asyncpg://…`)."""
    url = async_url(url)
    if not is_sqlite(url):
        opts: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
        if "poolclass" not in kwargs:
            opts |= {"pool_size": 10, "max_overflow": 20}
        return create_async_engine(url, **(opts | kwargs))
    ensure_sqlite_dir(url)
    database = make_url(url).database
    if not database or database == ":memory:":
        kwargs.setdefault("poolclass", StaticPool)  # one shared connection, or each sees an empty DB
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_all_for_tests(engine: AsyncEngine) -> None:
    """Create every table (ours and, when present, the local PMS's) without migrations."""
    async with engine.begin() as conn:
        for metadata in all_metadata():
            await conn.run_sync(metadata.create_all)


def all_metadata() -> list[Any]:
    """Our metadata plus the local PMS's (if that package is installed): what migrations target."""
    out: list[Any] = [Base.metadata]
    try:
        from pms.local.models import metadata as pms_metadata
    except ImportError:
        return out
    out.append(pms_metadata)
    return out

"""Engines and sessions for the record store (SQLite by default, PostgreSQL in production).

SQLite connections get WAL (readers never block the writer), foreign keys on, and a 30 s busy
timeout so concurrent writers queue instead of failing. PostgreSQL gets a bounded pool whose
connections are pinged before use when they have been idle (see `_ping_when_idle`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from agent.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_S = 10.0


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
        opts: dict[str, Any] = {"pool_recycle": 1800}
        if "poolclass" not in kwargs:
            opts |= {"pool_size": 10, "max_overflow": 20}
        engine = create_async_engine(url, **(opts | kwargs))
        if not kwargs.get("pool_pre_ping"):
            _ping_when_idle(engine)
        return engine
    ensure_sqlite_dir(url)
    database = make_url(url).database
    if not database or database == ":memory:":
        kwargs.setdefault("poolclass", StaticPool)  # one shared connection, or each sees an empty DB
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling for PostgreSQL that costs nothing on a busy pool.

    SQLAlchemy's `pool_pre_ping` pings on every checkout; with asyncpg that is three round trips
    (BEGIN, `;`, ROLLBACK) before every transaction, ~25 per inbound SMS. A connection used in
    the last PING_AFTER_IDLE_S seconds was alive then; one idle for longer (a database restart,
    a NAT/firewall idle cut) is pinged and, if dead, replaced before anyone uses it. A connection
    that dies in use is still detected and the whole pool invalidated by SQLAlchemy."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi: Any, record: Any) -> None:
        record.info["bl_used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info["bl_used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("bl_used_at", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            dbapi.ping()
        except Exception as exc:  # any failure means "use another connection"
            raise DisconnectionError("stale pooled connection") from exc


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
    import agent.store.models_calls
    import agent.store.models_console
    import agent.store.models_outreach
    import agent.store.models_payments
    import agent.store.models_voice  # noqa: F401  (voice calls: hand-offs, outcomes)

    out: list[Any] = [Base.metadata]
    try:
        from pms.local.models import metadata as pms_metadata
    except ImportError:
        return out
    out.append(pms_metadata)
    return out

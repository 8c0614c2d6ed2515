"""Engine construction for the local PMS (SQLite: busy timeout and WAL, so writers queue)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url`. For a SQLite file: 30 s busy timeout and the WAL journal."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", 30)
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    in_memory = parsed.database in (None, "", ":memory:")

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine

"""Fixtures for the record-store tests: one engine per test on SQLite (a temp file) and PostgreSQL.

SQLite tests copy a template file made once; PostgreSQL tests share the session database, whose
tables are created once and emptied before each test. A settable clock makes time-dependent
behaviour testable without sleeping.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.store.db import create_all_for_tests, make_engine, make_session_factory
from agent.store.models import Base
from agent.store.records import SqlRecords

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


async def _create(url: str) -> None:
    engine = make_engine(url)
    try:
        await create_all_for_tests(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_store_url(pg_url: str) -> str:
    asyncio.run(_create(pg_url))
    return pg_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    asyncio.run(_create(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        db = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), db)
        return f"sqlite+aiosqlite:///{db}"
    return str(request.getfixturevalue("pg_store_url"))


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(store_url)
    if not store_url.startswith("sqlite"):
        async with eng.begin() as conn:  # DELETE beats TRUNCATE on tiny tables
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(table.delete())
    yield eng
    await eng.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def records(engine: AsyncEngine, clock: Clock) -> SqlRecords:
    return SqlRecords(make_session_factory(engine), clock=clock)

"""Fixtures for the scenario suite: a fresh app per scenario, fast.

The demo practice is migrated and loaded once per session into a template (a SQLite file, or a
PostgreSQL database used as `CREATE DATABASE … TEMPLATE`); each scenario gets its own copy, its own
FakeTwilio history and, on the services backend, an emptied Redis database of its own number.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_DSN
from tests.fakes.openai_server import OpenAIFake
from tests.fakes.twilio_rest import FakeTwilio
from tests.integration.harness import App, make_settings, open_app, prepare_database, run_sync

REDIS_DB = 3  # the integration tests use 1; scenarios keep to their own database

AppFactory = Callable[..., App]


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def scenario_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def openai_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario-template") / "template.db"
    run_sync(prepare_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database holding the migrated demo practice (`pg_url` skips when PG is missing)."""
    name = f"bl_scn_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        run_sync(prepare_database(_pg_url(name)))
        yield name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def scenario_app(
    request: pytest.FixtureRequest, tmp_path: Path, scenario_twilio: FakeTwilio
) -> Iterator[AppFactory]:
    """`scenario_app(backend, **settings)`: a running app on a fresh copy of the demo practice."""
    opened: list[App] = []
    databases: list[str] = []

    def factory(backend: str = "embedded", **extra: str) -> App:
        if backend == "embedded":
            db = tmp_path / f"scenario{len(opened)}.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), db)
            db_url, redis_url = f"sqlite+aiosqlite:///{db}", None
        else:
            template = request.getfixturevalue("pg_template")
            redis_url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + f"/{REDIS_DB}"
            name = f"bl_scn_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            databases.append(name)
            db_url = _pg_url(name)
            import redis

            client = redis.Redis.from_url(redis_url)
            client.flushdb()
            client.close()
        scenario_twilio.reset()
        app = open_app(make_settings(db_url, redis_url, scenario_twilio, **extra), scenario_twilio)
        opened.append(app)
        return app

    yield factory
    for app in opened:
        app.client.__exit__(None, None, None)
    for name in databases:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

"""Shared fixtures: real PostgreSQL and Redis on loopback.

Outside CI a missing service skips the tests that need it; with CI=true it is a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

PG_ADMIN_DSN = os.environ.get("BALANCELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("BALANCELINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(service: str, exc: BaseException) -> None:
    msg = f"{service} is not reachable ({exc!r})"
    if IN_CI:
        pytest.fail(f"{msg}; CI requires it", pytrace=False)
    pytest.skip(msg)


async def _create_db(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_db(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, as a SQLAlchemy asyncpg URL."""
    name = f"bl_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_create_db(name))
    except Exception as exc:
        _missing("PostgreSQL on 127.0.0.1:5432", exc)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(_drop_db(name))


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """A brand-new empty PostgreSQL database for one test (for migration/schema tests)."""
    name = f"bl_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_db(name))
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_drop_db(name))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis URL. Tests must namespace their keys (see `redis_prefix`)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:
        _missing("Redis on 127.0.0.1:6379", exc)
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"bltest:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_cleanup(redis_url: str, redis_prefix: str) -> AsyncIterator[None]:
    yield
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    async for key in client.scan_iter(match=redis_prefix + "*"):
        await client.delete(key)
    await client.aclose()

"""Loopback Stripe for the payments tests: localstripe (subprocess) + the Checkout Sessions fake."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.stripe_checkout import FakeCheckout, LocalStripe
from tests.fakes.twilio_rest import FakeTwilio
from tests.integration.harness import App, make_settings, open_app, prepare_database, run_sync


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    with LocalStripe() as server:
        yield server


@pytest.fixture
def checkout(localstripe: LocalStripe) -> Iterator[FakeCheckout]:
    with FakeCheckout(localstripe.base_url) as fake:
        yield fake


# ---- a running app with Stripe configured, on both backends ------------------------------------------

SECRET = "whsec_test"
API_KEY = "sk_test_balanceline"


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


async def _clone_pg(template: str, name: str) -> None:
    import asyncpg

    from tests.conftest import PG_ADMIN_DSN

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def prepared_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated demo practice on SQLite, prepared once; modules copy the file (setup is costly)."""
    path = tmp_path_factory.mktemp("pay-template") / "template.db"
    run_sync(prepare_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def prepared_pg(pg_url: str) -> Iterator[str]:
    """The migrated demo practice in a PostgreSQL template database, prepared once."""
    from tests.conftest import _create_db, _drop_db

    name = f"bl_paytpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_create_db(name))
    run_sync(prepare_database(pg_url.rsplit("/", 1)[0] + "/" + name))
    yield name
    asyncio.run(_drop_db(name))


@pytest.fixture(scope="module")
def module_pg_url(pg_url: str, prepared_pg: str) -> Iterator[str]:
    """A copy of the prepared PostgreSQL database for one test module."""
    from tests.conftest import _drop_db

    name = f"bl_pay_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_clone_pg(prepared_pg, name))
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_drop_db(name))


def _backend(request: pytest.FixtureRequest, tmp: Path) -> tuple[str, str | None]:
    if request.param == "embedded":
        shutil.copyfile(request.getfixturevalue("prepared_sqlite"), tmp / "bl.db")
        return f"sqlite+aiosqlite:///{tmp}/bl.db", None
    db_url = request.getfixturevalue("module_pg_url")
    redis_url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/3"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return db_url, redis_url


@pytest.fixture(scope="module", params=["embedded", "services"])
def stripe_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_twilio: FakeTwilio,
    localstripe: LocalStripe,
) -> Iterator[App]:
    """The real app (Twilio + Stripe configured) on SQLite/in-process and on PostgreSQL/Redis, shared by
    the tests of one module (each test uses its own persona and call)."""
    db_url, redis_url = _backend(request, tmp_path_factory.mktemp("stripe-app"))
    with FakeCheckout(localstripe.base_url) as checkout:
        settings = make_settings(
            db_url,
            redis_url,
            fake_twilio,
            STRIPE_API_KEY=API_KEY,
            STRIPE_WEBHOOK_SECRET=SECRET,
            STRIPE_API_BASE=checkout.base_url,
        )
        application = open_app(settings, fake_twilio)
        checkout.clock = application.clock
        application.checkout = checkout  # type: ignore[attr-defined]
        try:
            yield application
        finally:
            application.client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def portal_app(
    tmp_path_factory: pytest.TempPathFactory, fake_twilio: FakeTwilio, prepared_sqlite: Path
) -> Iterator[App]:
    """The real app with Twilio but without Stripe (payments fall back to the portal link)."""
    tmp = tmp_path_factory.mktemp("portal")
    shutil.copyfile(prepared_sqlite, tmp / "portal.db")
    db_url = f"sqlite+aiosqlite:///{tmp}/portal.db"
    application = open_app(make_settings(db_url, None, fake_twilio), fake_twilio)
    try:
        yield application
    finally:
        application.client.__exit__(None, None, None)

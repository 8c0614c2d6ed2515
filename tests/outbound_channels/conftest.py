"""One running app per backend (SQLite + in-process state, PostgreSQL + Redis) for the package, with a
loopback Twilio (REST calls incl. updates) and a real local SMTP server. Tests use distinct patients
and attempt ids, so they do not disturb one another."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import _create_db, _drop_db
from tests.fakes.smtp_server import SmtpServer
from tests.integration.harness import App, make_settings, open_app, prepare_database, run_sync
from tests.outbound_channels.twilio_calls_fake import CallsFakeTwilio

SMTP_FROM = "billing@maplegrovedental.example"


@pytest.fixture(scope="package")
def twilio() -> Iterator[CallsFakeTwilio]:
    with CallsFakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="package")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(username="mailer", password="mail-secret") as server:
        yield server


@pytest.fixture(scope="package", params=["embedded", "services"])
def app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    twilio: CallsFakeTwilio,
    smtp: SmtpServer,
) -> Iterator[App]:
    dropped: str | None = None
    if request.param == "embedded":
        db_url, redis_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/bl.db", None
    else:
        pg = str(request.getfixturevalue("pg_url"))
        redis_url = str(request.getfixturevalue("redis_url"))
        dropped = f"bl_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_create_db(dropped))
        db_url = pg.rsplit("/", 1)[0] + "/" + dropped
    run_sync(prepare_database(db_url))
    settings = make_settings(
        db_url,
        redis_url,
        twilio,
        SMTP_HOST=smtp.host,
        SMTP_PORT=str(smtp.port),
        SMTP_USERNAME="mailer",
        SMTP_PASSWORD="mail-secret",
        SMTP_FROM=SMTP_FROM,
        SMTP_TLS="none",
    )
    application = open_app(settings, twilio)
    try:
        yield application
    finally:
        application.client.__exit__(None, None, None)
        if dropped:
            asyncio.run(_drop_db(dropped))

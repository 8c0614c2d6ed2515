"""A running app with console users of every role, on SQLite (embedded) or PostgreSQL + Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.console.auth import hash_password
from agent.store.console_users import ConsoleStore
from agent.store.db import make_engine
from agent.store.migrate import upgrade
from pms.demo import generate
from pms.local.adapter import LocalPms
from pms.snapshot import PracticeSnapshot
from policies.config import load_policy
from tests.fakes.twilio_rest import FakeTwilio
from tests.integration.harness import AS_OF, App, make_settings, open_app, run_sync

PASSWORD = "correct horse battery staple"
ROLES = ("admin", "billing_manager", "collector")


@dataclass
class Console:
    app: App

    @property
    def client(self) -> TestClient:
        return self.app.client

    def add_user(self, username: str, role: str, password: str = PASSWORD) -> None:
        store = ConsoleStore(self.app.runtime.sessions, self.app.clock)
        self.app.run(store.add_user(username, hash_password(password), role, actor="test"))

    def browser(self) -> TestClient:
        """A fresh client with its own cookie jar, on the app's https origin and event loop."""
        client = TestClient(self.client.app, base_url="https://billing.example.com")
        client.portal = self.client.portal  # same event loop as the app's runtime
        return client

    def try_login(self, client: TestClient, username: str, password: str = PASSWORD) -> Any:
        page = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        return client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )

    def login(self, username: str, password: str = PASSWORD) -> TestClient:
        """A fresh client signed in as `username`."""
        client = self.browser()
        resp = self.try_login(client, username, password)
        assert resp.status_code == 303, resp.text
        return client


def csrf_of(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m and m.group(1)
    return m.group(1)


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@lru_cache(maxsize=1)
def _snapshot() -> PracticeSnapshot:
    return generate(seed=7, patients=60, as_of=AS_OF)  # the personas plus a few dozen others


async def prepare_database(url: str) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        await LocalPms(engine, practice_id=load_policy().practice.practice_id).load_snapshot(
            _snapshot(), replace=True
        )
    finally:
        await engine.dispose()


def _open(db_url: str, redis_url: str | None, fake_twilio: FakeTwilio) -> Console:
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    run_sync(prepare_database(db_url))
    fake_twilio.reset()
    console = Console(open_app(make_settings(db_url, redis_url, fake_twilio), fake_twilio))
    for role in ROLES:
        console.add_user(role, role)
    return console


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory, fake_twilio: FakeTwilio) -> Iterator[Console]:
    """One app for the console tests (seeding is the slow part); tests share it, so none may depend
    on another's leftovers."""
    c = _open(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console')}/bl.db", None, fake_twilio)
    try:
        yield c
    finally:
        c.client.__exit__(None, None, None)


@pytest.fixture
def console_services(fresh_pg_url: str, redis_url: str, fake_twilio: FakeTwilio) -> Iterator[Console]:
    c = _open(fresh_pg_url, redis_url.rsplit("/", 1)[0] + "/2", fake_twilio)
    try:
        yield c
    finally:
        c.client.__exit__(None, None, None)

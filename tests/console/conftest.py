"""A running app with console users of every role, on SQLite (embedded) or PostgreSQL + Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from agent.console.auth import hash_password
from agent.store.console_users import ConsoleStore
from tests.fakes.twilio_rest import FakeTwilio
from tests.integration.harness import App, make_settings, open_app, prepare_database, run_sync

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

    def login(self, username: str, password: str = PASSWORD) -> TestClient:
        """A fresh client (own cookie jar) signed in as `username`."""
        client = TestClient(self.client.app, base_url="https://billing.example.com")
        client.portal = self.client.portal  # same event loop as the app's runtime
        page = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        resp = client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert resp.status_code == 303, resp.text
        return client


def csrf_of(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m and m.group(1)
    return m.group(1)


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


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


@pytest.fixture
def console(tmp_path, fake_twilio: FakeTwilio) -> Iterator[Console]:
    c = _open(f"sqlite+aiosqlite:///{tmp_path}/bl.db", None, fake_twilio)
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

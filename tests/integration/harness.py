"""A running BalanceLine app for end-to-end tests: real routes, real store, real PMS, FakeTwilio.

Backends: "embedded" (SQLite file + in-process state) and "services" (PostgreSQL + Redis over
real connections). Webhooks are signed with twilio's RequestValidator, exactly as Twilio does.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from fastapi.testclient import TestClient

from agent.app import create_app
from agent.runtime import Runtime
from agent.settings import Settings
from agent.store.db import make_engine
from agent.store.migrate import upgrade
from pms.demo import generate
from pms.local.adapter import LocalPms
from pms.snapshot import PracticeSnapshot
from policies.config import load_policy
from tests.fakes.twilio_rest import FakeTwilio
from tests.fakes.twilio_signing import sign_form

AS_OF = date(2026, 11, 2)
PUBLIC = "https://billing.example.com"
PRACTICE_NUMBER = "+13125550100"


@lru_cache(maxsize=1)
def demo_snapshot() -> PracticeSnapshot:
    return generate(seed=7, patients=400, as_of=AS_OF)


class Clock:
    """A settable clock (default: the demo's as-of date, 10:00 in Chicago)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 2, 16, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


async def prepare_database(url: str) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        pms = LocalPms(engine, practice_id=load_policy().practice.practice_id)
        await pms.load_snapshot(demo_snapshot(), replace=True)
    finally:
        await engine.dispose()


@dataclass
class App:
    client: TestClient
    twilio: FakeTwilio
    clock: Clock
    settings: Settings
    _sids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def runtime(self) -> Runtime:
        return self.client.app.state.runtime  # type: ignore[attr-defined,no-any-return]

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the app's event loop (the store/PMS live there)."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(lambda: coro)

    def post_signed(self, path: str, params: dict[str, str], *, token: str | None = None) -> Any:
        headers = sign_form(token or self.twilio.auth_token, PUBLIC + path, params)
        return self.client.post(path, data=params, headers=headers)

    def text(self, from_: str, body: str, *, sid: str | None = None, **extra: str) -> Any:
        params = {
            "MessageSid": sid or f"SM{uuid.uuid4().hex}",
            "AccountSid": self.twilio.account_sid,
            "From": from_,
            "To": PRACTICE_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        return self.post_signed("/twilio/sms/inbound", params)

    def replies_to(self, number: str) -> list[str]:
        return [m["Body"] for m in self.twilio.messages if m.get("To") == number]

    def drain_outbox(self) -> None:
        self.run(self.runtime.outbox.drain_once())


def make_settings(db_url: str, redis_url: str | None, twilio: FakeTwilio, **extra: str) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": PRACTICE_NUMBER,
        "TWILIO_API_BASE": twilio.base_url,
        "BALANCELINE_API_TOKEN": "test-token",
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def open_app(settings: Settings, twilio: FakeTwilio, clock: Clock | None = None) -> App:
    clk = clock or Clock()
    client = TestClient(create_app(settings, clock=clk, background=False))
    client.__enter__()
    return App(client=client, twilio=twilio, clock=clk, settings=settings)


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)

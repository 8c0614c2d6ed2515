from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.twilio_rest import FakeTwilio
from tests.integration.harness import App, make_settings, open_app, prepare_database, run_sync


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(params=["embedded", "services"])
def app(request: pytest.FixtureRequest, tmp_path, fake_twilio: FakeTwilio) -> Iterator[App]:
    if request.param == "embedded":
        db_url, redis_url = f"sqlite+aiosqlite:///{tmp_path}/bl.db", None
    else:
        db_url = request.getfixturevalue("fresh_pg_url")
        redis_url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/1"
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    run_sync(prepare_database(db_url))
    fake_twilio.reset()
    settings = make_settings(db_url, redis_url, fake_twilio)
    application = open_app(settings, fake_twilio)
    try:
        yield application
    finally:
        application.client.__exit__(None, None, None)

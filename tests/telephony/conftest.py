"""Fixtures for the Twilio edge: one loopback Twilio REST server per session, reset for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from telephony.sms import TwilioSmsClient
from tests.fakes.twilio_rest import FakeTwilio

STATUS_CALLBACK = "https://billing.example.com/twilio/sms/status"
FROM_NUMBER = "+15005550006"


@pytest.fixture(scope="session")
def _fake_twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_twilio(_fake_twilio_server: FakeTwilio) -> Iterator[FakeTwilio]:
    _fake_twilio_server.reset()
    yield _fake_twilio_server
    _fake_twilio_server.reset()


@pytest.fixture
async def make_sms_client(fake_twilio: FakeTwilio) -> AsyncIterator[Callable[..., TwilioSmsClient]]:
    """Build TwilioSmsClients pointed at the fake (defaults: right credentials, From, StatusCallback)."""
    made: list[TwilioSmsClient] = []

    def make(**overrides: Any) -> TwilioSmsClient:
        kwargs: dict[str, Any] = {
            "account_sid": fake_twilio.account_sid,
            "auth_token": fake_twilio.auth_token,
            "from_number": FROM_NUMBER,
            "messaging_service_sid": None,
            "api_base": fake_twilio.base_url,
            "status_callback_url": STATUS_CALLBACK,
        }
        kwargs.update(overrides)
        client = TwilioSmsClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()

"""Media-stream grants: single use, expiring, shared across replicas; the TwiML that carries them."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from agent.state import InProcessState, SharedState
from agent.voice.stream_grants import (
    TOKEN_PARAMETER,
    StreamGrant,
    StreamGrants,
    connect_twiml,
    media_ws_url,
)
from telephony.twiml import connect_stream
from tests.state.test_shared_state import states  # noqa: F401  (fixture: memory and two Redis replicas)


async def test_a_token_is_redeemed_once_on_any_replica(states: tuple[SharedState, SharedState]) -> None:  # noqa: F811
    a, b = states
    grant = StreamGrant(call_sid="CA" + "1" * 32, direction="inbound", conversation_id="cv_1")
    token = await StreamGrants(a).issue(grant)
    first, second = await asyncio.gather(StreamGrants(b).redeem(token), StreamGrants(a).redeem(token))
    assert [g for g in (first, second) if g is not None] == [grant]
    assert await StreamGrants(b).redeem(token) is None


async def test_unknown_empty_and_oversized_tokens_are_refused() -> None:
    grants = StreamGrants(InProcessState())
    assert await grants.redeem(None) is None
    assert await grants.redeem("") is None
    assert await grants.redeem("x" * 500) is None
    assert await grants.redeem("never-issued") is None


async def test_an_expired_token_is_refused() -> None:
    grants = StreamGrants(InProcessState(), ttl_seconds=1)
    token = await grants.issue(StreamGrant(call_sid="CA1", direction="outbound", patient_id="p1"))
    await asyncio.sleep(1.2)
    assert await grants.redeem(token) is None


def test_ws_url_follows_the_public_origin() -> None:
    assert media_ws_url("https://bl.example.com/") == "wss://bl.example.com/twilio/media"
    assert media_ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/twilio/media"


async def test_connect_twiml_carries_a_redeemable_token() -> None:
    grants = StreamGrants(InProcessState())
    grant = StreamGrant(call_sid="CA2", direction="inbound")
    xml = await connect_twiml(grants, "https://bl.example.com", grant)
    root = ET.fromstring(xml)
    connect = root.find("Connect")
    assert connect is not None and connect.get("action") == "https://bl.example.com/twilio/voice/after-stream"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://bl.example.com/twilio/media"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert await grants.redeem(params[TOKEN_PARAMETER]) == grant


def test_connect_stream_refuses_a_non_websocket_url() -> None:
    with pytest.raises(ValueError, match="ws://"):
        connect_stream("https://x/y", action="https://x/a", parameters={})

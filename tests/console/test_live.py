"""Server-sent events fed by the shared state's pub/sub: in-process, and across replicas over Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agent.console.live import APPROVALS, CALLS, TRANSFERS, LiveCalls, event_stream
from agent.state import make_state
from agent.state.base import SharedState
from tests.console.conftest import Console


class _Connected:
    async def is_disconnected(self) -> bool:
        return False


async def _two_events(rt: Any, publisher: SharedState, transfer_id: str) -> list[tuple[str, dict[str, Any]]]:
    stream = event_stream(rt, [CALLS, TRANSFERS], _Connected())  # type: ignore[arg-type]
    try:
        ready = await asyncio.wait_for(anext(stream), 10)
        assert ready.startswith("event: ready")
        await publisher.publish(APPROVALS, json.dumps({"event": "queued"}))  # not subscribed: never arrives
        await publisher.publish(
            TRANSFERS, json.dumps({"event": "ringing", "transfer_id": transfer_id, "at": "x"})
        )
        await publisher.publish(
            CALLS, json.dumps({"event": "turn", "call_id": "CA1", "speaker": "agent", "text": "Hi"})
        )
        out = []
        for _ in range(2):
            chunk = await asyncio.wait_for(anext(stream), 10)
            name = chunk.split("\n", 1)[0].removeprefix("event: ")
            out.append((name, json.loads(chunk.split("data: ", 1)[1])))
        return out
    finally:
        await stream.aclose()


def _check(console: Console, publisher_for: Any) -> None:
    rt = console.app.runtime
    transfer_id = console.app.run(
        rt.records.create_staff_task(
            kind="transfer",
            patient_id="2",
            conversation_id=None,
            summary="asked for a person",
            context={"verified": True, "balance": "1850.00", "ask": "a person"},
        )
    )

    async def scenario() -> list[tuple[str, dict[str, Any]]]:
        publisher = publisher_for(rt)
        try:
            return await _two_events(rt, publisher, transfer_id)
        finally:
            if publisher is not rt.state:
                await publisher.close()

    events = console.app.run(scenario())
    assert [name for name, _ in events] == ["transfers", "calls"]
    card = events[0][1]["card"]
    assert card["transfer_id"] == transfer_id and card["verified"] is True and card["balance"] == "1850.00"
    assert events[1][1]["text"] == "Hi"


def test_events_reach_the_browser_in_process(console: Console) -> None:
    _check(console, lambda rt: rt.state)


@pytest.mark.postgres
@pytest.mark.redis
def test_events_published_by_another_replica_arrive_over_redis(
    console_services: Console, redis_url: str
) -> None:
    other = console_services.app.settings.redis_url
    assert other is not None
    _check(console_services, lambda rt: make_state(other))  # a second replica's state: same Redis


def test_live_calls_registry_follows_started_turns_and_ended() -> None:
    calls = LiveCalls()
    calls.apply({"event": "started", "call_id": "CA1", "conversation_id": "cv_1", "at": "t0"})
    calls.apply({"event": "turn", "call_id": "CA1", "speaker": "patient", "text": "hello", "at": "t1"})
    assert calls.calls["CA1"]["turns"] == [{"speaker": "patient", "text": "hello", "at": "t1"}]
    calls.apply({"event": "ended", "call_id": "CA1", "at": "t2"})
    assert calls.calls == {}


def test_the_stream_ends_when_the_session_does(console: Console) -> None:
    rt = console.app.runtime
    signed_in = [True]

    async def still() -> bool:
        return signed_in[0]

    async def scenario() -> list[str]:
        stream = event_stream(rt, [CALLS], _Connected(), still, heartbeat=0.05)  # type: ignore[arg-type]
        chunks = [await anext(stream), await anext(stream)]  # ready, then a keep-alive
        signed_in[0] = False
        chunks += [chunk async for chunk in stream]
        return chunks

    chunks = console.app.run(scenario())
    assert chunks[0].startswith("event: ready") and chunks[1].startswith(": keep-alive")
    assert chunks[-1].startswith("event: signed_out")

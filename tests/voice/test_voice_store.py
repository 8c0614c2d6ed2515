"""The voice-call rows and the live events, on SQLite + in-process state and PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.state import InProcessState, RedisState, SharedState
from agent.store.db import create_all_for_tests, make_engine, make_session_factory
from agent.store.records import SqlRecords
from agent.store.voice_calls import VoiceCallStore
from agent.voice.live import CALLS_CHANNEL, TRANSFERS_CHANNEL, publish_call, publish_transfer

NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
SID = "CA" + "5" * 32


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/v.db"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[VoiceCallStore, SqlRecords]]:
    engine = make_engine(store_url)
    await create_all_for_tests(engine)
    sessions = make_session_factory(engine)
    yield VoiceCallStore(sessions, lambda: NOW), SqlRecords(sessions, clock=lambda: NOW)
    await engine.dispose()


async def test_a_call_row_is_idempotent_carries_the_hand_off_and_the_outcome(
    stores: tuple[VoiceCallStore, SqlRecords],
) -> None:
    calls, records = stores
    await calls.open_call(SID, direction="inbound", conversation_id="cv_1")
    await calls.open_call(SID, direction="inbound", conversation_id="cv_other")  # a webhook retry
    call = await calls.get(SID)
    assert call is not None and call.conversation_id == "cv_1" and call.status == "ringing"
    await calls.stream_started(SID, stream_sid="MZ1", conversation_id="cv_1", direction="inbound")
    task_id = await records.create_staff_task(
        kind="transfer", patient_id="p1", conversation_id="cv_1", summary="s", context={"verified": False}
    )
    await calls.set_handoff(SID, {"kind": "transfer", "transfer_id": task_id})
    assert (await calls.get(SID)).handoff == {"kind": "transfer", "transfer_id": task_id}  # type: ignore[union-attr]
    ctx = await calls.set_transfer_status(task_id, "ringing")
    assert ctx is not None and ctx["transfer_status"] == "ringing" and ctx["patient_id"] == "p1"
    tasks = await records.list_staff_tasks(status=None, kind="transfer")
    assert tasks[0]["context"] == {"verified": False, "transfer_status": "ringing"}
    assert await calls.set_transfer_status("st_unknown", "ringing") is None
    await calls.finish(
        SID, outcome="transfer", end_reason="transfer", summary="sum", stats={"caller_turns": 2}
    )
    call = await calls.get(SID)
    assert call is not None and call.status == "ended" and call.outcome == "transfer"
    assert call.stats == {"caller_turns": 2} and call.ended_at == NOW


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        s: SharedState = InProcessState()
    else:
        s = RedisState(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"))
    yield s
    await s.close()


async def test_live_events_reach_a_console_subscriber(state: SharedState) -> None:
    got: list[dict[str, object]] = []

    async def listen(channel: str) -> None:
        async for raw in state.subscribe(channel):
            got.append(json.loads(raw))

    tasks = [asyncio.create_task(listen(c)) for c in (CALLS_CHANNEL, TRANSFERS_CHANNEL)]
    await asyncio.sleep(0.2)
    await publish_call(
        state, "turn", call_id=SID, conversation_id="cv_1", at=NOW, speaker="agent", text="Hi."
    )
    await publish_transfer(state, "missed", transfer_id="st_1", patient_id=None, at=NOW)
    for _ in range(50):
        if len(got) == 2:
            break
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    assert {"event": "turn", "call_id": SID, "conversation_id": "cv_1", "at": NOW.isoformat(),
            "speaker": "agent", "text": "Hi."} in got  # fmt: skip
    assert {"event": "missed", "transfer_id": "st_1", "patient_id": None, "at": NOW.isoformat()} in got

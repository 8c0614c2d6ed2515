"""Conversations, messages and attempts in `SqlRecords`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.conversation import Conversation
from agent.store.models import ContactAttemptRow, ConversationRow, MessageRow
from agent.store.records import SqlRecords
from tests.store.conftest import T0, Clock
from tools.context import CallerState

PHONE = "+15125550100"


def make_conv(
    cid: str, *, contact: str = PHONE, channel: str = "sms", guarantor: str | None = None
) -> Conversation:
    state = CallerState(conversation_id=cid, channel=channel, contact=contact)  # type: ignore[arg-type]
    if guarantor:
        state.patient_id = state.guarantor_id = guarantor
        state.verified = True
    return Conversation(state=state, started_at=T0)


async def count(engine: AsyncEngine, model: type, *where: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def test_save_load_round_trip_and_upsert(
    records: SqlRecords, engine: AsyncEngine, clock: Clock
) -> None:
    conv = make_conv("cv_1")
    conv.add_turn("patient", "how much do I owe", T0)
    conv.state.disclosed_balance = Decimal("182.40")
    conv.memory["pending"] = "dob"
    await records.save_conversation(conv)

    loaded = await records.load_conversation("cv_1")
    assert loaded is not None
    assert loaded.to_json() == conv.to_json()
    assert loaded.state.disclosed_balance == Decimal("182.40")
    assert loaded.turns[0].at == T0

    clock.advance(minutes=3)
    conv.state.patient_id = conv.state.guarantor_id = "G7"
    conv.state.verified = True
    conv.state.outcome = "promise"
    conv.summary = "Promised $50 on Friday."
    conv.add_turn("agent", "Thanks, noted.", clock.now)
    await records.save_conversation(conv)

    assert await count(engine, ConversationRow) == 1
    async with engine.connect() as c:
        row = (await c.execute(select(ConversationRow.__table__).where(ConversationRow.id == "cv_1"))).one()
    assert (row.guarantor_id, row.verified, row.outcome, row.summary) == ("G7", True, "promise", conv.summary)
    assert row.updated_at == clock.now
    loaded = await records.load_conversation("cv_1")
    assert loaded is not None and len(loaded.turns) == 2 and loaded.summary == conv.summary
    assert await records.load_conversation("cv_missing") is None


async def test_find_open_conversation(records: SqlRecords, clock: Clock) -> None:
    old = make_conv("cv_old")
    await records.save_conversation(old)
    clock.advance(days=1)
    recent = make_conv("cv_recent")
    await records.save_conversation(recent)
    await records.save_conversation(make_conv("cv_other_number", contact="+15125550199"))
    await records.save_conversation(make_conv("cv_voice", channel="voice"))

    found = await records.find_open_conversation("sms", PHONE, idle_days=3)
    assert found is not None and found.conversation_id == "cv_recent"

    recent.state.ended = True
    await records.save_conversation(recent)
    found = await records.find_open_conversation("sms", PHONE, idle_days=3)
    assert found is not None and found.conversation_id == "cv_old"

    clock.advance(days=3, minutes=1)  # cv_old was last touched 4 days ago
    assert await records.find_open_conversation("sms", PHONE, idle_days=3) is None
    assert await records.find_open_conversation("sms", "+15125550199", idle_days=7) is not None


async def test_ended_conversation_keeps_first_end_time(
    records: SqlRecords, engine: AsyncEngine, clock: Clock
) -> None:
    conv = make_conv("cv_end")
    conv.state.ended = True
    await records.save_conversation(conv)
    first_end = clock.now
    clock.advance(minutes=10)
    conv.summary = "late summary"
    await records.save_conversation(conv)
    async with engine.connect() as c:
        ended_at = (await c.execute(select(ConversationRow.ended_at))).scalar_one()
    assert ended_at == first_end


async def test_list_conversations_by_guarantor_newest_first(records: SqlRecords, clock: Clock) -> None:
    for i in range(3):
        conv = make_conv(f"cv_{i}", guarantor="G1")
        conv.started_at = clock.advance(hours=1)
        await records.save_conversation(conv)
    await records.save_conversation(make_conv("cv_someone_else", guarantor="G2"))
    convs = await records.list_conversations("G1")
    assert [c.conversation_id for c in convs] == ["cv_2", "cv_1", "cv_0"]
    assert convs[0].started_at == T0 + timedelta(hours=3)


async def test_add_message_is_idempotent_on_provider_sid(records: SqlRecords, engine: AsyncEngine) -> None:
    await records.save_conversation(make_conv("cv_m"))
    kwargs = {
        "conversation_id": "cv_m",
        "direction": "in",
        "channel": "sms",
        "body": "hi",
        "status": "received",
    }
    assert await records.add_message(**kwargs, provider_sid="SM1") is True
    assert await records.add_message(**kwargs, provider_sid="SM1") is False
    assert await records.add_message(**kwargs) is True  # no sid: nothing to deduplicate on
    assert await records.add_message(**kwargs) is True
    assert await count(engine, MessageRow) == 3
    assert await count(engine, MessageRow, MessageRow.provider_sid == "SM1") == 1


async def test_concurrent_webhook_replays_insert_once(records: SqlRecords, engine: AsyncEngine) -> None:
    results = await asyncio.gather(
        *[
            records.add_message(
                conversation_id=None, direction="in", channel="sms", body="STOP", provider_sid="SMx"
            )
            for _ in range(8)
        ]
    )
    assert results.count(True) == 1
    assert await count(engine, MessageRow) == 1


async def test_message_status_never_moves_backwards(records: SqlRecords, engine: AsyncEngine) -> None:
    await records.add_message(
        conversation_id=None, direction="out", channel="sms", body="x", provider_sid="SM9", status="queued"
    )
    await records.record_attempt(
        channel="sms", to=PHONE, guarantor_id="G1", provider_sid="SM9", status="queued"
    )
    assert await records.update_message_status("SM9", "sent") is True
    assert await records.update_message_status("SM9", "undelivered", 30003) is True
    assert await records.update_message_status("SM9", "sent") is False  # late, out of order
    assert await records.update_message_status("SM_unknown", "delivered") is False
    async with engine.connect() as c:
        status, code = (await c.execute(select(MessageRow.status, MessageRow.error_code))).one()
        attempt_status = (await c.execute(select(ContactAttemptRow.status))).scalar_one()
    assert (status, code) == ("undelivered", "30003")
    assert attempt_status == "undelivered"


async def test_record_attempt_idempotent_and_updatable(records: SqlRecords, engine: AsyncEngine) -> None:
    first = await records.record_attempt(channel="voice", to=PHONE, guarantor_id="G1", provider_sid="CA1")
    again = await records.record_attempt(channel="voice", to=PHONE, guarantor_id="G1", provider_sid="CA1")
    assert first == again
    await records.record_attempt(channel="sms", to=PHONE, direction="inbound", counted=False)
    assert await count(engine, ContactAttemptRow) == 2

    assert await records.update_attempt("CA1", status="in-progress", conversation=True) is True
    assert await records.update_attempt("CA1", status="ringing") is True  # stale status ignored
    assert await records.update_attempt("CA_missing", status="completed") is False
    async with engine.connect() as c:
        row = (
            await c.execute(select(ContactAttemptRow.__table__).where(ContactAttemptRow.id == first))
        ).one()
    assert (row.status, row.conversation, row.counted) == ("in-progress", True, True)


async def test_times_come_back_aware_utc_and_naive_is_refused(records: SqlRecords, clock: Clock) -> None:
    chicago = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("America/Chicago"))
    conv = make_conv("cv_tz", guarantor="G1")
    conv.started_at = chicago
    await records.save_conversation(conv)
    [loaded] = await records.list_conversations("G1")
    assert loaded.started_at == chicago  # same instant
    attempt_at = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    await records.record_attempt(channel="sms", to=PHONE, guarantor_id="G1", at=attempt_at)
    history = await records.contact_history("G1", now=T0 + timedelta(hours=2))
    at = next(a.at for a in history.attempts if not a.conversation)
    assert at == attempt_at and at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive"):  # wraps the type's ValueError
        await records.record_attempt(channel="sms", to=PHONE, at=datetime(2026, 3, 2, 10, 0))

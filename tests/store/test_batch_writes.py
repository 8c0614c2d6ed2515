"""The SMS path's batched writes (`SmsTurnStore.apply`, `start_inbound_text`) on SQLite and
PostgreSQL, and the PostgreSQL single-statement templates' compile cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.store.models import (
    AuditEventRow,
    ConsentEntryRow,
    ContactAttemptRow,
    ConversationRow,
    MessageRow,
    OutboxRow,
)
from agent.store.pg_statements import gated_statement, one_statement
from agent.store.records import SqlRecords
from agent.store.writes import WriteBatch, message_values
from pms.types import CommLogWrite
from tests.store.conftest import T0, Clock
from tests.store.test_conversations import count, make_conv

PHONE = "+15125550111"


def _comm_log(key: str) -> CommLogWrite:
    return CommLogWrite(
        idempotency_key=key, patient_id="P1", at=T0, mode="text", direction="received", note="Text."
    )


def _full_batch(batch: WriteBatch, conv_id: str, key: str) -> WriteBatch:
    batch.save_conversation(make_conv(conv_id, contact=PHONE, guarantor="G1"))
    batch.message(
        conversation_id=conv_id,
        direction="out",
        channel="sms",
        body="Hi",
        provider_sid=f"SM{key}",
        status="queued",
    )
    batch.attempt(
        channel="sms", to=PHONE, patient_id="G1", guarantor_id="G1", direction="outbound", counted=True
    )
    batch.ledger_entry(
        patient_id="G1",
        value=PHONE,
        scope="sms",
        action="opt_in",
        basis="sms_opt_in",
        reason=None,
        source="sms",
    )
    batch.pms_write(_comm_log(key), conversation_id=conv_id)
    batch.audit("sms.sent", patient_id="G1", conversation_id=conv_id, detail={"purpose": "reply"})
    return batch


async def _kinds(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as c:
        return sorted((await c.execute(select(AuditEventRow.kind))).scalars())


async def test_a_batch_writes_every_row_once(records: SqlRecords, engine: AsyncEngine, clock: Clock) -> None:
    assert await records.apply(_full_batch(records.batch(), "cv_b1", "k1")) is False
    assert await count(engine, ConversationRow) == 1
    assert await count(engine, MessageRow) == 1
    assert await count(engine, ContactAttemptRow) == 1
    assert await count(engine, ConsentEntryRow) == 1
    assert await count(engine, OutboxRow) == 1
    assert await _kinds(engine) == ["consent.opt_in", "pms_write.queued", "sms.sent"]

    # The same PMS write again (same idempotency key): no second outbox row, no second "queued".
    clock.advance(minutes=1)
    again = records.batch()
    again.pms_write(_comm_log("k1"), conversation_id="cv_b1")
    again.audit("sms.sent", patient_id="G1", conversation_id="cv_b1", detail={"purpose": "reply"})
    await records.apply(again)
    assert await count(engine, OutboxRow) == 1
    assert await _kinds(engine) == ["consent.opt_in", "pms_write.queued", "sms.sent", "sms.sent"]


async def test_an_upsert_keeps_started_at_and_sets_ended_at_once(
    records: SqlRecords, engine: AsyncEngine, clock: Clock
) -> None:
    conv = make_conv("cv_b2", contact=PHONE)
    first = records.batch()
    first.save_conversation(conv)
    await records.apply(first)
    clock.advance(minutes=5)
    conv.state.ended = True
    conv.summary = "Done."
    ended = records.batch()
    ended.save_conversation(conv)
    await records.apply(ended)
    clock.advance(minutes=5)
    later = records.batch()
    later.save_conversation(conv)
    await records.apply(later)
    async with engine.connect() as c:
        row = (await c.execute(select(ConversationRow))).one()
    assert row.started_at == T0
    assert row.summary == "Done."
    assert row.ended_at == T0 + timedelta(minutes=5)  # not moved by the later save
    assert row.updated_at == T0 + timedelta(minutes=10)


async def test_a_replayed_first_text_writes_nothing(records: SqlRecords, engine: AsyncEngine) -> None:
    conv = make_conv("cv_b3", contact=PHONE)
    detail: dict[str, Any] = {"channel": "sms", "matches": 0}
    assert await records.start_inbound_text(conv, provider_sid="SMdup", body="hi", detail=detail) is True
    other = make_conv("cv_b4", contact=PHONE)
    assert await records.start_inbound_text(other, provider_sid="SMdup", body="hi", detail=detail) is False
    assert await count(engine, ConversationRow) == 1
    assert await count(engine, MessageRow) == 1
    assert await count(engine, ContactAttemptRow) == 1
    assert await _kinds(engine) == ["conversation.started"]


def _message(sid: str) -> dict[str, Any]:
    return message_values(
        at=T0,
        conversation_id="cv",
        direction="in",
        channel="sms",
        body="hi",
        provider_sid=sid,
        status="received",
    )


@pytest.mark.parametrize("build", ["one", "gated"])
def test_postgres_templates_are_built_once_per_shape_and_cacheable(build: str) -> None:
    """Values are parameters: two batches of one shape share a statement SQLAlchemy can cache
    (no cache key would mean a full compile on every execution)."""
    a, b = _full_batch(WriteBatch(at=T0), "cv_1", "k1"), _full_batch(WriteBatch(at=T0), "cv_2", "k2")
    if build == "one":
        (sa, pa), (sb, pb) = one_statement(a), one_statement(b)
    else:
        (sa, pa), (sb, pb) = gated_statement(_message("SM1"), a), gated_statement(_message("SM2"), b)
    assert sa is sb
    assert sa._generate_cache_key() is not None
    assert pa != pb and set(pa) == set(pb)
    smaller = WriteBatch(at=T0)
    smaller.audit("x", patient_id=None, conversation_id=None, detail={})
    other = one_statement(smaller)[0] if build == "one" else gated_statement(_message("SM3"), smaller)[0]
    assert other is not sa


async def test_a_text_in_reads_its_conversation_and_the_numbers_ledger(
    records: SqlRecords, clock: Clock
) -> None:
    """`open_inbound_text` (one round trip on PostgreSQL): the open conversation, whether the number
    is opted out (a patient-only entry is not about this number), and the replay guard."""
    opened = await records.open_inbound_text(contact=PHONE, idle_days=7, provider_sid="SM1", body="hi")
    assert (opened.conversation, opened.suppressed, opened.recorded) == (None, False, False)

    await records.add_suppression(patient_id="G1", value=None, scope="sms", reason="asked", source="staff")
    conv = make_conv("cv_in", contact=PHONE)
    await records.start_inbound_text(conv, provider_sid="SM1", body="hi", detail={})
    clock.advance(minutes=1)
    opened = await records.open_inbound_text(contact=PHONE, idle_days=7, provider_sid="SM2", body="hi")
    assert opened.conversation is not None and opened.conversation.conversation_id == "cv_in"
    assert (opened.suppressed, opened.recorded) == (False, True)

    await records.add_suppression(patient_id=None, value=PHONE, scope="sms", reason="stop", source="sms")
    again = await records.open_inbound_text(contact=PHONE, idle_days=7, provider_sid="SM2", body="hi")
    assert (again.suppressed, again.recorded) == (True, False)  # opted out now; SM2 is a replay
    await records.add_consent(patient_id=None, value=PHONE, channel="sms", source="sms")
    later = await records.open_inbound_text(contact=PHONE, idle_days=7, provider_sid="SM3", body="START")
    assert (later.suppressed, later.recorded) == (False, True)
    other = await records.open_inbound_text(
        contact="+15125550999", idle_days=7, provider_sid="SM4", body="hi"
    )
    assert (other.conversation, other.suppressed) == (None, False)

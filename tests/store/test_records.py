"""Ledger, flags, work items, audit and contact history in `SqlRecords`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.store.models import AuditEventRow, CallbackRow, OutboxRow
from agent.store.records import SqlRecords
from pms.types import CommLogWrite, PaymentWrite
from policies.types import Suppression, SuppressionScope
from tests.store.conftest import T0, Clock
from tests.store.test_conversations import make_conv

PHONE = "+15125550100"
OTHER = "+15125550177"


async def audit_kinds(records: SqlRecords, patient_id: str | None = None) -> list[str]:
    return [e["kind"] for e in await records.list_audit(patient_id=patient_id)]


# ---- suppression / consent ledger --------------------------------------------------------------------


async def test_stop_then_start_restores_sms_only(records: SqlRecords, clock: Clock) -> None:
    await records.add_suppression(
        patient_id="P1", value=PHONE, scope=SuppressionScope.ALL, reason="patient_request", source="sms"
    )
    assert await records.is_suppressed(PHONE, "sms") is True
    assert await records.is_suppressed(PHONE, "voice") is True
    assert await records.is_suppressed(OTHER, "sms") is False
    assert await records.consent_state("P1", [PHONE]) == {
        "voice": "opted_out",
        "sms": "opted_out",
        "email": "opted_out",
    }

    clock.advance(hours=2)
    await records.add_consent(patient_id=None, value=PHONE, channel="sms", basis="sms_opt_in", source="sms")
    assert await records.is_suppressed(PHONE, "sms") is False
    assert await records.is_suppressed(PHONE, "voice") is True  # START never restores voice
    assert await records.consent_state("P1", [PHONE]) == {
        "voice": "opted_out",
        "sms": "opted_in",
        "email": "opted_out",
    }

    history = await records.contact_history("P1", now=clock.now)
    assert set(history.suppressions) == {
        Suppression(SuppressionScope.VOICE, PHONE, T0, "patient_request"),
        Suppression(SuppressionScope.EMAIL, PHONE, T0, "patient_request"),
    }
    assert [(c.channel, c.value, c.basis) for c in history.consents] == [("sms", PHONE, "sms_opt_in")]
    assert await audit_kinds(records) == ["consent.opt_in", "consent.opt_out"]


async def test_person_wide_opt_out_and_consent_basis_never_lifts(records: SqlRecords, clock: Clock) -> None:
    await records.add_consent(
        patient_id="P2",
        value=PHONE,
        channel="voice",
        action="consent",
        basis="provided_number_for_account",
        source="staff",
    )
    assert await records.consent_state("P2", [PHONE]) == {
        "voice": "opted_in",
        "sms": "unknown",
        "email": "unknown",
    }
    clock.advance(minutes=1)
    await records.add_suppression(
        patient_id="P2", value=None, scope="voice", reason="stop calling", source="voice"
    )
    clock.advance(minutes=1)
    # a later routine consent record does not undo the revocation, nor does a value-level opt-in
    await records.add_consent(
        patient_id="P2",
        value=PHONE,
        channel="voice",
        action="consent",
        basis="provided_number_for_account",
        source="staff",
    )
    await records.add_consent(patient_id=None, value=PHONE, channel="voice", source="staff")
    assert await records.is_suppressed(PHONE, "voice") is False  # the number itself was never opted out
    assert await records.is_suppressed(PHONE, "voice", patient_id="P2") is True  # but the person was
    assert (await records.consent_state("P2", [PHONE]))["voice"] == "opted_out"
    history = await records.contact_history("P2", now=clock.now)
    assert (
        Suppression(SuppressionScope.VOICE, None, T0 + timedelta(minutes=1), "stop calling")
        in history.suppressions
    )
    # only a person-level opt-in lifts a person-level opt-out
    await records.add_consent(
        patient_id="P2", value=None, channel="voice", source="staff", reason="asked to resume"
    )
    assert await records.is_suppressed(PHONE, "voice", patient_id="P2") is False


async def test_email_values_are_case_insensitive(records: SqlRecords) -> None:
    await records.add_suppression(
        patient_id=None, value="Pat@Example.COM", scope="email", reason="r", source="email"
    )
    assert await records.is_suppressed("pat@example.com", "email") is True
    assert await records.is_suppressed("pat@example.com", "sms") is False
    with pytest.raises(ValueError):
        await records.add_suppression(patient_id=None, value=None, scope="all", reason="r", source="staff")


# ---- flags, promises, offers, tasks, callbacks -------------------------------------------------------


async def test_account_flags_current_set_and_audit(records: SqlRecords) -> None:
    await records.set_account_flag(
        guarantor_id="G1", flag="dispute", on=True, reason="patient disputes crown"
    )
    await records.set_account_flag(guarantor_id="G1", flag="hardship", on=True, reason="lost job")
    await records.set_account_flag(guarantor_id="G1", flag="hardship", on=False, reason="resolved")
    await records.set_account_flag(guarantor_id="G2", flag="paused", on=True, reason="staff")
    assert await records.account_flags("G1") == {"dispute"}
    assert await records.account_flags("G3") == set()
    assert sorted(await audit_kinds(records, "G1")) == ["flag.cleared", "flag.set", "flag.set"]
    history = await records.contact_history("G1", now=T0)
    assert history.extra_flags == frozenset({"dispute"})


async def test_promises_money_exact_and_counts(records: SqlRecords, clock: Clock) -> None:
    big = Decimal("9999999999.99")
    p1 = await records.record_promise(
        guarantor_id="G1",
        amount=Decimal("50.10"),
        due_on=date(2026, 3, 6),
        conversation_id="cv_1",
        channel="sms",
    )
    clock.advance(seconds=1)
    p2 = await records.record_promise(
        guarantor_id="G1", amount=big, due_on=date(2026, 3, 9), conversation_id="cv_1", channel="voice"
    )
    promises = await records.list_promises("G1")
    assert [(p.promise_id, p.amount, p.status) for p in promises] == [
        (p2, big, "open"),
        (p1, Decimal("50.10"), "open"),
    ]
    assert isinstance(promises[0].amount, Decimal)
    assert await records.set_promise_status(p1, "kept") is True
    assert await records.set_promise_status(p2, "broken") is True
    assert await records.set_promise_status("pr_missing", "kept") is False
    history = await records.contact_history("G1", now=clock.now)
    assert (history.kept_promises, history.broken_promises) == (1, 1)
    assert (await audit_kinds(records, "G1")).count("promise.recorded") == 2


async def test_plan_offer_accept(records: SqlRecords) -> None:
    options: list[dict[str, Any]] = [
        {"plan_key": "m3", "installment_amount": Decimal("60.00")},
        {"plan_key": "m6", "total": "360.00"},
    ]
    offer = await records.record_plan_offer(
        guarantor_id="G1", conversation_id="cv_1", balance=Decimal("360.00"), options=options
    )
    with pytest.raises(LookupError):
        await records.accept_plan_offer(offer_id=offer, plan_key="m12", status="accepted")
    with pytest.raises(LookupError):
        await records.accept_plan_offer(offer_id="po_missing", plan_key="m3", status="accepted")
    await records.accept_plan_offer(offer_id=offer, plan_key="m6", status="pending_approval")
    events = await records.list_audit(patient_id="G1")
    assert [e["kind"] for e in events] == ["plan.pending_approval", "plan.offered"]
    assert events[0]["detail"] == {"offer_id": offer, "plan_key": "m6"}
    assert events[1]["detail"]["balance"] == "360.00"


async def test_staff_tasks_filters_and_close(records: SqlRecords, clock: Clock) -> None:
    t1 = await records.create_staff_task(
        kind="transfer",
        patient_id="P1",
        conversation_id="cv_1",
        summary="wants a human",
        context={"balance": Decimal("182.40"), "verified": True},
        priority="high",
    )
    clock.advance(seconds=1)
    t2 = await records.create_staff_task(
        kind="dispute", patient_id="P2", conversation_id=None, summary="disputes crown", context={}
    )
    assert [t["task_id"] for t in await records.list_staff_tasks()] == [t2, t1]
    [card] = await records.list_staff_tasks(status=None, kind="transfer", patient_id="P1")
    assert card["context"] == {"balance": "182.40", "verified": True}
    assert card["priority"] == "high" and card["created_at"] == T0
    assert await records.close_staff_task(t1) is True
    assert await records.close_staff_task(t1) is False
    assert [t["task_id"] for t in await records.list_staff_tasks()] == [t2]
    assert [t["status"] for t in await records.list_staff_tasks(status="done")] == ["done"]


async def test_schedule_callback(records: SqlRecords, engine: AsyncEngine) -> None:
    cb = await records.schedule_callback(
        patient_id="P1",
        contact=PHONE,
        at=T0 + timedelta(days=1),
        reason="after payday",
        conversation_id="cv_1",
    )
    async with engine.connect() as c:
        row = (await c.execute(select(CallbackRow.__table__).where(CallbackRow.id == cb))).one()
    assert (row.at, row.status, row.reason) == (T0 + timedelta(days=1), "scheduled", "after payday")
    assert await audit_kinds(records, "P1") == ["callback.scheduled"]


# ---- audit ---------------------------------------------------------------------------------------------


async def test_list_audit_filters_and_order(records: SqlRecords, clock: Clock) -> None:
    for i in range(5):
        await records.audit("tool.called", patient_id="P1", conversation_id="cv_1", detail={"i": i})
        clock.advance(minutes=1)
    await records.audit("other", patient_id="P2", conversation_id=None, detail={}, actor="staff:ann")
    events = await records.list_audit(patient_id="P1")
    assert [e["detail"]["i"] for e in events] == [4, 3, 2, 1, 0]
    assert {e["actor"] for e in events} == {"agent"}
    since = await records.list_audit(patient_id="P1", since=T0 + timedelta(minutes=3))
    assert [e["detail"]["i"] for e in since] == [4, 3]
    assert len(await records.list_audit(limit=2)) == 2
    assert (await records.list_audit(patient_id="P2"))[0]["actor"] == "staff:ann"


# ---- PMS write queueing --------------------------------------------------------------------------------


async def test_enqueue_same_key_twice_is_one_row_with_marker(
    records: SqlRecords, engine: AsyncEngine
) -> None:
    req = CommLogWrite(
        idempotency_key="demo|P1|sms|SM1",
        patient_id="P1",
        at=T0,
        mode="text",
        direction="received",
        note="Text with patient.\nPromised $50.",
    )
    await records.enqueue_pms_write(req, conversation_id="cv_1")
    await records.enqueue_pms_write(req, conversation_id="cv_1")
    pay = PaymentWrite(
        idempotency_key="demo|ch_1",
        guarantor_id="G1",
        amount=Decimal("25.00"),
        paid_on=date(2026, 3, 2),
        method="card",
        processor_ref="ch_1",
    )
    await records.enqueue_pms_write(pay)
    async with engine.connect() as c:
        rows = (await c.execute(select(OutboxRow.__table__).order_by(OutboxRow.created_at))).all()
        audits = (await c.execute(select(func.count()).select_from(AuditEventRow))).scalar_one()
    assert len(rows) == 2 and audits == 2
    comm = rows[0]
    assert comm.state == "PENDING" and comm.kind == "comm_log" and comm.attempts == 0
    assert comm.marker.startswith("[cx:") and len(comm.marker) == 13
    assert comm.payload["note"] == f"Text with patient. Promised $50. {comm.marker}"
    assert rows[1].payload["amount"] == "25.00" and rows[1].payload["paid_on"] == "2026-03-02"
    assert rows[1].payload["note"] == rows[1].marker
    assert await records.outbox_backlog() == 2


# ---- contact history -----------------------------------------------------------------------------------


async def test_contact_history_assembles_attempts_conversations_and_ledger(
    records: SqlRecords, clock: Clock
) -> None:
    now = T0 + timedelta(days=100)
    await records.record_attempt(channel="sms", to=PHONE, guarantor_id="G1", at=T0)  # older than the window
    await records.record_attempt(channel="voice", to=PHONE, guarantor_id="G1", at=now - timedelta(days=2))
    await records.record_attempt(
        channel="sms",
        to=OTHER,
        guarantor_id="G1",
        at=now - timedelta(days=1),
        direction="inbound",
        counted=False,
    )
    await records.record_attempt(channel="voice", to=PHONE, guarantor_id="G9", at=now - timedelta(days=1))
    clock.now = now - timedelta(hours=5)
    await records.save_conversation(make_conv("cv_v", guarantor="G1", channel="voice"))
    await records.save_conversation(make_conv("cv_unverified", channel="sms"))
    # a STOP from a number we used, recorded before we knew whose it was
    await records.add_suppression(patient_id=None, value=OTHER, scope="sms", reason="stop", source="twilio")
    await records.add_suppression(
        patient_id=None, value="+15125550000", scope="all", reason="x", source="sms"
    )

    h = await records.contact_history("G1", now=now)
    assert [(a.channel, a.direction, a.conversation, a.counted) for a in h.attempts] == [
        ("voice", "outbound", False, True),
        ("sms", "inbound", False, False),
        ("voice", "inbound", True, False),
    ]
    assert h.last_response_at == now - timedelta(days=1)
    assert h.suppressions == (Suppression(SuppressionScope.SMS, OTHER, clock.now, "stop"),)
    with_value = await records.contact_history("G1", now=now, values=["+15125550000"])
    assert Suppression(SuppressionScope.ALL, "+15125550000", clock.now, "x") in with_value.suppressions

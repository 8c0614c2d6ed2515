"""The SMS webhook contract: signatures, idempotency, STOP/HELP/START, status callbacks, 21610."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from agent.store.models import MessageRow
from pms.demo.personas import PERSONAS
from tests.fakes.twilio_signing import sign_form
from tests.integration.harness import PUBLIC, App

PAYER = PERSONAS["prompt_payer"]


def _count_inbound(app: App, sid: str) -> int:
    async def q() -> int:
        async with app.runtime.sessions() as s:
            return int(
                await s.scalar(
                    select(func.count()).select_from(MessageRow).where(MessageRow.provider_sid == sid)
                )
                or 0
            )

    return int(app.run(q()))


def test_missing_or_bad_signature_is_403_and_changes_nothing(app: App) -> None:
    params = {"MessageSid": "SMbad1", "From": PAYER.phone, "To": "+13125550100", "Body": "STOP"}
    assert app.client.post("/twilio/sms/inbound", data=params).status_code == 403
    forged = sign_form("not-the-token", PUBLIC + "/twilio/sms/inbound", params)
    assert app.client.post("/twilio/sms/inbound", data=params, headers=forged).status_code == 403
    # signed for a different URL (http instead of https) is also refused
    wrong_url = sign_form(
        app.twilio.auth_token, PUBLIC.replace("https", "http") + "/twilio/sms/inbound", params
    )
    assert app.client.post("/twilio/sms/inbound", data=params, headers=wrong_url).status_code == 403
    assert _count_inbound(app, "SMbad1") == 0
    assert not app.run(app.runtime.records.is_suppressed(PAYER.phone, "sms"))
    assert app.twilio.messages == []


def test_tampered_body_is_refused(app: App) -> None:
    params = {"MessageSid": "SMtamper", "From": PAYER.phone, "To": "+13125550100", "Body": "what do I owe"}
    headers = sign_form(app.twilio.auth_token, PUBLIC + "/twilio/sms/inbound", params)
    tampered = {**params, "Body": "STOP"}
    assert app.client.post("/twilio/sms/inbound", data=tampered, headers=headers).status_code == 403


def test_malformed_but_signed_webhook_is_400(app: App) -> None:
    r = app.post_signed("/twilio/sms/inbound", {"Body": "hi"})
    assert r.status_code == 400


def test_retried_message_sid_is_processed_once(app: App) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    for _ in range(3):
        r = app.text(PAYER.phone, "what do I owe?", sid=sid)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/xml")
    assert _count_inbound(app, sid) == 1
    assert len(app.replies_to(PAYER.phone)) == 1


def test_twilio_handled_stop_sends_nothing_and_suppresses(app: App) -> None:
    r = app.text(PAYER.phone, "stop ", OptOutType="STOP")
    assert r.status_code == 200
    assert app.replies_to(PAYER.phone) == []
    assert app.run(app.runtime.records.is_suppressed(PAYER.phone, "sms"))
    # a later text gets no reply at all
    app.text(PAYER.phone, "what do I owe?")
    assert app.replies_to(PAYER.phone) == []


def test_plain_language_stop_gets_exactly_one_confirmation(app: App) -> None:
    app.text(PAYER.phone, "please stop texting me")
    app.text(PAYER.phone, "I said stop texting me!!")
    replies = app.replies_to(PAYER.phone)
    assert len(replies) == 1
    assert "Maple Grove" in replies[0]
    assert app.run(app.runtime.records.is_suppressed(PAYER.phone, "sms"))


def test_start_restores_sms(app: App) -> None:
    app.text(PAYER.phone, "STOP", OptOutType="STOP")
    app.text(PAYER.phone, "START", OptOutType="START")
    assert not app.run(app.runtime.records.is_suppressed(PAYER.phone, "sms"))
    app.text(PAYER.phone, "what do I owe?")
    assert len(app.replies_to(PAYER.phone)) == 1


def test_help_outside_twilio_keywords_replies_with_practice_and_opt_out(app: App) -> None:
    app.text(PAYER.phone, "HELP")
    replies = app.replies_to(PAYER.phone)
    # HELP is one of Twilio's own keywords: Twilio answered, so the app stays silent.
    assert replies == []


def _last_outbound(app: App) -> MessageRow:
    async def q() -> MessageRow:
        async with app.runtime.sessions() as s:
            row = await s.scalar(
                select(MessageRow).where(MessageRow.direction == "out").order_by(MessageRow.created_at.desc())
            )
            assert row is not None
            return row

    return app.run(q())  # type: ignore[no-any-return]


def test_status_callback_updates_message_and_21610_records_opt_out(app: App) -> None:
    app.text(PAYER.phone, "what do I owe?")
    sent = [m for m in app.twilio.messages if m["To"] == PAYER.phone]
    assert sent and sent[0].get("StatusCallback") == PUBLIC + "/twilio/sms/status"
    sid = _last_outbound(app).provider_sid
    assert sid
    status = {
        "MessageSid": sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
        "To": PAYER.phone,
        "From": "+13125550100",
        "AccountSid": app.twilio.account_sid,
    }
    assert app.post_signed("/twilio/sms/status", status).status_code == 200
    # replayed callback changes nothing further
    assert app.post_signed("/twilio/sms/status", status).status_code == 200
    row = _last_outbound(app)
    assert row.status == "undelivered"
    assert app.run(app.runtime.records.is_suppressed(PAYER.phone, "sms"))


def test_outbound_to_opted_out_number_records_21610(app: App) -> None:
    other = PERSONAS["plan_candidate"]
    app.twilio.opted_out_numbers.add(other.phone)
    app.text(other.phone, "what do I owe?")  # our reply hits Twilio's 21610
    assert app.replies_to(other.phone) == []
    assert app.run(app.runtime.records.is_suppressed(other.phone, "sms"))


def test_twilio_not_configured_answers_503(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from agent.app import create_app
    from agent.settings import Settings
    from tests.integration.harness import prepare_database, run_sync

    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    run_sync(prepare_database(url))
    settings = Settings(_env_file=None, DATABASE_URL=url)  # type: ignore[call-arg]
    with TestClient(create_app(settings, background=False)) as client:
        r = client.post(
            "/twilio/sms/inbound", data={"MessageSid": "SM1", "From": "+13125550123", "Body": "hi"}
        )
        assert r.status_code == 503
        assert client.get("/healthz").json() == {"status": "ok"}


def test_retry_while_first_delivery_is_in_flight_is_not_acknowledged(app: App) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    key = f"sms-in:{sid}"
    assert app.run(app.runtime.state.claim(key, 60))  # the first delivery is mid-processing
    r = app.text(PAYER.phone, "what do I owe?", sid=sid)
    assert r.status_code == 503  # not "done": Twilio may retry; nothing recorded yet
    assert _count_inbound(app, sid) == 0
    app.run(app.runtime.state.release(key))  # the first delivery failed and released its claim
    assert app.text(PAYER.phone, "what do I owe?", sid=sid).status_code == 200
    assert _count_inbound(app, sid) == 1
    assert app.text(PAYER.phone, "what do I owe?", sid=sid).status_code == 200  # now a plain duplicate
    assert len(app.replies_to(PAYER.phone)) == 1


def test_over_the_in_flight_limit_a_text_is_shed_with_retry_after(app: App, monkeypatch) -> None:
    from agent.routes import twilio_sms

    sid = f"SM{uuid.uuid4().hex}"
    monkeypatch.setattr(twilio_sms, "MAX_IN_FLIGHT", 0)  # every slot taken
    r = app.text(PAYER.phone, "what do I owe?", sid=sid)
    assert r.status_code == 503 and r.headers["Retry-After"] == twilio_sms.SHED_RETRY_AFTER
    assert _count_inbound(app, sid) == 0 and app.replies_to(PAYER.phone) == []
    monkeypatch.setattr(twilio_sms, "MAX_IN_FLIGHT", 48)
    assert app.text(PAYER.phone, "what do I owe?", sid=sid).status_code == 200  # Twilio's retry
    assert _count_inbound(app, sid) == 1 and len(app.replies_to(PAYER.phone)) == 1


def test_a_text_is_one_transaction_in_and_its_reply_is_recorded_with_the_turn(app: App) -> None:
    """The inbound row, its attempt, the conversation state, the turn's audit events and the reply's
    message + attempt are all there after one text (written by the batched transactions)."""
    from agent.store.models import AuditEventRow, ContactAttemptRow, ConversationRow

    sid = f"SM{uuid.uuid4().hex}"
    assert app.text(PAYER.phone, "what do I owe?", sid=sid).status_code == 200

    async def q() -> tuple[list[str], list[str], int, list[str]]:
        async with app.runtime.sessions() as s:
            cid = await s.scalar(select(MessageRow.conversation_id).where(MessageRow.provider_sid == sid))
            dirs = list(
                (await s.scalars(select(MessageRow.direction).where(MessageRow.conversation_id == cid))).all()
            )
            attempts = list(
                (
                    await s.scalars(
                        select(ContactAttemptRow.direction).where(ContactAttemptRow.to == PAYER.phone)
                    )
                ).all()
            )
            convs = int(await s.scalar(select(func.count()).where(ConversationRow.id == cid)) or 0)
            kinds = list(
                (
                    await s.scalars(select(AuditEventRow.kind).where(AuditEventRow.conversation_id == cid))
                ).all()
            )
        return dirs, attempts, convs, kinds

    dirs, attempts, convs, kinds = app.run(q())
    assert sorted(dirs) == ["in", "out"]
    assert sorted(attempts) == ["inbound", "outbound"]
    assert convs == 1
    assert "conversation.started" in kinds

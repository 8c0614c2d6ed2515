"""Outbound calls through the real twilio SDK against FakeTwilio, and their signed callbacks:
answer → media stream with a single-use grant; AMD machine → exactly one limited-content voicemail and
at most one text; status callbacks keyed by CallSid and ordered by SequenceNumber. Replayed,
duplicated, concurrent and out-of-order callbacks change nothing twice — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from agent.app import create_app
from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus
from agent.outreach.voice_channel import make_voice_channel
from agent.store.calls import CallStore, OutboundCall
from agent.store.models import AuditEventRow, ContactAttemptRow
from agent.voice.stream_grants import StreamGrants
from policies.messages import lint
from policies.types import SuppressionScope
from telephony.calls import TwilioCallClient
from tests.integration.harness import PUBLIC, App, make_settings
from tests.outbound_channels.helpers import (
    amd_form,
    call_form,
    contactable_patient,
    post,
    post_concurrently,
    request,
    status_form,
)
from tests.outbound_channels.twilio_calls_fake import CallsFakeTwilio

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
VOICEMAIL_SAY = re.compile(r"<Say[^>]*>(.*?)</Say>", re.S)


def _dial(app: App, req: ContactRequest) -> DispatchResult:
    return app.run(make_voice_channel(app.runtime).dispatch(req))  # type: ignore[no-any-return]


def _placed(app: App, *, sms_consent: bool = True) -> tuple[Any, ContactRequest, str]:
    patient = contactable_patient(app, sms_consent=sms_consent)
    mobile = next(c.value for c in patient.phones if c.kind == "mobile")
    req = request(patient, "voice", to=mobile)
    result = _dial(app, req)
    assert result.status is DispatchStatus.SENT, result
    assert result.provider_ref is not None
    return patient, req, result.provider_ref


def _call(app: App, sid: str) -> OutboundCall:
    call = app.run(CallStore(app.runtime.sessions, app.runtime.clock).get_call(call_sid=sid))
    assert call is not None
    return call  # type: ignore[no-any-return]


def _count(app: App, model: Any, *where: Any) -> int:
    async def run() -> int:
        async with app.runtime.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return app.run(run())  # type: ignore[no-any-return]


def test_dial_places_call_with_async_amd_and_counts_once(app: App, twilio: CallsFakeTwilio) -> None:
    patient, req, sid = _placed(app)
    [form] = [f for f in twilio.calls if f.get("To") == req.to and f is twilio.calls[-1]]
    q = f"?attempt={req.attempt_id}"
    assert form["From"] == "+13125550100"
    assert form["Url"] == f"{PUBLIC}/twilio/voice/outbound{q}"
    assert form["Method"] == "POST"
    assert form["MachineDetection"] == "DetectMessageEnd"
    assert form["AsyncAmd"] == "true"
    assert form["AsyncAmdStatusCallback"] == f"{PUBLIC}/twilio/voice/amd{q}"
    assert form["AsyncAmdStatusCallbackMethod"] == "POST"
    assert form["StatusCallback"] == f"{PUBLIC}/twilio/voice/status{q}"
    assert form.getlist("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    assert form["StatusCallbackMethod"] == "POST"
    assert form["Record"] == "false"
    # Counted toward the 7-in-7 cap at once (rule 58), exactly once; a retried job does not redial.
    calls_before = len(twilio.calls)
    again = _dial(app, req)
    assert (again.status, again.provider_ref, again.detail) == (DispatchStatus.SENT, sid, "already_dialed")
    assert len(twilio.calls) == calls_before
    history = app.run(app.runtime.records.contact_history(patient.guarantor_id, now=app.clock()))
    assert [(a.channel, a.counted) for a in history.attempts if a.channel == "voice"] == [("voice", True)]


def test_human_answer_connects_the_agent_with_a_single_use_grant(app: App, twilio: CallsFakeTwilio) -> None:
    patient, req, sid = _placed(app)
    answered = post(
        app, "/twilio/voice/outbound", req.attempt_id, call_form(app, sid, CallStatus="in-progress")
    )
    assert answered.status_code == 200
    body = answered.text
    assert f'<Connect action="{PUBLIC}/twilio/voice/after-stream" method="POST">' in body
    assert '<Stream url="wss://billing.example.com/twilio/media">' in body
    token = re.search(r'<Parameter name="bl_token" value="([^"]+)"', body)
    assert token is not None
    grants = StreamGrants(app.runtime.state)
    grant = app.run(grants.redeem(token.group(1)))
    assert grant is not None
    assert (grant.call_sid, grant.direction, grant.patient_id) == (sid, "outbound", patient.patient_id)
    assert app.run(grants.redeem(token.group(1))) is None  # single use
    # A human verdict changes nothing: no call update, no text.
    assert post(app, "/twilio/voice/amd", req.attempt_id, amd_form(app, sid, "human")).status_code == 200
    assert twilio.updates_of(sid) == []
    assert _call(app, sid).answered_by == "human"


def test_machine_gets_one_voicemail_and_one_text_whatever_the_replays(
    app: App, twilio: CallsFakeTwilio
) -> None:
    patient, req, sid = _placed(app, sms_consent=True)
    texts_before = len([m for m in twilio.messages if m.get("To") == req.to])
    amd = amd_form(app, sid, "machine_end_beep")
    for form in (amd, amd, amd_form(app, sid, "human"), amd_form(app, sid, "machine_end_silence"), amd):
        assert post(app, "/twilio/voice/amd", req.attempt_id, form).status_code == 200
    [update] = twilio.updates_of(sid)
    said = VOICEMAIL_SAY.search(update["Twiml"])
    assert said is not None and update["Twiml"].rstrip().endswith("<Hangup /></Response>")
    words = said.group(1)
    policy = app.runtime.policy
    assert (
        lint(
            words,
            verified=False,
            policy=policy,
            channel="voicemail",
            patient_names=[patient.first_name, patient.last_name],
        )
        == []
    )
    assert policy.practice.name in words and policy.practice.staff_contact_name in words
    assert "(312) 555-0100" in words
    assert not re.search(r"\$|\d+\.\d\d|balance|bill|payment|owe|debt|account", words, re.I)
    assert patient.first_name not in words and patient.last_name not in words
    texts = [m for m in twilio.messages if m.get("To") == req.to][texts_before:]
    assert len(texts) == 1 and "Reply STOP to opt out" in texts[0]["Body"]
    assert lint(texts[0]["Body"], verified=False, policy=policy, channel="sms", first_contact=True) == []
    call = _call(app, sid)
    assert (call.answered_by, call.voicemail, call.followup_sms) == ("machine_end_beep", "left", "sent")

    # Status callbacks replayed, duplicated and out of order: one end, one attempt, counted once.
    for status, seq in [
        ("completed", 3),
        ("ringing", 1),
        ("in-progress", 2),
        ("initiated", 0),
        ("completed", 3),
    ]:
        assert (
            post(app, "/twilio/voice/status", req.attempt_id, status_form(app, sid, status, seq)).status_code
            == 200
        )
    call = _call(app, sid)
    assert (call.final_status, call.status, call.last_sequence) == ("completed", "completed", 3)
    assert (
        _count(
            app,
            AuditEventRow,
            AuditEventRow.kind == "call.ended",
            AuditEventRow.patient_id == patient.patient_id,
        )
        == 1
    )
    assert (
        _count(
            app,
            ContactAttemptRow,
            ContactAttemptRow.provider_sid == sid,
            ContactAttemptRow.status == "completed",
        )
        == 1
    )
    history = app.run(app.runtime.records.contact_history(patient.guarantor_id, now=app.clock()))
    assert len([a for a in history.attempts if a.channel == "voice" and a.counted]) == 1
    # A late machine verdict after the end acts on nothing.
    assert post(app, "/twilio/voice/amd", req.attempt_id, amd).status_code == 200
    assert len(twilio.updates_of(sid)) == 1


def test_machine_without_text_consent_gets_the_voicemail_only(app: App, twilio: CallsFakeTwilio) -> None:
    _, req, sid = _placed(app, sms_consent=False)
    texts_before = len([m for m in twilio.messages if m.get("To") == req.to])
    assert (
        post(app, "/twilio/voice/amd", req.attempt_id, amd_form(app, sid, "machine_end_other")).status_code
        == 200
    )
    assert len(twilio.updates_of(sid)) == 1
    assert len([m for m in twilio.messages if m.get("To") == req.to]) == texts_before
    assert _call(app, sid).followup_sms == "skipped:no_sms_consent"


def test_concurrent_duplicate_callbacks_act_once(app: App, twilio: CallsFakeTwilio) -> None:
    _, req, sid = _placed(app, sms_consent=True)
    texts_before = len([m for m in twilio.messages if m.get("To") == req.to])
    amd_path = f"/twilio/voice/amd?attempt={req.attempt_id}"
    codes = post_concurrently(app, amd_path, [amd_form(app, sid, "machine_end_beep")] * 6)
    assert codes == [200] * 6
    assert len(twilio.updates_of(sid)) == 1
    assert len([m for m in twilio.messages if m.get("To") == req.to]) == texts_before + 1
    status_path = f"/twilio/voice/status?attempt={req.attempt_id}"
    finals = [status_form(app, sid, "completed", 4)] * 4 + [status_form(app, sid, "ringing", 1)] * 2
    assert post_concurrently(app, status_path, finals) == [200] * 6
    assert (
        _count(
            app,
            AuditEventRow,
            AuditEventRow.kind == "call.ended",
            AuditEventRow.detail["call_sid"].as_string() == sid,
        )
        == 1
    )
    assert _call(app, sid).final_status == "completed"


def test_unanswered_call_ends_once_and_stale_status_is_ignored(app: App, twilio: CallsFakeTwilio) -> None:
    _, req, sid = _placed(app)
    path = "/twilio/voice/status"
    post(app, path, req.attempt_id, status_form(app, sid, "ringing", 1))
    post(app, path, req.attempt_id, status_form(app, sid, "initiated", 0))  # late: ignored
    call = _call(app, sid)
    assert (call.status, call.last_sequence, call.final_status) == ("ringing", 1, None)
    post(app, path, req.attempt_id, status_form(app, sid, "no-answer", 2))
    post(app, path, req.attempt_id, status_form(app, sid, "completed", 2))  # a second final: ignored
    post(app, path, req.attempt_id, status_form(app, sid, "no-answer", 2))
    call = _call(app, sid)
    assert (call.final_status, call.status) == ("no-answer", "no-answer")
    assert (
        _count(
            app,
            ContactAttemptRow,
            ContactAttemptRow.provider_sid == sid,
            ContactAttemptRow.status == "no-answer",
        )
        == 1
    )
    # The answer webhook of a call that is over (or never ours) hangs up.
    over = post(app, "/twilio/voice/outbound", req.attempt_id, call_form(app, sid))
    assert "<Hangup />" in over.text and "<Connect" not in over.text
    unknown = app.post_signed("/twilio/voice/status", status_form(app, "CA" + "0" * 32, "completed", 5))
    assert unknown.status_code == 200


def test_fax_hangs_up_once_and_a_voicemail_on_an_ended_call_is_not_retried(
    app: App, twilio: CallsFakeTwilio
) -> None:
    _, req, sid = _placed(app)
    for _ in range(3):
        post(app, "/twilio/voice/amd", req.attempt_id, amd_form(app, sid, "fax"))
    [update] = twilio.updates_of(sid)
    assert update["Status"] == "completed"
    assert _call(app, sid).voicemail == "hung_up"

    _, req2, sid2 = _placed(app, sms_consent=True)
    texts_before = len([m for m in twilio.messages if m.get("To") == req2.to])
    twilio.end_call(sid2)  # the machine hung up before the beep: Twilio answers 21220
    post(app, "/twilio/voice/amd", req2.attempt_id, amd_form(app, sid2, "machine_end_beep"))
    post(app, "/twilio/voice/amd", req2.attempt_id, amd_form(app, sid2, "machine_end_beep"))
    assert twilio.updates_of(sid2) == []
    assert _call(app, sid2).voicemail == "failed"
    assert len([m for m in twilio.messages if m.get("To") == req2.to]) == texts_before


def test_dial_failures_and_suppression(app: App, twilio: CallsFakeTwilio) -> None:
    patient = contactable_patient(app, sms_consent=True)
    req = request(patient, "voice")
    twilio.fail_next(1, 503)
    transient = _dial(app, req)
    assert (transient.status, transient.detail) == (DispatchStatus.TRANSIENT, "twilio_20503")
    assert _dial(app, req).status is DispatchStatus.SENT  # the claim was released: the retry dials

    other = contactable_patient(app, sms_consent=False)
    req2 = request(other, "voice")
    twilio.fail_next(1, 400)
    refused = _dial(app, req2)
    assert (refused.status, refused.detail) == (DispatchStatus.PERMANENT, "twilio_20400")
    calls = len(twilio.calls)
    assert _dial(app, req2).detail == "attempt_failed"  # never retried
    assert len(twilio.calls) == calls

    stranger = _dial(app, request(other, "voice", to="+15555550123"))
    assert (stranger.status, stranger.detail) == (DispatchStatus.PERMANENT, "number_not_on_file")
    app.run(
        app.runtime.records.add_suppression(
            patient_id=None,
            value=req2.to,
            scope=SuppressionScope.VOICE,
            reason="patient_request",
            source="voice",
        )
    )
    blocked = _dial(app, request(other, "voice"))
    assert (blocked.status, blocked.detail) == (DispatchStatus.BLOCKED, "suppressed")
    assert len(twilio.calls) == calls


def test_a_dial_whose_answer_was_lost_is_found_by_attempt_and_counted_once(app: App) -> None:
    """A timeout on calls.create leaves the attempt `unknown` (never redialled); if Twilio did place
    the call, its first callback links the CallSid through the signed `?attempt=` and counts it."""
    patient = contactable_patient(app, sms_consent=False)
    req = request(patient, "voice")
    store = CallStore(app.runtime.sessions, app.runtime.clock)
    assert app.run(store.claim_dial(attempt_id=req.attempt_id, patient_id=patient.patient_id,
                                    guarantor_id=patient.guarantor_id, to=req.to, purpose="balance")) is None  # fmt: skip
    app.run(store.mark_dial_failed(req.attempt_id, state="unknown", error="timeout"))
    assert _dial(app, req).detail == "attempt_unknown"
    sid = "CA" + "7" * 32
    for status, seq in [("initiated", 0), ("ringing", 1), ("initiated", 0)]:
        post(app, "/twilio/voice/status", req.attempt_id, status_form(app, sid, status, seq))
    call = _call(app, sid)
    assert (call.attempt_id, call.status, call.dial_state) == (req.attempt_id, "ringing", "placed")
    assert (
        _count(app, ContactAttemptRow, ContactAttemptRow.provider_sid == sid, ContactAttemptRow.counted) == 1
    )


def test_callbacks_are_signature_checked(app: App, twilio: CallsFakeTwilio) -> None:
    _, req, sid = _placed(app)
    for path in ("/twilio/voice/outbound", "/twilio/voice/status", "/twilio/voice/amd"):
        form = status_form(app, sid, "completed", 9) | {"AnsweredBy": "machine_end_beep"}
        assert app.client.post(f"{path}?attempt={req.attempt_id}", data=form).status_code == 403
        forged = app.post_signed(f"{path}?attempt={req.attempt_id}", form, token="not-the-auth-token")
        assert forged.status_code == 403
    assert twilio.updates_of(sid) == [] and _call(app, sid).final_status is None
    # Signed but malformed: 400, nothing changes.
    assert app.post_signed("/twilio/voice/status", status_form(app, sid, "exploded", 9)).status_code == 400
    assert app.post_signed("/twilio/voice/amd", amd_form(app, sid, "robot")).status_code == 400
    assert app.post_signed("/twilio/voice/outbound", {"AccountSid": twilio.account_sid}).status_code == 400
    assert twilio.updates_of(sid) == [] and _call(app, sid).status is None
    # Correctly signed (whatever the query): accepted, and the CallSid is the key.
    signed = app.post_signed("/twilio/voice/status?attempt=other", status_form(app, sid, "completed", 9))
    assert signed.status_code == 200
    assert _call(app, sid).final_status == "completed"


def test_unconfigured_twilio_answers_503(tmp_path: Any, twilio: CallsFakeTwilio) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", None, twilio)
    bare = settings.model_copy(update={"twilio_account_sid": None, "twilio_auth_token": None})
    with TestClient(create_app(bare, background=False)) as client:
        for path in ("/twilio/voice/outbound", "/twilio/voice/status", "/twilio/voice/amd"):
            assert client.post(path, data={"CallSid": "CA1"}).status_code == 503


def test_the_outreach_pipeline_uses_these_channels_when_configured(app: App) -> None:
    from agent.outreach.email_channel import EmailChannel
    from agent.outreach.service import build_channels
    from agent.outreach.voice_channel import VoiceChannel

    channels = build_channels(app.runtime)
    assert isinstance(channels["email"], EmailChannel) and channels["email"].name == "email"
    assert isinstance(channels["voice"], VoiceChannel) and channels["voice"].name == "voice"
    assert channels["voice"].calls is app.runtime.call_client is not None


async def test_rest_failures_are_told_apart(twilio: CallsFakeTwilio) -> None:
    """Connection refused: nothing reached Twilio (transient, retry). Timeout: the call may exist
    (ambiguous, never redialled blindly). 4xx: permanent."""
    kw = {"url": f"{PUBLIC}/o", "status_callback": f"{PUBLIC}/s", "amd_callback": f"{PUBLIC}/a"}
    refused = TwilioCallClient(twilio.account_sid, twilio.auth_token, from_number="+13125550100",
                               api_base="http://127.0.0.1:1")  # fmt: skip
    out = await refused.dial("+17635550101", **kw)
    assert out.transient and not out.ambiguous and not out.permanent
    await refused.aclose()
    slow = TwilioCallClient(twilio.account_sid, twilio.auth_token, from_number="+13125550100",
                            api_base=twilio.base_url, timeout=0.3)  # fmt: skip
    twilio.stall_next(1, 1.0)
    out = await slow.dial("+17635550101", **kw)
    assert out.ambiguous and not out.transient and not out.permanent
    bad_token = TwilioCallClient(
        twilio.account_sid, "wrong", from_number="+13125550100", api_base=twilio.base_url
    )
    out = await bad_token.dial("+17635550101", **kw)
    assert out.permanent and out.error_code == 20003
    await slow.aclose()
    await bad_token.aclose()

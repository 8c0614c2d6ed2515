"""Twilio webhooks of outbound calls: answer, status and async AMD (all signature-checked).

- `POST /twilio/voice/outbound`: the call was answered. Until AMD says otherwise it is a person: the
  TwiML connects it to the voice agent (`<Connect><Stream>` with a single-use grant naming the
  patient the call is about; the agent verifies identity before anything about a balance).
- `POST /twilio/voice/amd`: `machine_end_*` → the live call is updated (REST) to speak the
  limited-content voicemail once and hang up, then, with text consent, one follow-up text through
  `GuardedSms`; `fax` (or `machine_start`, never expected with DetectMessageEnd) → hang up;
  `human` / `unknown` → nothing (the agent is already talking).
- `POST /twilio/voice/status`: keyed by CallSid, ordered by SequenceNumber; older and repeated
  callbacks are ignored; the first terminal status ends the call and stamps its contact attempt.
Every effect is a conditional update in the store, so replays, duplicates and reordering act once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, Response

from agent.logs import get_logger
from agent.metrics import WEBHOOKS
from agent.outreach.delivery import ContentRejected
from agent.outreach.voice_channel import count_call_attempt
from agent.outreach.voicemail import followup_sms_text, voicemail_twiml
from agent.routes.deps import get_runtime, twilio_form
from agent.runtime import Runtime
from agent.store.calls import CallStore, OutboundCall
from agent.voice.stream_grants import StreamGrant, StreamGrants, connect_twiml
from telephony.calls import answered_kind, parse_amd, parse_call_status
from telephony.sms import MalformedWebhook
from telephony.twiml import TWIML_MEDIA_TYPE, hangup

router = APIRouter(prefix="/twilio/voice", tags=["twilio"])
log = get_logger(__name__)

_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'
T = TypeVar("T")


def _ack() -> Response:
    return Response(content=_EMPTY, media_type=TWIML_MEDIA_TYPE)


async def _parsed(request: Request, route: str, parse: Callable[[dict[str, str]], T]) -> T:
    form = await twilio_form(request, route)
    try:
        return parse(form)
    except MalformedWebhook as exc:
        WEBHOOKS.labels(route=route, result="malformed").inc()
        raise HTTPException(status_code=400, detail=str(exc)) from exc


async def _our_call(
    request: Request, route: str, call_sid: str
) -> tuple[Runtime, CallStore, OutboundCall | None]:
    """The outbound call this callback is about (None: not ours, e.g. an inbound call's status)."""
    runtime = get_runtime(request)
    store = CallStore(runtime.sessions, runtime.clock)
    call = await store.get_call(call_sid=call_sid, attempt_id=request.query_params.get("attempt"))
    if call is None:
        WEBHOOKS.labels(route=route, result="unknown_call").inc()
    elif call.just_linked and call.call_sid:  # a dial whose REST answer was lost: count it now
        await count_call_attempt(
            runtime.records,
            call_sid=call.call_sid,
            patient_id=call.patient_id,
            guarantor_id=call.guarantor_id,
            to=call.to,
        )
    return runtime, store, call


def _call_sid(form: dict[str, str]) -> str:
    sid = form.get("CallSid")
    if not sid:
        raise MalformedWebhook("Twilio webhook without CallSid")
    return sid


@router.post("/outbound")
async def outbound_answered(request: Request) -> Response:
    call_sid = await _parsed(request, "voice_outbound", _call_sid)
    runtime, _, call = await _our_call(request, "voice_outbound", call_sid)
    if call is None or call.ended or answered_kind(call.answered_by) != "human":
        # Not a call we placed, already over, or a machine/fax: nothing to talk to.
        WEBHOOKS.labels(route="voice_outbound", result="hangup").inc()
        return Response(content=hangup(), media_type=TWIML_MEDIA_TYPE)
    twiml = await connect_twiml(
        StreamGrants(runtime.state),
        runtime.settings.public_base_url,
        StreamGrant(call_sid=call_sid, direction="outbound", patient_id=call.patient_id),
    )
    WEBHOOKS.labels(route="voice_outbound", result="connect").inc()
    return Response(content=twiml, media_type=TWIML_MEDIA_TYPE)


@router.post("/status")
async def call_status(request: Request) -> Response:
    event = await _parsed(request, "voice_status", parse_call_status)
    _, store, call = await _our_call(request, "voice_status", event.call_sid)
    if call is not None:
        WEBHOOKS.labels(route="voice_status", result=await store.apply_status(event)).inc()
    return _ack()


@router.post("/amd")
async def amd_result(request: Request) -> Response:
    amd = await _parsed(request, "voice_amd", parse_amd)
    runtime, store, call = await _our_call(request, "voice_amd", amd.call_sid)
    if call is None:
        return _ack()
    # The first verdict stands: a replayed or contradicting callback cannot change what was done.
    verdict = await store.record_answered_by(amd.call_sid, amd.answered_by) or amd.answered_by
    kind = answered_kind(verdict)
    if kind == "machine":
        result = await _leave_voicemail(runtime, store, call)
    elif kind in ("fax", "machine_start"):
        result = await _hang_up(runtime, store, call)
    else:
        result = "human"
    WEBHOOKS.labels(route="voice_amd", result=result).inc()
    return _ack()


async def _hang_up(runtime: Runtime, store: CallStore, call: OutboundCall) -> str:
    assert call.call_sid is not None
    if runtime.call_client is None or not await store.claim_machine_action(call.call_sid):
        return "duplicate"
    outcome = await runtime.call_client.hang_up(call.call_sid)
    await store.finish_machine_action(call.call_sid, "hung_up" if outcome.ok else "failed")
    return "hung_up"


async def _leave_voicemail(runtime: Runtime, store: CallStore, call: OutboundCall) -> str:
    """Speak the voicemail once over the live call, then (with text consent) send one text."""
    sid = call.call_sid
    assert sid is not None
    if runtime.call_client is None or not await store.claim_machine_action(sid):
        return "duplicate"
    patient = await runtime.pms.get_patient(call.patient_id)
    names = (patient.first_name, patient.last_name) if patient else ()
    try:
        twiml = voicemail_twiml(runtime.policy, patient_names=names)
    except ContentRejected as exc:
        log.error("voicemail_content_rejected", call_sid=sid, rules=[v.rule for v in exc.violations])
        await store.finish_machine_action(sid, "failed")
        await runtime.call_client.hang_up(sid)
        return "voicemail_rejected"
    outcome = await runtime.call_client.redirect(sid, twiml)
    if outcome.transient or outcome.ambiguous:
        await store.finish_machine_action(sid, "failed" if outcome.ambiguous else None)
        return "voicemail_retry"
    if not outcome.ok:  # e.g. 21220: the call ended before we could speak
        await store.finish_machine_action(sid, "failed")
        return "voicemail_failed"
    await store.finish_machine_action(sid, "left")
    await _followup_text(runtime, store, call, names)
    return "voicemail_left"


async def _followup_text(
    runtime: Runtime, store: CallStore, call: OutboundCall, names: tuple[str, ...]
) -> None:
    sid = call.call_sid
    assert sid is not None
    if not await store.claim_followup(sid):
        return
    patient = await runtime.pms.get_patient(call.patient_id)
    pms_consent = patient is not None and any(
        c.value == call.to and c.sms_consent == "yes" for c in patient.phones
    )
    ledger = await runtime.records.consent_state(call.patient_id, [call.to])
    if ledger.get("sms") == "opted_out" or not (pms_consent or ledger.get("sms") == "opted_in"):
        await store.finish_followup(sid, "skipped:no_sms_consent")
        return
    try:
        body = followup_sms_text(runtime.policy, patient_names=names)
    except ContentRejected as exc:
        await store.finish_followup(sid, f"skipped:{exc.code}")
        return
    sent = await runtime.outbound_sms.send_sms(
        patient_id=call.patient_id, to=call.to, body=body, purpose="voicemail", initiated_by="agent"
    )
    await store.finish_followup(sid, "sent" if sent.sent else f"blocked:{sent.reason}")

"""Twilio voice webhooks for calls into the practice, and the media websocket every call streams on.

- ``POST /twilio/voice/inbound``: the caller is matched by phone number, a conversation is opened and
  the call is connected to ``/twilio/media`` with a single-use token (``<Connect><Stream>``).
- ``WS /twilio/media``: refused (close 4403) without a valid token in ``start.customParameters`` (and
  with a bad ``x-twilio-signature`` when one is sent); otherwise one ``VoiceSession``.
- ``POST /twilio/voice/after-stream``: what the call does once the session closed the stream: dial
  staff for a warm transfer, ``<Pay>`` for a keypad payment, else hang up politely.
- ``POST /twilio/voice/whisper/{transfer_id}``: a short summary for the staff member before bridging.
- ``POST /twilio/voice/transfer-result``: staff did not answer → callback task + an SMS to the caller.
Every webhook is signature-checked (403 bad signature, 503 Twilio unconfigured) and idempotent.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from twilio.twiml.voice_response import Dial, VoiceResponse

from agent.conversation import Conversation
from agent.logs import get_logger
from agent.metrics import WEBHOOKS
from agent.pms_lookup import match_caller
from agent.routes.deps import get_runtime
from agent.routes.deps import twilio_form as _form
from agent.runtime import Runtime
from agent.store.voice_calls import VoiceCallStore
from agent.voice.live import publish_transfer
from agent.voice.service import voice_service
from agent.voice.stream_grants import StreamGrant, connect_twiml, media_ws_url
from policies.redaction import redact
from telephony.media_streams import InboundMessage, MediaStreamMessageError, parse_message
from telephony.twiml import TWIML_MEDIA_TYPE
from tools.context import CallerState

log = get_logger(__name__)
router = APIRouter(tags=["twilio"])

MISSED_TRANSFER = {"busy", "no-answer", "failed", "canceled"}
WS_REFUSED = 4403
MAX_BAD_FRAMES = 50


def _twiml(body: str) -> Response:
    return Response(content=body, media_type=TWIML_MEDIA_TYPE)


def _calls(runtime: Runtime) -> VoiceCallStore:
    return VoiceCallStore(runtime.sessions, runtime.clock)


def _call_sid(form: dict[str, str]) -> str:
    sid = form.get("CallSid", "")
    if not sid.startswith("CA") or len(sid) > 64:
        raise HTTPException(status_code=400, detail="CallSid missing or malformed")
    return sid


# ------------------------------------------------------------------------------------------ inbound


@router.post("/twilio/voice/inbound")
async def voice_inbound(request: Request) -> Response:
    form = await _form(request, "voice_inbound")
    call_sid = _call_sid(form)
    runtime = get_runtime(request)
    voice = voice_service(request.app)
    voice.warm()
    calls = _calls(runtime)
    existing = await calls.get(call_sid)
    if existing is not None and existing.conversation_id:  # Twilio retried the webhook
        conversation_id = existing.conversation_id
    else:
        conversation_id = await _open_conversation(runtime, form.get("From") or None)
        await calls.open_call(call_sid, direction="inbound", conversation_id=conversation_id)
    WEBHOOKS.labels(route="voice_inbound", result="connected").inc()
    grant = StreamGrant(call_sid=call_sid, direction="inbound", conversation_id=conversation_id)
    return _twiml(await connect_twiml(voice.grants, runtime.settings.public_base_url, grant))


async def _open_conversation(runtime: Runtime, caller: str | None) -> str:
    """A new voice conversation for the caller, with the patients on file for that number (unverified)."""
    matches = await match_caller(runtime.pms, caller)
    state = CallerState(
        conversation_id=f"cv_{uuid.uuid4().hex[:20]}",
        channel="voice",
        contact=caller,
        candidate_patient_ids=[p.patient_id for p in matches],
    )
    if matches and all(m.language == "es" for m in matches):
        state.language = "es"
    conv = Conversation(state=state, direction="inbound", started_at=runtime.clock())
    await runtime.records.save_conversation(conv)
    await runtime.records.audit(
        "conversation.started",
        patient_id=None,
        conversation_id=state.conversation_id,
        detail={"channel": "voice", "matches": len(matches)},
    )
    return state.conversation_id


# ------------------------------------------------------------------------------------------ media


@router.websocket("/twilio/media")
async def media_stream(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    verifier = runtime.verifier
    signature = ws.headers.get("x-twilio-signature")
    if signature is not None and (
        verifier is None or not verifier.verify_ws(media_ws_url(runtime.settings.public_base_url), signature)
    ):
        await ws.close(code=WS_REFUSED)
        return
    await ws.accept()
    closed = False

    async def messages() -> AsyncIterator[InboundMessage]:
        bad = 0
        try:
            async for text in ws.iter_text():
                try:
                    yield parse_message(text)
                except MediaStreamMessageError as exc:
                    bad += 1
                    log.warning("media_frame_invalid", error=str(exc)[:120])
                    if bad > MAX_BAD_FRAMES:
                        return
        except WebSocketDisconnect:
            return

    async def close() -> None:
        nonlocal closed
        if not closed:
            closed = True
            with contextlib.suppress(Exception):
                await ws.close()

    try:
        result = await voice_service(ws.app).run_call(messages(), ws.send_text, on_stream_end=close)
    except Exception as exc:  # one bad call never takes the process (or another call) down
        log.error("media_stream_failed", error=type(exc).__name__)
        await close()
        return
    if result.refused and not closed:
        closed = True
        with contextlib.suppress(Exception):
            await ws.close(code=WS_REFUSED)
    await close()


# ------------------------------------------------------------------------------------------ after the stream


@router.post("/twilio/voice/after-stream")
async def after_stream(request: Request) -> Response:
    form = await _form(request, "voice_after_stream")
    call_sid = _call_sid(form)
    runtime = get_runtime(request)
    call = await _calls(runtime).get(call_sid)
    handoff: dict[str, Any] = (call.handoff if call else None) or {}
    kind = handoff.get("kind")
    base = runtime.settings.public_base_url.rstrip("/")
    response = VoiceResponse()
    if handoff.get("say"):
        response.say(str(handoff["say"]))
    if kind == "transfer" and handoff.get("transfer_id") and runtime.policy.transfer.staff_number:
        transfer_id = str(handoff["transfer_id"])
        dial = Dial(
            action=f"{base}/twilio/voice/transfer-result",
            method="POST",
            timeout=runtime.policy.transfer.ring_timeout_seconds,
            caller_id=runtime.settings.twilio_from_number or None,
        )
        dial.number(
            runtime.policy.transfer.staff_number,
            url=f"{base}/twilio/voice/whisper/{transfer_id}",
            method="POST",
        )
        response.append(dial)
        if await runtime.state.claim(f"voice-transfer-ringing:{transfer_id}", 24 * 3600):
            ctx = await _calls(runtime).set_transfer_status(transfer_id, "ringing")
            await publish_transfer(
                runtime.state,
                "ringing",
                transfer_id=transfer_id,
                patient_id=(ctx or {}).get("patient_id"),
                at=runtime.clock(),
            )
        WEBHOOKS.labels(route="voice_after_stream", result="transfer").inc()
        return _twiml(str(response))
    if kind == "pay":
        WEBHOOKS.labels(route="voice_after_stream", result="pay").inc()
        return _twiml(await _pay_twiml(runtime, call_sid, handoff))
    response.hangup()
    WEBHOOKS.labels(route="voice_after_stream", result="hangup").inc()
    return _twiml(str(response))


async def _pay_twiml(runtime: Runtime, call_sid: str, handoff: dict[str, Any]) -> str:
    """The `<Pay>` TwiML from the payments module; a polite goodbye when no hand-off is pending."""
    from agent.pay_handoff import pay_twiml_after_stream

    twiml = await pay_twiml_after_stream(runtime, call_sid)
    if twiml is not None:
        return twiml
    log.error("pay_handoff_missing", call_sid=call_sid)
    p = runtime.policy.practice
    response = VoiceResponse()
    response.say(
        "I'm sorry, I can't take a card payment by phone right now. Please call "
        f"{p.name} at {_spoken_phone(p.callback_number)}. Goodbye."
    )
    response.hangup()
    return str(response)


@router.post("/twilio/voice/whisper/{transfer_id}")
async def whisper(request: Request, transfer_id: str) -> Response:
    form = await _form(request, "voice_whisper")
    runtime = get_runtime(request)
    calls = _calls(runtime)
    task = await calls.transfer_task(transfer_id)
    response = VoiceResponse()
    if task is None:
        response.say("Transfer from the billing assistant. Connecting you now.")
        return _twiml(str(response))
    summary = redact(str(task.get("summary") or ""))[:400]
    response.say(f"Billing call from the automated assistant. {summary} Connecting you now.")
    if await runtime.state.claim(f"voice-transfer-answered:{transfer_id}", 24 * 3600):
        await calls.set_transfer_status(transfer_id, "answered", staff_call_sid=form.get("CallSid"))
        await publish_transfer(
            runtime.state,
            "answered",
            transfer_id=transfer_id,
            patient_id=task.get("patient_id"),
            at=runtime.clock(),
        )
    WEBHOOKS.labels(route="voice_whisper", result="ok").inc()
    return _twiml(str(response))


@router.post("/twilio/voice/transfer-result")
async def transfer_result(request: Request) -> Response:
    form = await _form(request, "voice_transfer_result")
    call_sid = _call_sid(form)
    runtime = get_runtime(request)
    status = form.get("DialCallStatus", "")
    calls = _calls(runtime)
    call = await calls.get(call_sid)
    transfer_id = str((call.handoff or {}).get("transfer_id") or "") if call else ""
    response = VoiceResponse()
    if status not in MISSED_TRANSFER or not transfer_id:
        response.hangup()
        WEBHOOKS.labels(route="voice_transfer_result", result=status or "unknown").inc()
        return _twiml(str(response))
    if await runtime.state.claim(f"voice-transfer-missed:{transfer_id}", 24 * 3600):
        await _missed_transfer(runtime, calls, transfer_id)
    p = runtime.policy.practice
    response.say(
        "I'm sorry, our team couldn't take your call right now. Someone will call you back as soon as "
        f"possible. You can also reach {p.name} at {_spoken_phone(p.callback_number)}. Goodbye."
    )
    response.hangup()
    WEBHOOKS.labels(route="voice_transfer_result", result="missed").inc()
    return _twiml(str(response))


async def _missed_transfer(runtime: Runtime, calls: VoiceCallStore, transfer_id: str) -> None:
    """Nobody answered: the card becomes a callback, and the caller gets a text saying so."""
    ctx = await calls.set_transfer_status(transfer_id, "missed") or {}
    conversation_id = ctx.get("conversation_id")
    conv = await runtime.records.load_conversation(conversation_id) if conversation_id else None
    contact = conv.state.contact if conv else None
    patient_id = ctx.get("patient_id")
    await runtime.records.schedule_callback(
        patient_id=patient_id,
        contact=contact,
        at=None,
        reason="warm transfer not answered",
        conversation_id=conversation_id or "",
    )
    await publish_transfer(
        runtime.state, "missed", transfer_id=transfer_id, patient_id=patient_id, at=runtime.clock()
    )
    if contact:
        p = runtime.policy.practice
        body = (
            f"{p.name}: sorry we missed you just now. Our team will call you back soon, or you can reach us at "
            f"{_spoken_phone(p.callback_number)}. Reply STOP to opt out."
        )
        result = await runtime.outbound_sms.send_sms(
            patient_id=patient_id if conv and conv.state.verified else None,
            to=contact,
            body=body,
            purpose="callback",
            initiated_by="patient_reply",
            conversation_id=conversation_id,
        )
        if not result.sent:
            log.info("transfer_missed_sms_not_sent", transfer_id=transfer_id, reason=result.reason)


def _spoken_phone(e164: str) -> str:
    digits = e164.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 else e164

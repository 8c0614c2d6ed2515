"""The browser softphone's websocket: Twilio Media Streams framing from the browser, the same
voice session as `/twilio/media` behind it.

The browser sends `connected`, `start` (with a customParameters `persona` naming the demo patient
it calls as), 20 ms `media` frames of base64 8 kHz mu-law, `mark` echoes after it played the
agent's audio, and `stop`. The route authenticates the console session (cookie, same origin),
then hands every parsed message to the voice session and sends back whatever the session emits
(`media`, `mark`, `clear`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agent.console.auth import websocket_staff
from agent.console.live import CALLS as CALLS_CHANNEL
from agent.logs import get_logger
from agent.runtime import Runtime
from pms.demo.personas import PERSONAS
from telephony.media_streams import InboundMessage, MediaStreamMessageError, StartEvent, parse_message

log = get_logger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)  # authenticates itself
_CALL_SID = re.compile(r"CA[0-9a-f]{32}")
MAX_BAD_FRAMES = 50


def _session_module() -> Any | None:
    try:
        return importlib.import_module("agent.voice.service")
    except ImportError:
        return None


def session_available() -> bool:
    return _session_module() is not None


@router.websocket("/try/phone/ws")
async def softphone_ws(ws: WebSocket) -> None:
    staff = await websocket_staff(ws)
    if staff is None:
        await ws.close(code=1008, reason="sign in to the console")
        return
    module = _session_module()
    await ws.accept()
    if module is None:
        await ws.close(code=1011, reason="the voice session is not installed in this build")
        return
    log.info("console.softphone_open", user_id=staff.user.user_id)
    await Softphone(ws, module.voice_service(ws.app), staff.username).run()


class Softphone:
    """One browser call: the same `VoiceService.run_call` as `/twilio/media`, with what Twilio's
    webhooks would have done around it (open the conversation for the caller's number, issue the
    single-use stream grant, publish the warm transfer as ringing) done here."""

    def __init__(self, ws: WebSocket, voice: Any, actor: str) -> None:
        self.ws = ws
        self.voice = voice
        self.rt: Runtime = ws.app.state.runtime
        self.actor = actor
        self.call_sid = ""
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._follow: asyncio.Task[None] | None = None

    async def send(self, text: str) -> None:
        if self._closed:
            return
        async with self._send_lock:
            with contextlib.suppress(Exception):
                await self.ws.send_text(text)

    async def close(self, reason: str = "") -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                await self.ws.close(code=1000, reason=reason[:120])

    async def _prepare(self, start: StartEvent) -> StartEvent | None:
        """Open the call as the chosen demo patient and add a fresh grant token to `start`."""
        from agent.routes.twilio_voice import _open_conversation
        from agent.store.voice_calls import VoiceCallStore
        from agent.voice.stream_grants import TOKEN_PARAMETER, StreamGrant

        persona = PERSONAS.get(start.custom_parameters.get("persona", ""))
        if persona is None or not persona.phone or not _CALL_SID.fullmatch(start.call_sid):
            return None
        self.call_sid = start.call_sid
        conversation_id = await _open_conversation(self.rt, persona.phone)
        await VoiceCallStore(self.rt.sessions, self.rt.clock).open_call(
            start.call_sid, direction="inbound", conversation_id=conversation_id
        )
        await self.rt.records.audit(
            "console.softphone_call",
            patient_id=None,
            conversation_id=conversation_id,
            detail={"persona": persona.key, "call_sid": start.call_sid},
            actor=self.actor,
        )
        token = await self.voice.grants.issue(
            StreamGrant(call_sid=start.call_sid, direction="inbound", conversation_id=conversation_id)
        )
        params = {k: v for k, v in start.custom_parameters.items() if k != TOKEN_PARAMETER}
        return replace(start, custom_parameters={**params, TOKEN_PARAMETER: token})

    async def messages(self) -> AsyncIterator[InboundMessage]:
        bad = 0
        try:
            async for text in self.ws.iter_text():
                try:
                    message = parse_message(text)
                except MediaStreamMessageError:
                    bad += 1
                    if bad > MAX_BAD_FRAMES:
                        return
                    continue
                if isinstance(message, StartEvent):
                    prepared = await self._prepare(message)
                    if prepared is None:
                        await self.close("pick a demo patient")
                        return
                    self._follow = asyncio.create_task(self._transcript(message.call_sid))
                    message = prepared
                yield message
        except WebSocketDisconnect:
            return

    async def _transcript(self, call_sid: str) -> None:
        """Show the call's transcript lines (the `live:calls` events of this call) in the browser."""
        async for raw in self.rt.state.subscribe(CALLS_CHANNEL):
            with contextlib.suppress(ValueError, TypeError):
                event = json.loads(raw)
                if event.get("call_id") == call_sid and event.get("event") == "turn" and event.get("text"):
                    await self.send(
                        json.dumps(
                            {"event": "transcript", "speaker": event.get("speaker"), "text": event["text"]}
                        )
                    )

    async def run(self) -> None:
        try:
            result = await self.voice.run_call(self.messages(), self.send, on_stream_end=self._stream_end)
        except Exception as exc:  # one failed call never takes the app down
            log.error("console.softphone_failed", error=type(exc).__name__)
            await self.close("the call failed")
            return
        finally:
            if self._follow is not None:
                self._follow.cancel()
        handoff = await self._after_stream()
        await self.close(handoff or ("refused" if result.refused else "goodbye"))

    async def _stream_end(self) -> None:
        """The session ended the stream after its last audio was played; `run` then closes the
        websocket with a reason the browser shows (Twilio's route closes it here instead)."""

    async def _after_stream(self) -> str:
        """What Twilio's after-stream webhook would do: a transfer rings the staff console."""
        from agent.store.voice_calls import VoiceCallStore
        from agent.voice.live import publish_transfer

        if not self.call_sid:
            return ""
        calls = VoiceCallStore(self.rt.sessions, self.rt.clock)
        call = await calls.get(self.call_sid)
        handoff: dict[str, Any] = (call.handoff if call else None) or {}
        if handoff.get("kind") == "transfer" and handoff.get("transfer_id"):
            transfer_id = str(handoff["transfer_id"])
            if await self.rt.state.claim(f"voice-transfer-ringing:{transfer_id}", 24 * 3600):
                ctx = await calls.set_transfer_status(transfer_id, "ringing")
                await publish_transfer(
                    self.rt.state,
                    "ringing",
                    transfer_id=transfer_id,
                    patient_id=(ctx or {}).get("patient_id"),
                    at=self.rt.clock(),
                )
            return "transferred to staff: the card is on the Transfers page"
        if handoff.get("kind") == "pay":
            return "card payments by keypad need a real phone call (Twilio <Pay>)"
        return ""

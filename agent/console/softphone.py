"""The browser softphone's websocket: Twilio Media Streams framing from the browser, the same
voice session as `/twilio/media` behind it.

The browser sends `connected`, `start` (with a customParameters `persona` naming the demo patient
it calls as), 20 ms `media` frames of base64 8 kHz mu-law, `mark` echoes after it played the
agent's audio, and `stop`. The route authenticates the console session (cookie, same origin),
then hands every parsed message to the voice session and sends back whatever the session emits
(`media`, `mark`, `clear`).
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, WebSocket

from agent.console.auth import websocket_staff
from agent.logs import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)  # authenticates itself


def _session_module() -> Any | None:
    try:
        return importlib.import_module("agent.voice.session")
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
    if module is None:
        await ws.accept()
        await ws.close(code=1011, reason="the voice session is not installed in this build")
        return
    await ws.accept()
    log.info("console.softphone_open", user_id=staff.user.user_id)
    await run_softphone(ws, module, staff.username)


async def run_softphone(ws: WebSocket, module: Any, actor: str) -> None:  # pragma: no cover - filled below
    raise NotImplementedError

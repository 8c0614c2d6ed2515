"""Live call and transfer events for the staff console, over the shared state's pub/sub.

Channels (JSON text messages):
- ``live:calls``: ``{"event": "started"|"turn"|"ended", "call_id", "conversation_id", "at",
  "speaker"?, "text"?}``; ``text`` is the redacted transcript line, ``call_id`` the Twilio CallSid.
- ``live:transfers``: ``{"event": "ringing"|"answered"|"missed", "transfer_id", "patient_id", "at"}``.

Publishing is best effort: a console that is down never affects a call.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from agent.logs import get_logger
from agent.state.base import SharedState

log = get_logger(__name__)

CALLS_CHANNEL = "live:calls"
TRANSFERS_CHANNEL = "live:transfers"


async def _publish(state: SharedState, channel: str, payload: dict[str, object]) -> None:
    try:
        await state.publish(channel, json.dumps(payload, separators=(",", ":")))
    except Exception as exc:
        log.warning("live_publish_failed", channel=channel, error=type(exc).__name__)


async def publish_call(
    state: SharedState,
    event: Literal["started", "turn", "ended"],
    *,
    call_id: str,
    conversation_id: str | None,
    at: datetime,
    speaker: str | None = None,
    text: str | None = None,
) -> None:
    payload: dict[str, object] = {
        "event": event,
        "call_id": call_id,
        "conversation_id": conversation_id,
        "at": at.isoformat(),
    }
    if speaker is not None:
        payload["speaker"] = speaker
    if text is not None:
        payload["text"] = text
    await _publish(state, CALLS_CHANNEL, payload)


async def publish_transfer(
    state: SharedState,
    event: Literal["ringing", "answered", "missed"],
    *,
    transfer_id: str,
    patient_id: str | None,
    at: datetime,
) -> None:
    await _publish(
        state,
        TRANSFERS_CHANNEL,
        {"event": event, "transfer_id": transfer_id, "patient_id": patient_id, "at": at.isoformat()},
    )

"""Single-use, short-lived grants that let one Twilio call open the media websocket.

Every TwiML document that connects a call to `/twilio/media` (the inbound answer, the outbound
human leg, the resume after `<Pay>`) carries a fresh token as a `<Parameter>`; the websocket redeems
it on `start` and refuses the stream without a valid, unused, unexpired one. Grants live in the
shared state, so they work across app replicas.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Literal

from agent.state.base import SharedState
from telephony.twiml import connect_stream

TOKEN_PARAMETER = "bl_token"
DEFAULT_TTL_SECONDS = 60
_PREFIX = "media-grant:"


@dataclass(frozen=True)
class StreamGrant:
    """What the websocket learns from a redeemed token (nothing here is PHI: internal ids only)."""

    call_sid: str
    direction: Literal["inbound", "outbound"]
    conversation_id: str | None = None  # set when resuming a conversation (after <Pay>, after AMD)
    patient_id: str | None = None  # the account an outbound call is about (still verified on the call)
    resume: str | None = None  # a short event the session tells the caller about, e.g. "pay:success"


class StreamGrants:
    def __init__(self, state: SharedState, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._state = state
        self._ttl = ttl_seconds

    async def issue(self, grant: StreamGrant) -> str:
        token = secrets.token_urlsafe(24)
        await self._state.set(_PREFIX + token, json.dumps(asdict(grant)), ttl_seconds=self._ttl)
        return token

    async def redeem(self, token: str | None) -> StreamGrant | None:
        """The grant once; None for a missing, unknown, expired or already used token."""
        if not token or len(token) > 128:
            return None
        if not await self._state.claim(_PREFIX + "used:" + token, self._ttl * 2):
            return None
        raw = await self._state.get(_PREFIX + token)
        if raw is None:
            return None
        await self._state.delete(_PREFIX + token)
        return StreamGrant(**json.loads(raw))


def media_ws_url(public_base_url: str) -> str:
    """`wss://host/twilio/media` from the public https origin (ws:// for a plain-http dev origin)."""
    base = public_base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/twilio/media"
    return "ws://" + base.removeprefix("http://") + "/twilio/media"


async def connect_twiml(grants: StreamGrants, public_base_url: str, grant: StreamGrant) -> str:
    """`<Connect action=/twilio/voice/after-stream><Stream url=…/twilio/media>` with a fresh token."""
    token = await grants.issue(grant)
    return connect_stream(
        media_ws_url(public_base_url),
        action=public_base_url.rstrip("/") + "/twilio/voice/after-stream",
        parameters={TOKEN_PARAMETER: token},
    )

"""An in-memory SMS "carrier" for the embedded default (terminal chat, SMS simulator, demos).

``LocalOutbox`` implements ``SmsSender``: a send is stored in a bounded deque and handed to an optional
async callback (e.g. print to the terminal, push to the simulator page). It mirrors Twilio's STOP block:
a number marked opted out gets the same outcome as Twilio's error 21610, so the agent's suppression
path behaves identically with and without Twilio.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from telephony.sms import OPTED_OUT_ERROR, SmsSendOutcome

_logger = logging.getLogger("telephony.sms_local")

LOCAL_SID_PREFIX = "SMlocal"


@dataclass(frozen=True, slots=True)
class LocalMessage:
    sid: str
    to: str
    from_: str
    body: str
    created_at: datetime


OnLocalSend = Callable[[LocalMessage], Awaitable[None]]


def _local_sid() -> str:
    # Same length as a real Twilio sid (34 chars), recognisable by its prefix.
    return LOCAL_SID_PREFIX + secrets.token_hex(16)[: 34 - len(LOCAL_SID_PREFIX)]


class LocalOutbox:
    """Keeps the last ``maxlen`` "sent" messages in memory and notifies ``on_send`` for each."""

    def __init__(
        self,
        *,
        from_number: str = "+15550100000",
        maxlen: int = 1000,
        on_send: OnLocalSend | None = None,
        opted_out_numbers: Iterable[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be >= 1")
        self.from_number = from_number
        self._messages: deque[LocalMessage] = deque(maxlen=maxlen)
        self._on_send = on_send
        self._opted_out = set(opted_out_numbers)
        self._clock = clock

    async def send(self, to: str, body: str) -> SmsSendOutcome:
        if to in self._opted_out:
            return SmsSendOutcome(
                sent=False,
                sid=None,
                status=None,
                error_code=OPTED_OUT_ERROR,
                error_message="Attempt to send to unsubscribed recipient",
                permanent=True,
                opted_out=True,
            )
        message = LocalMessage(_local_sid(), to, self.from_number, body, self._clock())
        self._messages.append(message)
        if self._on_send is not None:
            try:
                await self._on_send(message)
            except Exception:
                # The message is stored (it was "sent"); a failing display hook must not fail the send.
                _logger.exception("local SMS delivery callback failed for %s", message.sid)
        return SmsSendOutcome(
            sent=True,
            sid=message.sid,
            status="sent",
            error_code=None,
            error_message=None,
            permanent=False,
            opted_out=False,
        )

    def opt_out(self, number: str) -> None:
        """What Twilio does when the number texts STOP: later sends fail with 21610."""
        self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        """What Twilio does on START/UNSTOP."""
        self._opted_out.discard(number)

    @property
    def messages(self) -> list[LocalMessage]:
        """Oldest first, at most ``maxlen``."""
        return list(self._messages)

    def sent_to(self, number: str) -> list[LocalMessage]:
        return [m for m in self._messages if m.to == number]

    def clear(self) -> None:
        self._messages.clear()

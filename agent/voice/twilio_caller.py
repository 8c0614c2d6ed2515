"""A caller that connects to ``/twilio/media`` exactly as Twilio does (for ``balanceline demo call``
and the tests): ``connected`` then ``start`` with the custom parameters of the TwiML, caller audio as
``media`` frames paced at 20 ms (silence when the caller is not talking, as a phone line sends), ``dtmf``
and ``stop``; and a model of Twilio's playback buffer for what the agent sends: ``media`` plays in order
in real time, a ``mark`` is echoed when the audio before it has played, ``clear`` drops the buffer and
echoes every pending mark at once.

What the caller "heard" (``heard_audio``, per frame) and the server's messages with their arrival times
(``events``) are kept for the demo's transcript and for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import websockets

from telephony.audio import FRAME_BYTES, MULAW_SILENCE

FRAME_S = 0.02


@dataclass
class ServerEvent:
    kind: str  # "media", "mark", "clear"
    at: float  # time.monotonic() on arrival
    payload: bytes = b""
    name: str = ""


@dataclass
class CallerStats:
    frames_sent: int = 0
    frames_heard: int = 0
    marks_echoed: int = 0
    clears: int = 0
    first_agent_audio_at: float | None = None
    connected_at: float | None = None


@dataclass
class TwilioMediaCaller:
    """One simulated call leg. ``async with caller.connect(): ...`` or ``await start()`` / ``hangup()``."""

    url: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    call_sid: str = "CA00000000000000000000000000000001"
    stream_sid: str = "MZ00000000000000000000000000000001"
    account_sid: str = "AC00000000000000000000000000000001"
    events: list[ServerEvent] = field(default_factory=list)
    heard: list[tuple[float, bytes]] = field(default_factory=list)  # (played at, frame)
    stats: CallerStats = field(default_factory=CallerStats)
    closed_code: int | None = None

    def __post_init__(self) -> None:
        self._ws: Any = None
        self._seq = 0
        self._chunk = 0
        self._ts_ms = 0
        self._mic: deque[bytes] = deque()
        self._playback: deque[tuple[str, Any]] = deque()  # ("audio", frame) | ("mark", name)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self.agent_audio_event = asyncio.Event()
        self._mic_empty = asyncio.Event()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self, *, open_timeout: float = 10.0) -> None:
        self._ws = await websockets.connect(
            self.url, additional_headers=dict(self.headers), open_timeout=open_timeout, max_size=2**22
        )
        self.stats.connected_at = time.monotonic()
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "sequenceNumber": self._next_seq(),
                "streamSid": self.stream_sid,
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": dict(self.parameters),
                },
            }
        )
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._receive()), loop.create_task(self._clock())]

    async def hangup(self) -> None:
        """The caller hangs up: ``stop``, then the socket closes."""
        if self._ws is None or self._closed.is_set():
            await self._finish()
            return
        with contextlib.suppress(Exception):
            await self._send(
                {
                    "event": "stop",
                    "sequenceNumber": self._next_seq(),
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                }
            )
        await self._finish()

    async def _finish(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._closed.set()

    async def wait_closed(self, within_s: float) -> bool:
        """True when the server closed the stream within ``within_s`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), within_s)
        return self._closed.is_set()

    @property
    def is_closed(self) -> bool:
        return self._closed.is_set()

    # ------------------------------------------------------------------------------------------ caller side

    def say(self, mulaw: bytes) -> float:
        """Queue caller audio (sent in real time after what is already queued); returns its duration (s)."""
        frames = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
        if frames and len(frames[-1]) < FRAME_BYTES:
            frames[-1] = frames[-1] + bytes([MULAW_SILENCE]) * (FRAME_BYTES - len(frames[-1]))
        self._mic.extend(frames)
        return len(frames) * FRAME_S

    async def say_and_wait(self, mulaw: bytes) -> None:
        self.say(mulaw)
        self._mic_empty.clear()
        await self._mic_empty.wait()

    async def dtmf(self, digit: str) -> None:
        await self._send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next_seq(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def send_raw(self, text: str) -> None:
        async with self._send_lock:
            await self._ws.send(text)

    # ------------------------------------------------------------------------------------------ agent side

    def agent_audio_since(self, t: float) -> int:
        """Frames the caller heard after monotonic time ``t``."""
        return sum(1 for at, _ in self.heard if at >= t)

    async def wait_for_quiet(self, quiet_s: float = 0.6, within_s: float = 20.0) -> bool:
        """Until the agent has sent nothing and nothing is left to play for ``quiet_s``."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            last = self.events[-1].at if self.events else 0.0
            if not self._playback and time.monotonic() - last >= quiet_s:
                return True
            if self._closed.is_set():
                return True
            await asyncio.sleep(0.05)
        return False

    async def reply(self, mulaw: bytes, *, within_s: float = 20.0, quiet_s: float = 0.6) -> list[bytes]:
        """Say ``mulaw``, then wait for the agent's answer to start and finish playing; returns the
        frames heard in that answer."""
        before = len(self.heard)
        await self.say_and_wait(mulaw)
        media_before = sum(1 for e in self.events if e.kind == "media")
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and not self._closed.is_set():
            if sum(1 for e in self.events if e.kind == "media") > media_before:
                break
            await asyncio.sleep(0.02)
        await self.wait_for_quiet(quiet_s=quiet_s, within_s=max(0.1, deadline - time.monotonic()))
        return [frame for _, frame in self.heard[before:]]

    async def wait_for_agent_audio(self, within_s: float = 10.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.agent_audio_event.wait(), within_s)
        return self.agent_audio_event.is_set()

    # ------------------------------------------------------------------------------------------ internals

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._ws.send(json.dumps(message, separators=(",", ":")))

    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                now = time.monotonic()
                event = msg.get("event")
                if event == "media":
                    frame = base64.b64decode(msg["media"]["payload"])
                    self.events.append(ServerEvent("media", now, payload=frame))
                    for i in range(0, len(frame), FRAME_BYTES):
                        self._playback.append(("audio", frame[i : i + FRAME_BYTES]))
                    if self.stats.first_agent_audio_at is None:
                        self.stats.first_agent_audio_at = now
                    self.agent_audio_event.set()
                elif event == "mark":
                    name = msg["mark"]["name"]
                    self.events.append(ServerEvent("mark", now, name=name))
                    if self._playback:
                        self._playback.append(("mark", name))
                    else:
                        await self._echo_mark(name)
                elif event == "clear":
                    self.events.append(ServerEvent("clear", now))
                    self.stats.clears += 1
                    pending = [item for kind, item in self._playback if kind == "mark"]
                    self._playback.clear()
                    for name in pending:
                        await self._echo_mark(name)
        except websockets.ConnectionClosed as exc:
            self.closed_code = exc.rcvd.code if exc.rcvd is not None else None
        finally:
            if self._ws is not None and self._ws.close_code is not None:
                self.closed_code = self.closed_code or self._ws.close_code
            self._closed.set()

    async def _echo_mark(self, name: str) -> None:
        self.stats.marks_echoed += 1
        with contextlib.suppress(Exception):
            await self._send(
                {
                    "event": "mark",
                    "sequenceNumber": self._next_seq(),
                    "streamSid": self.stream_sid,
                    "mark": {"name": name},
                }
            )

    async def _clock(self) -> None:
        """Every 20 ms: one caller frame out, one agent frame played (and the marks behind it echoed)."""
        silence = bytes([MULAW_SILENCE]) * FRAME_BYTES
        next_tick = time.monotonic()
        while not self._closed.is_set():
            frame = self._mic.popleft() if self._mic else silence
            if not self._mic:
                self._mic_empty.set()
            self._chunk += 1
            self._ts_ms += 20
            try:
                await self._send(
                    {
                        "event": "media",
                        "sequenceNumber": self._next_seq(),
                        "streamSid": self.stream_sid,
                        "media": {
                            "track": "inbound",
                            "chunk": str(self._chunk),
                            "timestamp": str(self._ts_ms),
                            "payload": base64.b64encode(frame).decode("ascii"),
                        },
                    }
                )
            except Exception:
                return
            self.stats.frames_sent += 1
            played = False
            while self._playback:
                kind, item = self._playback[0]
                if kind == "mark":
                    self._playback.popleft()
                    await self._echo_mark(item)
                    continue
                if played:
                    break
                self._playback.popleft()
                self.heard.append((time.monotonic(), item))
                self.stats.frames_heard += 1
                played = True
            next_tick += FRAME_S
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

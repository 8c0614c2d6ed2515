"""A loopback Deepgram live-transcription server (``/v1/listen`` websocket) for tests and benchmarks.

Wire protocol, as the real service presents it to a client (rules-and-protocols.md §2.7, rule 62-63):

- Upgrade ``GET /v1/listen?model=…&encoding=mulaw&sample_rate=8000&…`` with ``Authorization: Token <key>``
  (or ``Bearer <token>``); a wrong or missing key → HTTP 401. HTTP 400 when ``encoding``/``sample_rate``
  are not ``mulaw``/``8000``, ``channels`` is not 1, ``model`` is missing, or a boolean parameter is not
  the lowercase string ``true``/``false`` (older SDKs sent ``True`` and got a 400).
- Client → server: binary frames are audio; text frames are ``{"type": "KeepAlive" | "Finalize" |
  "CloseStream"}``. Anything else gets an ``Error`` message (``SchemaError``).
- Server → client: ``Results``, ``SpeechStarted`` (``vad_events=true``), ``UtteranceEnd``
  (``utterance_end_ms`` set), ``Metadata`` (after ``CloseStream``, then close 1000).
- No audio and no KeepAlive for ``idle_timeout_s`` (10 s at Deepgram) → close 1011 (NET-0001).

"Recognition" — the deterministic protocol agreed with the tests and benchmarks:

- Audio is cut into 20 ms frames (160 mu-law bytes). A frame is speech when its mean absolute 16-bit
  sample is ≥ ``speech_level`` (default 300); mu-law silence (0xFF) and quiet noise are not.
- The first speech frame starts an utterance: ``SpeechStarted`` with its stream timestamp. Every
  ``interim_every_ms`` of speech sends an interim ``Results`` (``is_final`` false) revealing one more
  word of the utterance's scripted transcript.
- ``endpointing`` ms (the query parameter, or the ``endpointing_ms`` override) of non-speech audio ends
  the utterance; ``final_latency_ms`` later (wall clock: the injected recognition latency) comes
  ``Results`` with ``is_final`` and ``speech_final`` true and the whole transcript, words spread evenly
  between onset and end (``split_finals`` > 1 sends it as that many ``is_final`` segments, only the
  last with ``speech_final``, as Deepgram does for long utterances). ``endpointing=false`` sends no
  ``speech_final``: the final (``is_final`` only) then waits for the utterance end below.
- ``utterance_end_ms`` of non-speech after the last word → ``UtteranceEnd`` (always after the final).
- Transcripts come from ``script`` in order, one per utterance, shared by all connections; when it
  runs out, ``default_transcript``.
- ``Finalize`` finalises the utterance in progress now (``from_finalize`` true, ``speech_final`` false);
  ``CloseStream`` does the same, then sends ``Metadata`` and closes with 1000.

``speech_audio(ms)`` and ``silence_audio(ms)`` build audio for this protocol.

Fault injection: ``reject_next`` refuses that many upgrades with 503; ``drop_after_bytes`` closes the
next connection with 1011 once it has received that many audio bytes; ``ignore_close_stream`` never
answers CloseStream. Every connection is recorded in
``connections`` (query, headers, audio bytes, control messages, keep-alive times, close details).

Run stand-alone (benchmarks): ``python -m tests.fakes.deepgram_server --port 0 --final-latency-ms 150``
prints ``PORT <n>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from telephony.audio import float32_to_ulaw, ulaw_to_pcm16
from tests.fakes.ws_server import LoopbackWsServer

FRAME_BYTES = 160  # 20 ms at 8 kHz
_BOOLEAN_PARAMS = ("interim_results", "vad_events", "smart_format", "punctuate", "diarize", "numerals")
_CLOSE = object()


def speech_audio(ms: int, hz: float = 300.0) -> bytes:
    """Audio the fake hears as speech: a steady tone (8 kHz mu-law), ``ms`` long."""
    t = np.arange(ms * 8) / 8000
    return float32_to_ulaw(0.3 * np.sin(2 * np.pi * hz * t))


def speech_frames(mulaw: bytes, level: float = 300.0) -> list[bool]:
    """Per whole 20 ms frame: does the fake hear speech in it (mean absolute 16-bit sample >= level)?"""
    whole = len(mulaw) - len(mulaw) % FRAME_BYTES
    if not whole:
        return []
    pcm = np.frombuffer(ulaw_to_pcm16(mulaw[:whole]), dtype=np.int16).reshape(-1, FRAME_BYTES)
    return [bool(x >= level) for x in np.abs(pcm.astype(np.int32)).mean(axis=1)]


def silence_audio(ms: int) -> bytes:
    """Mu-law digital silence, ``ms`` long."""
    return b"\xff" * (ms * 8)


@dataclass
class DeepgramConnection:
    """What one client connection did (read by tests)."""

    query: dict[str, list[str]]
    headers: dict[str, str]
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    audio_bytes: int = 0
    audio_messages: int = 0
    controls: list[str] = field(default_factory=list)
    keepalive_times: list[float] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    close_code: int | None = None
    client_closed_first: bool | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class _Recogniser:
    """The per-connection utterance tracker of the recognition protocol above."""

    def __init__(self, server: DeepgramFake, query: Mapping[str, list[str]], request_id: str) -> None:
        self.server = server
        self.request_id = request_id
        endpointing = (query.get("endpointing") or ["10"])[0]
        if server.endpointing_ms is not None:
            self.endpointing_ms: int | None = server.endpointing_ms
        else:
            self.endpointing_ms = None if endpointing == "false" else int(endpointing)
        ue = query.get("utterance_end_ms")
        self.utterance_end_ms = int(ue[0]) if ue else None
        self.vad_events = (query.get("vad_events") or ["false"])[0] == "true"
        self.interim = (query.get("interim_results") or ["false"])[0] == "true"
        self.model = (query.get("model") or ["base"])[0]
        self.rest = b""
        self.pos_ms = 0
        self.in_speech = False
        self.onset_ms = 0
        self.last_speech_ms = 0
        self.speech_since_interim = 0
        self.words_shown = 0
        self.transcript = ""
        self.final_sent = True
        self.ue_pending_from: int | None = None

    def feed(self, audio: bytes) -> list[tuple[float, dict[str, Any]]]:
        out: list[tuple[float, dict[str, Any]]] = []
        data = self.rest + audio
        whole = len(data) - len(data) % FRAME_BYTES
        self.rest = data[whole:]
        for speech in speech_frames(data[:whole], self.server.speech_level):
            self._frame(speech, out)
        return out

    def _frame(self, speech: bool, out: list[tuple[float, dict[str, Any]]]) -> None:
        start = self.pos_ms
        self.pos_ms += 20
        now = time.monotonic()
        if speech:
            if not self.in_speech:
                self.in_speech = True
                self.final_sent = False
                self.onset_ms = start
                self.words_shown = 0
                self.speech_since_interim = 0
                self.transcript = self.server.next_transcript()
                self.ue_pending_from = None
                if self.vad_events:
                    out.append((now, {"type": "SpeechStarted", "channel": [0], "timestamp": start / 1000}))
            self.last_speech_ms = self.pos_ms
            self.speech_since_interim += 20
            if self.interim and self.speech_since_interim >= self.server.interim_every_ms:
                self.speech_since_interim = 0
                words = self.transcript.split()
                if self.words_shown < len(words) - 1:
                    self.words_shown += 1
                    text = " ".join(words[: self.words_shown])
                    out.append((now, self._results(text, is_final=False, speech_final=False)))
            return
        if self.in_speech:
            silence = self.pos_ms - self.last_speech_ms
            if self.endpointing_ms is not None and silence >= self.endpointing_ms:
                out.extend(self._final(speech_final=True))
            elif (
                self.endpointing_ms is None
                and self.utterance_end_ms is not None
                and silence >= self.utterance_end_ms
            ):
                out.extend(self._final(speech_final=False))
        if (
            self.ue_pending_from is not None
            and self.utterance_end_ms is not None
            and self.pos_ms - self.ue_pending_from >= self.utterance_end_ms
        ):
            out.append(
                (
                    now,
                    {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": self.ue_pending_from / 1000},
                )
            )
            self.ue_pending_from = None

    def _final(
        self, *, speech_final: bool, from_finalize: bool = False
    ) -> list[tuple[float, dict[str, Any]]]:
        self.in_speech = False
        self.final_sent = True
        self.ue_pending_from = self.last_speech_ms
        due = time.monotonic() + self.server.final_latency_ms / 1000
        words = self.transcript.split()
        parts = max(1, min(self.server.split_finals, len(words)))
        size = -(-len(words) // parts) if words else 0
        chunks = [" ".join(words[i : i + size]) for i in range(0, len(words), size)] if words else [""]
        out = []
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            message = self._results(
                chunk, is_final=True, speech_final=speech_final and last, from_finalize=from_finalize
            )
            out.append((due, message))
        return out

    def finalize(self) -> list[tuple[float, dict[str, Any]]]:
        if not self.in_speech:
            return []
        self.last_speech_ms = self.pos_ms
        return self._final(speech_final=False, from_finalize=True)

    def _results(
        self, text: str, *, is_final: bool, speech_final: bool, from_finalize: bool = False
    ) -> dict[str, Any]:
        start = self.onset_ms / 1000
        end = (self.last_speech_ms if is_final else self.pos_ms) / 1000
        duration = max(0.02, end - start)
        words = text.split()
        step = duration / max(1, len(words))
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(duration, 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {
                "alternatives": [
                    {
                        "transcript": text,
                        "confidence": 0.97 if text else 0.0,
                        "words": [
                            {
                                "word": w.strip(".,?!").lower(),
                                "start": round(start + i * step, 3),
                                "end": round(start + (i + 1) * step, 3),
                                "confidence": 0.97,
                                "punctuated_word": w,
                            }
                            for i, w in enumerate(words)
                        ],
                    }
                ]
            },
            "metadata": {
                "request_id": self.request_id,
                "model_info": {"name": f"general-{self.model}", "version": "fake", "arch": self.model},
                "model_uuid": "00000000-0000-0000-0000-000000000000",
            },
        }


class DeepgramFake(LoopbackWsServer):
    """The server. Configure with attributes (any time; a connection reads them as it goes)."""

    thread_name = "deepgram-fake"

    def __init__(
        self,
        *,
        api_key: str = "dg-test-key",
        script: list[str] | None = None,
        default_transcript: str = "hello",
        final_latency_ms: float = 0.0,
        endpointing_ms: int | None = None,
        interim_every_ms: int = 300,
        speech_level: float = 300.0,
        idle_timeout_s: float = 10.0,
        split_finals: int = 1,
        record_sent: bool = True,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.script: deque[str] = deque(script or [])
        self.default_transcript = default_transcript
        self.final_latency_ms = final_latency_ms
        self.endpointing_ms = endpointing_ms
        self.interim_every_ms = interim_every_ms
        self.speech_level = speech_level
        self.idle_timeout_s = idle_timeout_s
        self.split_finals = split_finals
        self.record_sent = record_sent
        self.reject_next = 0
        self.drop_after_bytes: int | None = None
        self.ignore_close_stream = False  # a server that never finishes the stream
        self.connections: list[DeepgramConnection] = []
        self.refused: list[tuple[int, str]] = []
        self.on_event: Callable[[str], None] | None = None  # ("final") with the send time (benchmarks)

    def next_transcript(self) -> str:
        return self.script.popleft() if self.script else self.default_transcript

    # ------------------------------------------------------------------ handshake
    def check_request(
        self, path: str, query: Mapping[str, list[str]], headers: Headers
    ) -> tuple[int, str] | None:
        refusal = self._refusal(path, query, headers)
        if refusal is not None:
            self.refused.append(refusal)
        return refusal

    def _refusal(self, path: str, query: Mapping[str, list[str]], headers: Headers) -> tuple[int, str] | None:
        if path != "/v1/listen":
            return 404, "not found"
        if self.reject_next > 0:
            self.reject_next -= 1
            return 503, "Service Unavailable"
        auth = headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or key != self.api_key:
            return 401, '{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}'
        one = {k: v[0] for k, v in query.items()}
        if one.get("encoding") != "mulaw" or one.get("sample_rate") != "8000":
            return (
                400,
                '{"err_code":"Bad Request","err_msg":"this fake serves encoding=mulaw&sample_rate=8000"}',
            )
        if one.get("channels", "1") != "1":
            return 400, '{"err_code":"Bad Request","err_msg":"channels must be 1"}'
        if not one.get("model"):
            return 400, '{"err_code":"Bad Request","err_msg":"model is required by this fake"}'
        for name in _BOOLEAN_PARAMS:
            if name in one and one[name] not in ("true", "false"):
                return 400, f'{{"err_code":"Bad Request","err_msg":"{name} must be true or false"}}'
        return None

    # ------------------------------------------------------------------ connection
    async def handler(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        record = DeepgramConnection(
            query=parse_qs(urlsplit(request.path).query),
            headers={k.lower(): v for k, v in request.headers.raw_items()},
        )
        self.connections.append(record)
        recogniser = _Recogniser(self, record.query, record.request_id)
        outbox: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()
        sender = asyncio.create_task(self._send_loop(connection, outbox, record))
        last_activity = [time.monotonic()]
        watchdog = asyncio.create_task(self._watchdog(connection, last_activity))
        closing = False
        try:
            async for message in connection:
                last_activity[0] = time.monotonic()
                if isinstance(message, bytes):
                    record.audio_bytes += len(message)
                    record.audio_messages += 1
                    drop = self.drop_after_bytes
                    if drop is not None and record.audio_bytes >= drop:
                        self.drop_after_bytes = None
                        await connection.close(1011, "injected failure")
                        break
                    for item in recogniser.feed(message):
                        outbox.put_nowait(item)
                    continue
                kind = _control_type(message)
                record.controls.append(kind)
                if kind == "KeepAlive":
                    record.keepalive_times.append(time.monotonic())
                elif kind == "Finalize":
                    for item in recogniser.finalize():
                        outbox.put_nowait(item)
                elif kind == "CloseStream" and not closing and not self.ignore_close_stream:
                    closing = True
                    for item in recogniser.finalize():
                        outbox.put_nowait(item)
                    outbox.put_nowait((time.monotonic(), self._metadata(record, recogniser)))
                    outbox.put_nowait((time.monotonic(), _CLOSE))
                elif kind not in ("KeepAlive", "Finalize", "CloseStream"):
                    outbox.put_nowait(
                        (
                            time.monotonic(),
                            {
                                "type": "Error",
                                "variant": "SchemaError",
                                "description": "could not parse the client message",
                                "message": str(message)[:200],
                            },
                        )
                    )
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            if closing and not sender.done():
                with contextlib.suppress(TimeoutError, ConnectionClosed):
                    await asyncio.wait_for(sender, 5)
            sender.cancel()
            record.closed_at = time.monotonic()
            record.close_code = connection.close_code
            record.client_closed_first = bool(connection.protocol.close_rcvd_then_sent)

    async def _send_loop(
        self,
        connection: ServerConnection,
        outbox: asyncio.Queue[tuple[float, Any]],
        record: DeepgramConnection,
    ) -> None:
        while True:
            due, message = await outbox.get()
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if message is _CLOSE:
                await connection.close(1000)
                return
            if self.record_sent:
                record.sent.append(message)
            try:
                await connection.send(json.dumps(message))
            except ConnectionClosed:
                return
            if self.on_event is not None and message.get("is_final"):
                self.on_event("final")

    async def _watchdog(self, connection: ServerConnection, last_activity: list[float]) -> None:
        while True:
            remaining = last_activity[0] + self.idle_timeout_s - time.monotonic()
            if remaining <= 0:
                await connection.close(
                    1011,
                    "Deepgram did not receive audio data or a text message within the timeout window. "
                    "See https://dpgr.am/net0001",
                )
                return
            await asyncio.sleep(min(remaining, 0.5))

    @staticmethod
    def _metadata(record: DeepgramConnection, recogniser: _Recogniser) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": record.request_id,
            "sha256": "0" * 64,
            "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "duration": recogniser.pos_ms / 1000,
            "channels": 1,
            "models": ["00000000-0000-0000-0000-000000000000"],
            "model_info": {},
        }


def _control_type(message: str) -> str:
    try:
        data = json.loads(message)
    except ValueError:
        return "<invalid>"
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else "<invalid>"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="loopback Deepgram live server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="dg-test-key")
    parser.add_argument("--final-latency-ms", type=float, default=0.0)
    parser.add_argument("--endpointing-ms", type=int, default=None)
    parser.add_argument("--transcript", default="hello")
    args = parser.parse_args(argv)
    fake = DeepgramFake(
        api_key=args.api_key,
        default_transcript=args.transcript,
        final_latency_ms=args.final_latency_ms,
        endpointing_ms=args.endpointing_ms,
        record_sent=False,
    )

    asyncio.run(fake.serve_here(args.port, lambda port: print(f"PORT {port}", flush=True)))


if __name__ == "__main__":
    main()

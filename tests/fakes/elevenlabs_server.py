"""A loopback ElevenLabs TTS input-streaming server (``/v1/text-to-speech/{voice_id}/stream-input``).

Wire protocol, as the real service presents it to a client (rules-and-protocols.md §2.8; elevenlabs-python
types ``InitializeConnection``, ``SendText``, ``CloseConnection``, ``AudioOutput``, ``FinalOutput``):

- Upgrade ``GET /v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=ulaw_8000&…``. The key
  goes in the ``xi-api-key`` header and/or the first message's ``xi-api-key`` field. A wrong header key
  → HTTP 401; a wrong (or missing) key in the first message → an error message and close 1008. This fake
  only produces ``ulaw_8000`` (anything else → HTTP 400).
- Client → server: first ``{"text": " ", "voice_settings": {…}, "generation_config":
  {"chunk_length_schedule": […]}, "xi-api-key": …}``; then ``{"text": "… "}`` chunks (each should end with
  one space; a chunk that does not is recorded in ``violations``), ``"flush": true`` to generate what is
  buffered now; ``{"text": ""}`` ends the input: the rest is generated, then ``{"isFinal": true}`` and
  close 1000.
- Server → client: ``{"audio": "<base64 mu-law, no header>", "alignment": {"chars", "charStartTimesMs",
  "charDurationsMs"}, "normalizedAlignment": {…}}`` per chunk.
- Generation starts when the buffer reaches the current ``chunk_length_schedule`` step, on ``flush``, or
  at the end of input; ``first_audio_latency_ms`` (the injected synthesis latency) passes before each
  generation's first chunk. Audio is ``ms_per_char`` of tone per character (silence for spaces), sent in
  ``chunk_ms`` pieces, ``chunk_interval_ms`` apart.
- No message for ``inactivity_timeout`` seconds (query parameter, default 20) → close 1008.

Fault injection: ``reject_next`` refuses that many upgrades with 503; ``error_after_chunks`` sends an
error message and closes 1011 after that many audio chunks on the next connection. Each connection is
recorded in ``connections`` (voice, query, headers, the first message, texts, flushes, chunks sent, who
closed and when).

Run stand-alone (benchmarks): ``python -m tests.fakes.elevenlabs_server --port 0 --first-audio-ms 120``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from telephony.audio import float32_to_ulaw
from tests.fakes.ws_server import LoopbackWsServer

_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/stream-input$")
DEFAULT_SCHEDULE = (120, 160, 250, 290)


@dataclass
class ElevenLabsConnection:
    voice_id: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    first_message: dict[str, Any] | None = None
    texts: list[str] = field(default_factory=list)
    texts_seen: int = 0
    flushes: int = 0
    end_of_input: bool = False
    violations: list[str] = field(default_factory=list)
    chunks_sent: int = 0
    audio_bytes_sent: int = 0
    final_sent: bool = False
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    close_code: int | None = None
    client_closed_first: bool | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


def tone_for(text: str, ms_per_char: float) -> np.ndarray:
    """The fake's 'speech' for ``text``: a tone per character, silence for spaces (8 kHz float32)."""
    per_char = max(1, round(ms_per_char * 8))
    pieces = []
    t = np.arange(per_char) / 8000
    for ch in text:
        if ch.isspace():
            pieces.append(np.zeros(per_char, dtype=np.float32))
        else:
            hz = 220 + (ord(ch) % 24) * 15
            pieces.append((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


class ElevenLabsFake(LoopbackWsServer):
    thread_name = "elevenlabs-fake"

    def __init__(
        self,
        *,
        api_key: str = "el-test-key",
        first_audio_latency_ms: float = 0.0,
        ms_per_char: float = 60.0,
        chunk_ms: int = 200,
        chunk_interval_ms: float = 0.0,
        record_texts: bool = True,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.first_audio_latency_ms = first_audio_latency_ms
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.chunk_interval_ms = chunk_interval_ms
        self.record_texts = record_texts
        self.reject_next = 0
        self.error_after_chunks: int | None = None
        self.connections: list[ElevenLabsConnection] = []
        self.refused: list[tuple[int, str]] = []
        self.on_event: Callable[[str], None] | None = None  # "text" / "audio": first of a socket (benchmarks)

    # ------------------------------------------------------------------ handshake
    def check_request(
        self, path: str, query: Mapping[str, list[str]], headers: Headers
    ) -> tuple[int, str] | None:
        refusal = self._refusal(path, query, headers)
        if refusal is not None:
            self.refused.append(refusal)
        return refusal

    def _refusal(self, path: str, query: Mapping[str, list[str]], headers: Headers) -> tuple[int, str] | None:
        if not _PATH.match(path):
            return 404, "not found"
        if self.reject_next > 0:
            self.reject_next -= 1
            return 503, "Service Unavailable"
        key = headers.get("xi-api-key")
        if key is not None and key != self.api_key:
            return 401, '{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}'
        if (query.get("output_format") or [""])[0] != "ulaw_8000":
            return 400, '{"detail":"this fake only produces output_format=ulaw_8000"}'
        return None

    # ------------------------------------------------------------------ connection
    async def handler(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        parts = urlsplit(request.path)
        match = _PATH.match(parts.path)
        assert match is not None
        record = ElevenLabsConnection(
            voice_id=match.group(1),
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in request.headers.raw_items()},
        )
        self.connections.append(record)
        inactivity = float(record.param("inactivity_timeout") or 20)
        generations: asyncio.Queue[str | None] = asyncio.Queue()
        generator = asyncio.create_task(self._generate_loop(connection, generations, record))
        try:
            first = await self._recv_json(connection, inactivity)
            record.first_message = first
            if first is None or first.get("text") != " ":
                await self._fail(connection, "the first message must be {'text': ' ', ...}", 1008)
                return
            if record.headers.get("xi-api-key") is None and first.get("xi-api-key") != self.api_key:
                await self._fail(connection, "Invalid API key", 1008, error="invalid_api_key")
                return
            schedule = list(
                (first.get("generation_config") or {}).get("chunk_length_schedule") or DEFAULT_SCHEDULE
            )
            step = 0
            buffer = ""
            while True:
                message = await self._recv_json(connection, inactivity)
                if message is None:
                    await connection.close(
                        1008,
                        f"Have not received a new text input within the timeout of {inactivity:g} seconds.",
                    )
                    return
                text = message.get("text")
                if not isinstance(text, str):
                    await self._fail(connection, "every message needs a text field", 1008)
                    return
                if text == "":
                    record.end_of_input = True
                    if buffer.strip():
                        generations.put_nowait(buffer)
                    generations.put_nowait(None)
                    await generator
                    return
                if self.on_event is not None and not record.texts_seen:
                    self.on_event("text")
                record.texts_seen += 1
                if self.record_texts:
                    record.texts.append(text)
                if not text.endswith(" "):
                    record.violations.append(f"text chunk does not end with a space: {text[-10:]!r}")
                buffer += text
                if message.get("flush"):
                    record.flushes += 1
                    if buffer.strip():
                        generations.put_nowait(buffer)
                    buffer = ""
                elif len(buffer) >= schedule[min(step, len(schedule) - 1)]:
                    generations.put_nowait(buffer)
                    buffer = ""
                    step += 1
        except ConnectionClosed:
            pass
        finally:
            generator.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await generator
            record.closed_at = time.monotonic()
            record.close_code = connection.close_code
            record.client_closed_first = bool(connection.protocol.close_rcvd_then_sent)

    @staticmethod
    async def _recv_json(connection: ServerConnection, idle_s: float) -> dict[str, Any] | None:
        try:
            raw = await asyncio.wait_for(connection.recv(), idle_s)
        except TimeoutError:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("message is not a JSON object")
        return data

    @staticmethod
    async def _fail(
        connection: ServerConnection, message: str, code: int, error: str = "invalid_request"
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            await connection.send(json.dumps({"message": message, "error": error, "code": code}))
            await connection.close(code, message[:120])

    async def _generate_loop(
        self,
        connection: ServerConnection,
        generations: asyncio.Queue[str | None],
        record: ElevenLabsConnection,
    ) -> None:
        while True:
            text = await generations.get()
            if text is None:
                await connection.send(
                    json.dumps(
                        {"audio": None, "isFinal": True, "normalizedAlignment": None, "alignment": None}
                    )
                )
                record.final_sent = True
                await connection.close(1000)
                return
            if self.first_audio_latency_ms:
                await asyncio.sleep(self.first_audio_latency_ms / 1000)
            await self._speak(connection, text.strip(), record)

    async def _speak(self, connection: ServerConnection, text: str, record: ElevenLabsConnection) -> None:
        mulaw = float32_to_ulaw(tone_for(text, self.ms_per_char))
        chunk_bytes = self.chunk_ms * 8
        char_bytes = max(1, round(self.ms_per_char * 8))
        for offset in range(0, len(mulaw), chunk_bytes):
            piece = mulaw[offset : offset + chunk_bytes]
            first_char = -(-offset // char_bytes)
            last_char = min(len(text), -(-(offset + len(piece)) // char_bytes))
            chars = list(text[first_char:last_char])
            alignment = {
                "chars": chars,
                "charStartTimesMs": [
                    round((i * char_bytes - offset) / 8) for i in range(first_char, last_char)
                ],
                "charDurationsMs": [round(self.ms_per_char)] * len(chars),
            }
            await connection.send(
                json.dumps(
                    {
                        "audio": base64.b64encode(piece).decode(),
                        "alignment": alignment,
                        "normalizedAlignment": alignment,
                    }
                )
            )
            record.chunks_sent += 1
            if self.on_event is not None and record.chunks_sent == 1:
                self.on_event("audio")
            record.audio_bytes_sent += len(piece)
            if self.error_after_chunks is not None and record.chunks_sent >= self.error_after_chunks:
                self.error_after_chunks = None
                await self._fail(
                    connection, "An internal server error occurred.", 1011, error="internal_error"
                )
                return
            if self.chunk_interval_ms:
                await asyncio.sleep(self.chunk_interval_ms / 1000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="loopback ElevenLabs stream-input server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="el-test-key")
    parser.add_argument("--first-audio-ms", type=float, default=0.0)
    parser.add_argument("--ms-per-char", type=float, default=60.0)
    parser.add_argument("--chunk-ms", type=int, default=200)
    parser.add_argument("--chunk-interval-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    fake = ElevenLabsFake(
        api_key=args.api_key,
        first_audio_latency_ms=args.first_audio_ms,
        ms_per_char=args.ms_per_char,
        chunk_ms=args.chunk_ms,
        chunk_interval_ms=args.chunk_interval_ms,
        record_texts=False,
    )
    asyncio.run(fake.serve_here(args.port, lambda port: print(f"PORT {port}", flush=True)))


if __name__ == "__main__":
    main()

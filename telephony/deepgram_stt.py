"""Deepgram live STT (deepgram-sdk v7, ``AsyncDeepgramClient.listen.v1.connect``) as a ``SpeechToText``.

One ``DeepgramSpeechToText`` per call. The socket is opened for Twilio audio as rule 62 asks:
``encoding=mulaw, sample_rate=8000, channels=1``, ``interim_results``, ``endpointing``,
``utterance_end_ms``, ``vad_events``, ``smart_format``, ``redact=pci`` and the practice name (plus any
other terms) as ``keyterm`` for Nova-3 models, ``keywords`` for older ones. Booleans go as the strings
``"true"``/``"false"``. ``DEEPGRAM_URL`` (``base_url``) points the SDK at another host (tests use a
loopback server speaking the same protocol).

Events (``telephony.speech``):

- ``SpeechStarted`` on Deepgram's ``SpeechStarted`` (VAD onset), or on the first interim/final text of
  an utterance if no VAD event came first: the barge-in trigger (rule 60). One per utterance.
- ``Partial`` for each interim result: the utterance so far (finalised segments + the interim).
- ``Final`` + ``UtteranceEnd`` once per utterance: the ``is_final`` segments joined, emitted at
  ``speech_final`` (Deepgram's endpointing) or, if that never comes, at Deepgram's ``UtteranceEnd``.
  While ``end_silence_ms`` is above ``endpointing_ms`` (the session raises it while a caller reads
  digits or a date) ``speech_final`` is ignored and the utterance ends at ``UtteranceEnd``
  (``utterance_end_ms`` of no words) instead.

Connection life:

- The socket opens when ``events()`` is first iterated (or earlier with ``await start()``, which raises
  ``SpeechProviderError`` if it cannot within ``connect_timeout_s``); a refused connection makes
  ``events()`` raise ``SpeechProviderError`` and the session switches to local STT. ``feed`` never
  blocks: audio is queued (bounded to ``max_buffer_ms``; the oldest is dropped) and sent by a task.
- With no audio to send for ``keepalive_interval_s`` (hold, <Pay>, transfer), ``{"type":"KeepAlive"}``
  goes out so Deepgram does not close the socket after 10 s (rule 63).
- A socket lost mid-call is reopened up to ``max_reconnects`` times (text already finalised is
  emitted first; stream times stay monotonic across sockets). When that fails, ``events()`` raises
  ``SpeechProviderError`` after the events already received.
- ``close()`` sends the queued audio, then ``{"type":"CloseStream"}``, waits (≤ ``close_timeout_s``)
  for Deepgram's last results and its close, emits what is pending and ends ``events()``.

Logs carry the Deepgram request id and counts only, never transcript text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from deepgram import AsyncDeepgramClient
from deepgram.environment import DeepgramClientEnvironment
from deepgram.listen.v1.socket_client import AsyncV1SocketClient
from deepgram.listen.v1.types import (
    ListenV1Error,
    ListenV1Metadata,
    ListenV1Results,
    ListenV1SpeechStarted,
    ListenV1UtteranceEnd,
)

from telephony.speech import Final, Partial, SpeechEvent, SpeechProviderError, SpeechStarted, UtteranceEnd

__all__ = ["DeepgramSpeechToText", "deepgram_environment"]

_logger = logging.getLogger("telephony.deepgram_stt")
_BYTES_PER_MS = 8  # 8 kHz mu-law: one byte per sample
_END = object()
_HEALTHY_SOCKET_S = 10.0  # a socket that lived this long resets the reconnect budget


def deepgram_environment(base_url: str | None) -> DeepgramClientEnvironment:
    """The SDK environment for ``DEEPGRAM_URL`` (ws/wss or http/https origin); Deepgram's own when unset."""
    if not base_url:
        return DeepgramClientEnvironment.PRODUCTION
    base = base_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    secure = scheme in ("wss", "https")
    ws = ("wss://" if secure else "ws://") + rest
    http = ("https://" if secure else "http://") + rest
    return DeepgramClientEnvironment(base=http, production=ws, agent=ws, agent_rest=http)


class DeepgramSpeechToText:
    """``SpeechToText`` over one Deepgram live socket per call."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = "nova-3",
        keyterms: Sequence[str] = (),
        endpointing_ms: int = 400,
        utterance_end_ms: int = 1000,
        smart_format: bool = True,
        redact: Sequence[str] = ("pci",),
        keepalive_interval_s: float = 4.0,
        connect_timeout_s: float = 5.0,
        close_timeout_s: float = 3.0,
        max_reconnects: int = 2,
        reconnect_backoff_s: float = 0.2,
        max_buffer_ms: int = 5000,
        client: AsyncDeepgramClient | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("Deepgram needs an API key (DEEPGRAM_API_KEY)")
        if utterance_end_ms < 1000:
            raise ValueError("Deepgram requires utterance_end_ms >= 1000")
        self._client = client or AsyncDeepgramClient(
            api_key=api_key, environment=deepgram_environment(base_url)
        )
        self._options = self._connect_options(
            model=model,
            keyterms=keyterms,
            endpointing_ms=endpointing_ms,
            utterance_end_ms=utterance_end_ms,
            smart_format=smart_format,
            redact=redact,
        )
        self._endpointing_ms = endpointing_ms
        self._end_silence_ms = endpointing_ms
        self._keepalive_interval_s = keepalive_interval_s
        self._connect_timeout_s = connect_timeout_s
        self._close_timeout_s = close_timeout_s
        self._max_reconnects = max_reconnects
        self._reconnect_backoff_s = reconnect_backoff_s
        self._max_buffer_bytes = max_buffer_ms * _BYTES_PER_MS

        self._audio: deque[bytes] = deque()
        self._audio_bytes = 0
        self._wake = asyncio.Event()
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._connected: asyncio.Future[None] | None = None
        self._closing = False
        self._closed = False
        self._failed = False
        self._close_stream_sent = False
        self._socket_opened_at: float | None = None

        # stream-time bookkeeping (ms of audio sent on earlier sockets)
        self._sent_bytes = 0
        self._offset_ms = 0
        # the utterance in progress
        self._segments: list[str] = []
        self._confidences: list[float] = []
        self._last_end_ms = 0
        self._in_utterance = False

        # counters for tests, metrics and logs (no content)
        self.connects = 0
        self.keepalives_sent = 0
        self.dropped_bytes = 0
        self.request_ids: list[str] = []

    @staticmethod
    def _connect_options(
        *,
        model: str,
        keyterms: Sequence[str],
        endpointing_ms: int,
        utterance_end_ms: int,
        smart_format: bool,
        redact: Sequence[str],
    ) -> dict[str, Any]:
        terms = [t.strip() for t in keyterms if t and t.strip()]
        options: dict[str, Any] = {
            "model": model,
            "encoding": "mulaw",
            "sample_rate": 8000,
            "channels": 1,
            "interim_results": "true",
            "endpointing": endpointing_ms,
            "utterance_end_ms": utterance_end_ms,
            "vad_events": "true",
            "smart_format": "true" if smart_format else "false",
        }
        if redact:
            options["redact"] = list(redact)
        if terms:
            # keyterm prompting is Nova-3 only; older models take keywords (rule 62)
            options["keyterm" if model.startswith("nova-3") else "keywords"] = terms
        return options

    # -------------------------------------------------------------------------------------- settings

    @property
    def end_silence_ms(self) -> int:
        """Silence that ends a turn. Above ``endpointing_ms``, turns end at Deepgram's UtteranceEnd."""
        return self._end_silence_ms

    @end_silence_ms.setter
    def end_silence_ms(self, value: int) -> None:
        if value < 100:
            raise ValueError("end_silence_ms below 100 ms would split words")
        self._end_silence_ms = value

    # -------------------------------------------------------------------------------------- lifecycle

    def _ensure_running(self) -> asyncio.Future[None]:
        if self._connected is None:
            self._connected = asyncio.get_running_loop().create_future()
            self._runner = asyncio.create_task(self._run(), name="deepgram-stt")
        return self._connected

    async def start(self) -> None:
        """Open the socket now; ``SpeechProviderError`` if Deepgram cannot be reached or refuses us.

        Optional: ``events()`` opens it too (a failure then surfaces as the iterator's error)."""
        connected = self._ensure_running()
        assert self._runner is not None
        try:
            await asyncio.wait_for(asyncio.shield(connected), self._connect_timeout_s)
        except TimeoutError:
            self._failed = True
            self._runner.cancel()
            raise SpeechProviderError("Deepgram did not accept the connection in time") from None

    def feed(self, mulaw: bytes) -> None:
        if self._closing:
            raise RuntimeError("feed after close")
        if not mulaw or self._failed:
            return
        self._audio.append(mulaw)
        self._audio_bytes += len(mulaw)
        while self._audio_bytes > self._max_buffer_bytes and len(self._audio) > 1:
            dropped = self._audio.popleft()
            self._audio_bytes -= len(dropped)
            self.dropped_bytes += len(dropped)
        self._wake.set()

    async def events(self) -> AsyncIterator[SpeechEvent]:
        if not self._closing:
            self._ensure_running()
        while True:
            item = await self._events.get()
            if item is _END:
                return
            if isinstance(item, SpeechProviderError):
                raise item
            yield item

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        runner = self._runner
        if runner is None:
            self._finish()
            return
        try:
            await asyncio.wait_for(asyncio.shield(runner), self._close_timeout_s + 1.0)
        except TimeoutError:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        except Exception:  # the runner already reported its failure through events()
            pass
        self._finish()

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            self._flush()
            self._events.put_nowait(_END)

    # -------------------------------------------------------------------------------------- the socket

    async def _run(self) -> None:
        attempts = 0
        try:
            while True:
                try:
                    finished = await self._one_socket()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self._connected is not None and not self._connected.done():
                        error = _provider_error("connect", exc)
                        self._connected.set_exception(error)
                        self._connected.exception()  # retrieved: events() reports it when start() wasn't used
                        self._events.put_nowait(error)
                        self._failed = True
                        return
                    if self._closing:
                        return
                    if self._socket_lived_s() >= _HEALTHY_SOCKET_S:
                        attempts = 0  # a long-lived socket dropped: a fresh series of retries
                    attempts += 1
                    self._flush()  # what was already recognised reaches the session
                    if attempts > self._max_reconnects:
                        _logger.warning("deepgram stream failed (%s); giving up", type(exc).__name__)
                        self._failed = True
                        self._events.put_nowait(_provider_error("stream", exc))
                        return
                    _logger.warning(
                        "deepgram socket lost (%s); reconnect %d of %d",
                        type(exc).__name__,
                        attempts,
                        self._max_reconnects,
                    )
                    await asyncio.sleep(self._reconnect_backoff_s * attempts)
                    continue
                if finished or self._closing:
                    return
                if self._socket_lived_s() >= _HEALTHY_SOCKET_S:
                    attempts = 0
                attempts += 1  # the server closed a healthy socket without being asked to
                self._flush()
                if attempts > self._max_reconnects:
                    self._failed = True
                    self._events.put_nowait(SpeechProviderError("Deepgram closed the stream"))
                    return
                await asyncio.sleep(self._reconnect_backoff_s * attempts)
        finally:
            if self._connected is not None and not self._connected.done():
                self._connected.set_exception(SpeechProviderError("Deepgram connection abandoned"))
                self._connected.exception()  # mark retrieved: start() may have timed out already

    async def _one_socket(self) -> bool:
        """One socket's life. True once CloseStream was sent and the server closed after it."""
        self._offset_ms = self._sent_bytes // _BYTES_PER_MS
        self._close_stream_sent = False
        self._socket_opened_at = None
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(self._connect_timeout_s):
                conn = await stack.enter_async_context(self._client.listen.v1.connect(**self._options))
            self._socket_opened_at = asyncio.get_running_loop().time()
            self.connects += 1
            if self._connected is not None and not self._connected.done():
                self._connected.set_result(None)
            receiver = asyncio.create_task(self._receive_loop(conn))
            sender = asyncio.create_task(self._send_loop(conn))
            try:
                done, _pending = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when this task is cancelled (close() gave up waiting): no orphaned tasks
                for task in (receiver, sender):
                    task.cancel()
                for task in (receiver, sender):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            first = receiver if receiver in done else sender
            error = None if first.cancelled() else first.exception()
            if self._close_stream_sent:
                return True  # the stream was being closed: whatever ended it, we are done
            if error is not None:
                raise error
            return False  # the server closed a socket we did not ask to close

    def _socket_lived_s(self) -> float:
        opened = self._socket_opened_at
        return 0.0 if opened is None else asyncio.get_running_loop().time() - opened

    async def _receive_loop(self, conn: AsyncV1SocketClient) -> None:
        async for message in conn:
            self._handle(message)

    async def _send_loop(self, conn: AsyncV1SocketClient) -> None:
        """Audio as it is fed; KeepAlive when there is none; CloseStream once closing and drained."""
        while True:
            if self._audio:
                chunks = list(self._audio)
                self._audio.clear()
                self._audio_bytes = 0
                data = b"".join(chunks)
                await conn.send_media(data)
                self._sent_bytes += len(data)
                continue
            if self._closing:
                await conn.send_close_stream()
                self._close_stream_sent = True
                # Deepgram flushes its last results, sends Metadata and closes the socket.
                await asyncio.sleep(self._close_timeout_s)
                raise TimeoutError("Deepgram did not close the stream after CloseStream")
            self._wake.clear()
            try:
                # ``asyncio.timeout``, not ``wait_for``: on 3.11 ``wait_for`` wraps the wait in a new
                # task, and this runs once per fed frame.
                async with asyncio.timeout(self._keepalive_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                await conn.send_keep_alive()
                self.keepalives_sent += 1

    # -------------------------------------------------------------------------------------- messages

    def _handle(self, message: Any) -> None:
        if isinstance(message, ListenV1Results):
            self._on_results(message)
        elif isinstance(message, ListenV1SpeechStarted):
            self._start_utterance(self._offset_ms + int(message.timestamp * 1000))
        elif isinstance(message, ListenV1UtteranceEnd):
            end_ms = self._offset_ms + int(message.last_word_end * 1000)
            if self._segments:
                self._last_end_ms = max(self._last_end_ms, end_ms)
                self._flush()
            elif self._in_utterance:
                self._in_utterance = False
                self._events.put_nowait(UtteranceEnd(at_ms=max(end_ms, self._last_end_ms)))
        elif isinstance(message, ListenV1Metadata):
            self.request_ids.append(message.request_id)
        elif isinstance(message, ListenV1Error):
            _logger.warning("deepgram error message: %s", message.variant)

    def _on_results(self, message: ListenV1Results) -> None:
        alternatives = message.channel.alternatives
        text = alternatives[0].transcript.strip() if alternatives else ""
        start_ms = self._offset_ms + int(message.start * 1000)
        if text:
            self._start_utterance(start_ms)
        if not message.is_final:
            if text:
                self._events.put_nowait(Partial(" ".join([*self._segments, text])))
            return
        if text:
            self._segments.append(text)
            self._confidences.append(float(alternatives[0].confidence))
            self._last_end_ms = self._offset_ms + int((message.start + message.duration) * 1000)
        holding = self._end_silence_ms > self._endpointing_ms  # wait for UtteranceEnd instead
        if message.speech_final and self._segments and not holding:
            self._flush()

    def _start_utterance(self, at_ms: int) -> None:
        if not self._in_utterance:
            self._in_utterance = True
            self._events.put_nowait(SpeechStarted(at_ms=at_ms))

    def _flush(self) -> None:
        """Emit the utterance in progress as one Final + UtteranceEnd."""
        if self._segments:
            text = " ".join(self._segments)
            confidence = sum(self._confidences) / len(self._confidences)
            self._events.put_nowait(Final(text, round(confidence, 3)))
            self._segments.clear()
            self._confidences.clear()
            self._in_utterance = True
        if self._in_utterance:
            self._in_utterance = False
            self._events.put_nowait(UtteranceEnd(at_ms=self._last_end_ms))


def _provider_error(stage: str, exc: BaseException) -> SpeechProviderError:
    status = getattr(exc, "status_code", None)
    detail = f"HTTP {status}" if status is not None else type(exc).__name__
    error = SpeechProviderError(f"Deepgram {stage} failed: {detail}")
    error.__cause__ = exc
    return error

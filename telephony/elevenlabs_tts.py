"""ElevenLabs streaming TTS over the websocket input-streaming API as a ``TextToSpeech``.

Why not the ``elevenlabs`` SDK: its only input-streaming client (``text_to_speech.convert_realtime``)
is synchronous (``websockets.sync``), which would block the event loop that paces every call's audio.
So this speaks the documented protocol with ``websockets`` directly (rules-and-protocols.md §2.8):

- ``{ELEVENLABS_URL or wss://api.elevenlabs.io}/v1/text-to-speech/{voice_id}/stream-input?model_id=…&
  output_format=ulaw_8000&inactivity_timeout=…``, key in the ``xi-api-key`` header and the first message.
- First message ``{"text": " ", "voice_settings": {…}, "generation_config": {"chunk_length_schedule":
  […]}, "xi-api-key": …}``; then the text, each chunk ending in one space and sent with ``"flush": true``
  (the session hands over whole sentences: each one's audio should start now, not wait for the
  schedule); then ``{"text": ""}`` (end of input).
- Audio arrives base64 in ``audio`` fields (``ulaw_8000``: raw 8 kHz mu-law, no header, ready for Twilio)
  and the stream ends with ``{"isFinal": true}``.

One socket per ``synthesize`` / ``stream`` call (one turn or sentence), so barge-in is simple:
stopping iteration (``aclose()`` on the generator, or cancelling the consuming task) closes that socket
at once and ElevenLabs stops generating. A ``ElevenLabsTextToSpeech`` holds only configuration and can
serve every call in the process; ``for_call()`` gives one call a ``WarmElevenLabs`` that opens (and
initialises) the next sentence's socket while the current one plays, so no sentence waits for a
handshake. Text goes through ``text_normalise.speakable`` first (money, dates,
phone numbers, digit strings), like the local TTS.

Failures (connect refused or timed out, bad key, an error message, a socket that ends without
``isFinal``) raise ``SpeechProviderError``; the session falls back to the local TTS for that turn.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.protocol import State

from telephony.speech import SpeechProviderError
from telephony.text_normalise import speakable

__all__ = ["DEFAULT_ELEVENLABS_URL", "ElevenLabsTextToSpeech", "WarmElevenLabs"]

_logger = logging.getLogger("telephony.elevenlabs_tts")
DEFAULT_ELEVENLABS_URL = "wss://api.elevenlabs.io"


async def _one(text: str) -> AsyncIterator[str]:
    yield text


class ElevenLabsTextToSpeech:
    """``TextToSpeech`` over ElevenLabs input streaming, ``ulaw_8000``."""

    def __init__(
        self,
        *,
        api_key: str,
        voice_id: str,
        base_url: str | None = None,
        model_id: str = "eleven_flash_v2_5",
        stability: float = 0.5,
        similarity_boost: float = 0.75,
        speed: float = 1.0,
        chunk_length_schedule: Sequence[int] = (50, 90, 120, 150),
        inactivity_timeout_s: int = 20,
        connect_timeout_s: float = 5.0,
        close_timeout_s: float = 0.5,
        normalise: bool = True,
    ) -> None:
        if not api_key:
            raise ValueError("ElevenLabs needs an API key (ELEVENLABS_API_KEY)")
        if not voice_id:
            raise ValueError("ElevenLabs needs a voice id (ELEVENLABS_VOICE_ID)")
        if any(not 50 <= n <= 500 for n in chunk_length_schedule):
            raise ValueError("chunk_length_schedule items must be 50..500")
        self._api_key = api_key
        self._voice_id = voice_id
        self._base = _ws_origin(base_url or DEFAULT_ELEVENLABS_URL)
        self._model_id = model_id
        self._voice_settings = {"stability": stability, "similarity_boost": similarity_boost, "speed": speed}
        self._schedule = list(chunk_length_schedule)
        self._inactivity_timeout_s = inactivity_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._close_timeout_s = close_timeout_s
        self._normalise = normalise

    @property
    def url(self) -> str:
        query = urlencode(
            {
                "model_id": self._model_id,
                "output_format": "ulaw_8000",
                "inactivity_timeout": self._inactivity_timeout_s,
            }
        )
        return f"{self._base}/v1/text-to-speech/{quote(self._voice_id, safe='')}/stream-input?{query}"

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """8 kHz mu-law chunks for ``text`` as ElevenLabs streams them."""
        return self.stream(_one(text))

    def for_call(self) -> WarmElevenLabs:
        """One call's view of this provider, with the next sentence's socket opened ahead of time."""
        return WarmElevenLabs(self)

    async def stream(
        self, texts: AsyncIterable[str], *, socket: ClientConnection | None = None
    ) -> AsyncIterator[bytes]:
        """Audio for text that is still being written (a turn streamed sentence by sentence).

        ``socket``: one already opened by ``open_socket`` (its first message sent); else one is opened."""
        socket = socket or await self.open_socket()
        sender = asyncio.create_task(self._send_texts(socket, texts), name="elevenlabs-send")
        sender.add_done_callback(lambda task: _close_if_failed(task, socket))
        try:
            try:
                async for raw in socket:
                    data = _decode(raw)
                    audio = data.get("audio")
                    if audio:
                        yield _audio(audio)
                    if data.get("isFinal"):
                        return
                    if not audio and (data.get("error") or data.get("message")):
                        _logger.warning("elevenlabs error message: %s", data.get("error") or "unspecified")
                        raise SpeechProviderError(f"ElevenLabs error: {data.get('error') or 'unspecified'}")
            except ConnectionClosed as exc:
                _raise_input_failure(sender)
                code = exc.rcvd.code if exc.rcvd else "no close frame"
                raise SpeechProviderError(f"ElevenLabs connection lost ({code})") from exc
            _raise_input_failure(sender)
            raise SpeechProviderError(f"ElevenLabs closed the stream without isFinal ({socket.close_code})")
        finally:
            sender.cancel()
            # Barge-in lands here too (aclose / task cancel): the close frame goes out now and
            # ElevenLabs stops generating; waiting for its reply is capped by close_timeout_s.
            await socket.close()

    async def open_socket(self) -> ClientConnection:
        """A connected socket with the first message (settings, key) sent: ready for text."""
        socket = await self._connect()
        first: dict[str, Any] = {
            "text": " ",
            "voice_settings": self._voice_settings,
            "generation_config": {"chunk_length_schedule": self._schedule},
            "xi-api-key": self._api_key,
        }
        try:
            await socket.send(json.dumps(first))
        except ConnectionClosed as exc:
            raise SpeechProviderError("ElevenLabs closed the socket before the first message") from exc
        return socket

    @property
    def spare_max_age_s(self) -> float:
        """How long an unused socket stays usable: ElevenLabs closes it after ``inactivity_timeout``."""
        return max(1.0, self._inactivity_timeout_s - 5.0)

    async def _connect(self) -> ClientConnection:
        try:
            return await connect(
                self.url,
                additional_headers={"xi-api-key": self._api_key},
                open_timeout=self._connect_timeout_s,
                close_timeout=self._close_timeout_s,
                max_size=None,
            )
        except InvalidStatus as exc:
            raise SpeechProviderError(f"ElevenLabs connect failed: HTTP {exc.response.status_code}") from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SpeechProviderError(f"ElevenLabs connect failed: {type(exc).__name__}") from exc

    async def _send_texts(self, socket: ClientConnection, texts: AsyncIterable[str]) -> None:
        async for text in texts:
            spoken = (speakable(text) if self._normalise else text).strip()
            if spoken:
                await socket.send(json.dumps({"text": spoken + " ", "flush": True}))
        await socket.send(json.dumps({"text": ""}))


class WarmElevenLabs:
    """One call's ElevenLabs (``TextToSpeech``): still one socket per sentence, but each sentence takes a
    socket opened and initialised in the background while the previous one played, and opens the next.

    A spare older than ``spare_max_age_s`` (ElevenLabs would have closed it for inactivity), closed, or
    that failed to open is replaced by a fresh connect at use, whose failure raises as usual. ``warm()``
    refreshes a stale spare ahead of time (the session calls it when the caller's turn ends);
    ``aclose()`` closes the spare when the call ends.
    """

    def __init__(self, tts: ElevenLabsTextToSpeech) -> None:
        self._tts = tts
        self._spare: asyncio.Task[ClientConnection] | None = None
        self._spare_at = 0.0
        self._closed = False

    def warm(self) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        if self._spare is not None and loop.time() - self._spare_at < self._tts.spare_max_age_s:
            return
        self._discard()
        self._spare_at = loop.time()
        self._spare = loop.create_task(self._tts.open_socket(), name="elevenlabs-spare")
        self._spare.add_done_callback(_retrieve)

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        return self._stream(text)

    async def _stream(self, text: str) -> AsyncIterator[bytes]:
        socket = await self._take()
        async for audio in self._tts.stream(_one(text), socket=socket):
            yield audio

    async def _take(self) -> ClientConnection:
        spare, self._spare = self._spare, None
        socket: ClientConnection | None = None
        if spare is not None:
            fresh = asyncio.get_running_loop().time() - self._spare_at < self._tts.spare_max_age_s
            if fresh and (not spare.done() or spare.exception() is None):
                with contextlib.suppress(SpeechProviderError):
                    socket = await spare
            else:
                _close_spare(spare)
        if socket is not None and socket.state is not State.OPEN:
            socket = None
        if socket is None:
            socket = await self._tts.open_socket()
        self.warm()  # the next sentence's socket
        return socket

    def _discard(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            _close_spare(spare)

    async def aclose(self) -> None:
        self._closed = True
        self._discard()


def _retrieve(task: asyncio.Task[ClientConnection]) -> None:
    if not task.cancelled():
        task.exception()  # a failed spare is replaced at use; never "exception was never retrieved"


def _close_spare(spare: asyncio.Task[ClientConnection]) -> None:
    if not spare.done():
        spare.cancel()
    elif not spare.cancelled() and spare.exception() is None:
        _background.add(task := asyncio.ensure_future(spare.result().close()))
        task.add_done_callback(_background.discard)


def _ws_origin(base_url: str) -> str:
    base = base_url.rstrip("/")
    scheme, sep, rest = base.partition("://")
    if not sep:
        raise ValueError(f"ELEVENLABS_URL must be a URL, got {base_url!r}")
    if scheme in ("https", "wss"):
        return "wss://" + rest
    if scheme in ("http", "ws"):
        return "ws://" + rest
    raise ValueError(f"ELEVENLABS_URL must be ws(s) or http(s), got {base_url!r}")


def _audio(b64: str) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SpeechProviderError("ElevenLabs sent audio that is not base64") from exc


def _close_if_failed(sender: asyncio.Task[None], socket: ClientConnection) -> None:
    """The text source failed (e.g. the brain): end the socket so the audio loop stops waiting."""
    if not sender.cancelled() and sender.exception() is not None:
        _background.add(task := asyncio.ensure_future(socket.close()))
        task.add_done_callback(_background.discard)


def _raise_input_failure(sender: asyncio.Task[None]) -> None:
    """Re-raise the text source's own error (not a provider failure) if that is what ended the stream."""
    if sender.done() and not sender.cancelled():
        error = sender.exception()
        if isinstance(error, ConnectionClosed):
            return
        if error is not None:
            raise error


_background: set[asyncio.Future[None]] = set()


def _decode(raw: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SpeechProviderError("ElevenLabs sent a message that is not JSON") from exc
    if not isinstance(data, dict):
        raise SpeechProviderError("ElevenLabs sent a message that is not a JSON object")
    return data

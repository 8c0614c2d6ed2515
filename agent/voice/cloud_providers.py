"""Cloud speech from settings: Deepgram live STT and/or ElevenLabs streaming TTS, local speech behind them.

``cloud_speech_providers(settings, local)`` is called by ``providers.make_speech_providers`` when
``DEEPGRAM_API_KEY`` or ``ELEVENLABS_API_KEY`` is set. Whatever is not configured stays local (e.g.
Deepgram STT with the hibari voice). VAD stays local (``local.vad_factory``, silero) either way. ``local`` is the fallback the
session switches to when a cloud provider fails: a Deepgram socket that cannot be opened (or is lost
beyond its reconnects) surfaces as ``SpeechProviderError`` from ``events()``, an ElevenLabs failure from
``synthesize``, and the session swaps in the local engine for the rest of the call.

Deepgram is given the practice's name (and legal name) plus a few billing words as key terms.
"""

from __future__ import annotations

from typing import Any

from agent.settings import Settings
from agent.voice.providers import SpeechProviders
from policies.config import load_policy
from telephony.speech import SpeechToText, TextToSpeech

BILLING_TERMS = ("copay", "deductible", "payment plan", "statement", "insurance")


def practice_keyterms(settings: Settings) -> list[str]:
    practice = load_policy(settings.policy_file).practice
    names = [practice.name, *([practice.legal_name] if practice.legal_name else [])]
    return list(dict.fromkeys([*names, *BILLING_TERMS]))


def cloud_speech_providers(settings: Settings, local: SpeechProviders) -> SpeechProviders:

    stt_factory = local.stt_factory
    tts: TextToSpeech = local.tts
    names: list[str] = []
    if settings.deepgram_api_key is not None:
        from telephony.deepgram_stt import DeepgramSpeechToText

        key = settings.deepgram_api_key.get_secret_value()
        url = settings.deepgram_url
        terms = practice_keyterms(settings)

        clients: list[Any] = []  # one SDK client for every call (building one loads TLS certificates)

        def deepgram() -> SpeechToText:
            if not clients:
                from deepgram import AsyncDeepgramClient

                from telephony.deepgram_stt import deepgram_environment

                clients.append(AsyncDeepgramClient(api_key=key, environment=deepgram_environment(url)))
            return DeepgramSpeechToText(api_key=key, base_url=url, keyterms=terms, client=clients[0])

        stt_factory = deepgram
        names.append("deepgram")
    if settings.elevenlabs_api_key is not None:
        from telephony.elevenlabs_tts import ElevenLabsTextToSpeech

        if not settings.elevenlabs_voice_id:
            raise ValueError("ELEVENLABS_API_KEY is set but ELEVENLABS_VOICE_ID is not")
        tts = ElevenLabsTextToSpeech(
            api_key=settings.elevenlabs_api_key.get_secret_value(),
            voice_id=settings.elevenlabs_voice_id,
            base_url=settings.elevenlabs_url,
        )
        names.append("elevenlabs")
    return SpeechProviders(
        name="+".join(names) or local.name,
        stt_factory=stt_factory,
        vad_factory=local.vad_factory,
        tts=tts,
        fallback=local,
    )

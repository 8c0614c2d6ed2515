"""A call on cloud speech: the real Deepgram (deepgram-sdk) and ElevenLabs (websocket) clients against the
loopback vendors, chosen from settings by ``cloud_speech_providers``, with the scripted local speech behind
them as the fallback. What the caller hears and what the vendors received is asserted, never internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from agent.settings import Settings
from agent.voice.cloud_providers import cloud_speech_providers
from agent.voice.providers import SpeechProviders
from agent.voice.service import install_voice_service
from pms.demo.personas import PERSONAS
from policies import messages
from tests.fakes.deepgram_server import DeepgramFake
from tests.fakes.elevenlabs_server import ElevenLabsFake
from tests.fakes.twilio_media import scripted_providers
from tests.voice.conftest import FAST, VoiceApp

EMILY_PHONE = PERSONAS["prompt_payer"].phone or ""
DG_KEY = "dg-test-key"
EL_KEY = "el-test-key"


@pytest.fixture
def vendors() -> Iterator[tuple[DeepgramFake, ElevenLabsFake]]:
    with DeepgramFake(api_key=DG_KEY) as dg, ElevenLabsFake(api_key=EL_KEY, ms_per_char=20) as el:
        yield dg, el


def _cloud(
    va: VoiceApp, dg: DeepgramFake, el: ElevenLabsFake, *, dg_key: str, el_key: str
) -> SpeechProviders:
    values: dict[str, Any] = {
        "DEEPGRAM_API_KEY": dg_key,
        "DEEPGRAM_URL": dg.url,
        "ELEVENLABS_API_KEY": el_key,
        "ELEVENLABS_VOICE_ID": "voice-ava",
        "ELEVENLABS_URL": el.url,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    providers = cloud_speech_providers(settings, scripted_providers(va.book, tts=va.tts))
    install_voice_service(va.app, providers=providers, config=FAST)
    return providers


async def _until_closed(dg: DeepgramFake) -> None:
    async with asyncio.timeout(5):
        while not dg.connections or dg.connections[-1].closed_at is None:  # noqa: ASYNC110 - other thread
            await asyncio.sleep(0.02)


async def test_a_call_runs_on_deepgram_and_elevenlabs(
    voice_app: VoiceApp, vendors: tuple[DeepgramFake, ElevenLabsFake]
) -> None:
    va = voice_app
    dg, el = vendors
    providers = _cloud(va, dg, el, dg_key=DG_KEY, el_key=EL_KEY)
    assert providers.name == "deepgram+elevenlabs" and providers.fallback is not None
    dg.script.append("What do I owe?")
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    greeting_sockets = len(el.connections)
    answer = await caller.reply(va.book.speech("What do I owe?"))
    assert answer, "no spoken answer to the caller's question"
    await caller.hangup()
    await _until_closed(dg)
    # greeting and answer were synthesised by ElevenLabs (never the local voice), as ulaw_8000
    assert va.tts.spoken == []
    texts = [t for conn in el.connections for t in conn.texts]
    assert "Maple Grove Family Dental" in texts[0]
    assert len(el.connections) > greeting_sockets
    assert {conn.param("output_format") for conn in el.connections} == {"ulaw_8000"}
    policy = va.runtime.policy
    for text in texts:  # the caller was never verified: nothing about the debt
        lint = messages.lint(text, verified=False, policy=policy, channel="voice")
        assert not [v for v in lint if v.rule == "debt_before_verification"], text
    # Deepgram heard the call with the practice name as a key term, and was closed with CloseStream
    conn = dg.connections[0]
    assert "Maple Grove Family Dental" in conn.query["keyterm"]
    assert conn.audio_bytes > 0 and conn.controls[-1] == "CloseStream"


async def test_refused_cloud_speech_falls_back_to_local_speech_mid_call(
    voice_app: VoiceApp, vendors: tuple[DeepgramFake, ElevenLabsFake]
) -> None:
    va = voice_app
    dg, el = vendors
    _cloud(va, dg, el, dg_key="revoked", el_key="revoked")
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio()  # the greeting, in the local voice after ElevenLabs refused
    await caller.wait_for_quiet()
    assert va.tts.spoken and "Maple Grove Family Dental" in va.tts.spoken[0]
    spoken = len(va.tts.spoken)
    answer = await caller.reply(va.book.speech("What do I owe?"))  # heard by the local STT now
    assert answer and len(va.tts.spoken) > spoken
    await caller.hangup()
    assert [status for status, _ in dg.refused] and {s for s, _ in dg.refused} == {401}
    assert el.refused and {s for s, _ in el.refused} == {401}

"""One call end to end on generated audio through the offline speech stack (no scripted speech):
hibari speaks the caller's line, the app hears it with silero VAD + Whisper tiny.en, answers with
hibari, and hands the call to staff."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent.voice.providers import load_speech_providers
from agent.voice.service import install_voice_service
from pms.demo.personas import PERSONAS
from tests.voice.conftest import FAST, VoiceApp

EMILY_PHONE = PERSONAS["prompt_payer"].phone or ""


async def test_a_spoken_request_for_a_person_is_understood_and_transferred(voice_app: VoiceApp) -> None:
    va = voice_app
    providers = await load_speech_providers(va.settings)
    install_voice_service(va.app, providers=providers, config=FAST)
    caller_voice = providers.tts  # the same offline voice plays the caller
    line = b"".join([c async for c in caller_voice.synthesize("Can I talk to a real person, please?")])
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio(30.0), "no greeting"
    await asyncio.sleep(1.0)
    greeting_frames = len(caller.heard)
    assert greeting_frames > 25  # real synthesised speech is playing to the caller…
    await caller.say_and_wait(line)  # …who talks over it
    assert await caller.wait_closed(60.0), "the agent should hand the call to staff and close the stream"
    assert len(caller.heard) > greeting_frames  # the transfer line was spoken before the stream closed
    cards = (await va.http.get("/api/transfers", headers={"Authorization": "Bearer test-token"})).json()
    assert len(cards) == 1
    calls = await va.runtime.records.list_staff_tasks(status=None, kind="transfer")
    conv = await va.runtime.records.load_conversation(str(calls[0]["conversation_id"]))
    assert conv is not None
    said = " ".join(t.text.lower() for t in conv.turns if t.speaker == "patient")
    assert "person" in said, said
    assert any(e.kind == "clear" for e in caller.events)  # the greeting was interrupted

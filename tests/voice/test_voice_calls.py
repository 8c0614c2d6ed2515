"""Calls over the real media websocket with a Twilio-like caller and scripted speech vendors."""

from __future__ import annotations

from pms.demo.personas import PERSONAS
from policies import messages
from tests.voice.conftest import VoiceApp

EMILY = PERSONAS["prompt_payer"]
EMILY_PHONE = EMILY.phone or ""


def _spoken_before_verification(va: VoiceApp) -> list[str]:
    out: list[str] = []
    for sentence in va.tts.spoken:
        if "you're verified" in sentence.lower():
            break
        out.append(sentence)
    return out


async def test_balance_question_verifies_identity_before_saying_anything_about_the_debt(
    voice_app: VoiceApp,
) -> None:
    va = voice_app
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    await caller.reply(va.book.speech("What do I owe?"))
    await caller.reply(va.book.speech("Emily Carter, April 12th 1988"))
    print(va.tts.spoken)
    before = _spoken_before_verification(va)
    assert before and len(before) < len(va.tts.spoken), va.tts.spoken
    policy = va.runtime.policy
    for sentence in before:
        lint = messages.lint(sentence, verified=False, policy=policy, channel="voice")
        assert not [v for v in lint if v.rule == "debt_before_verification"], sentence
    assert any("two hundred and forty dollars" in s for s in va.tts.spoken), va.tts.spoken

"""Calls over the real media websocket with a Twilio-like caller and scripted speech vendors.

What matters to callers is asserted on what they hear (the agent's synthesised sentences and the
frames the caller's playback buffer actually played), never on internal calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest

from agent.voice.live import CALLS_CHANNEL
from agent.voice.service import install_voice_service, voice_service
from agent.voice.stream_grants import TOKEN_PARAMETER, StreamGrant
from agent.voice.twilio_caller import TwilioMediaCaller
from pms.demo.personas import PERSONAS
from policies import messages
from tests.fakes.twilio_media import ScriptedSpeechToText, new_caller, scripted_providers
from tests.voice.conftest import FAST, VoiceApp

EMILY = PERSONAS["prompt_payer"]
EMILY_PHONE = EMILY.phone or ""


def _spoken_before_verification(va: VoiceApp) -> list[str]:
    out: list[str] = []
    for sentence in va.tts.spoken:
        if "you're verified" in sentence.lower():
            break
        out.append(sentence)
    return out


async def _collect(va: VoiceApp, channel: str, into: list[dict[str, object]]) -> None:
    async for raw in va.runtime.state.subscribe(channel):
        into.append(json.loads(raw) | {"_seen": time.monotonic()})


async def test_balance_question_verifies_identity_before_saying_anything_about_the_debt(
    voice_app: VoiceApp,
) -> None:
    va = voice_app
    live: list[dict[str, object]] = []
    listener = asyncio.create_task(_collect(va, CALLS_CHANNEL, live))
    await asyncio.sleep(0.05)
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    greeting = va.tts.spoken[0]
    assert "Maple Grove Family Dental" in greeting
    assert "automated assistant" in greeting and "may be recorded" in greeting
    await caller.reply(va.book.speech("What do I owe?"))
    await caller.reply(va.book.speech("Emily Carter, April 12th 1988"))
    before = _spoken_before_verification(va)
    assert before and len(before) < len(va.tts.spoken), va.tts.spoken
    for sentence in before:
        lint = messages.lint(sentence, verified=False, policy=va.runtime.policy, channel="voice")
        assert not [v for v in lint if v.rule == "debt_before_verification"], sentence
    assert any("two hundred and forty dollars" in s for s in va.tts.spoken), va.tts.spoken
    await caller.hangup()
    for _ in range(100):
        if any(e["event"] == "ended" for e in live):
            break
        await asyncio.sleep(0.05)
    listener.cancel()
    events = [e["event"] for e in live]
    assert events[0] == "started" and events[-1] == "ended", events
    turns = [e for e in live if e["event"] == "turn"]
    assert {"patient", "agent"} <= {t["speaker"] for t in turns}
    assert all("1988" not in str(t.get("text")) for t in turns), turns  # transcript lines are redacted
    # greeting audio left before the conversation was even loaded (ordering, not timing)
    assert caller.stats.first_agent_audio_at is not None
    started_seen = next(e["_seen"] for e in live if e["event"] == "started")
    assert caller.stats.first_agent_audio_at <= started_seen  # type: ignore[operator]
    conv_id = live[0]["conversation_id"]
    conv = await va.runtime.records.load_conversation(str(conv_id))
    assert conv is not None and conv.state.verified and conv.state.ended
    assert conv.summary and "verified patient" in conv.summary
    assert all("1988" not in t.text for t in conv.turns)


class _TunableStt(ScriptedSpeechToText):
    """The scripted recogniser with an ``end_silence_ms`` knob, like Deepgram's and the local one."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.settings: list[int] = []

    @property
    def end_silence_ms(self) -> int:
        return self._end_frames * 20

    @end_silence_ms.setter
    def end_silence_ms(self, value: int) -> None:
        self.settings.append(value)
        self._end_frames = value // 20


async def test_the_date_of_birth_hold_is_lifted_back_to_the_recognisers_own_setting(
    voice_app: VoiceApp,
) -> None:
    va = voice_app
    made: list[_TunableStt] = []

    def stt() -> _TunableStt:
        made.append(_TunableStt(va.book, end_ms=400))
        return made[-1]

    providers = replace(scripted_providers(va.book, tts=va.tts), stt_factory=stt)
    install_voice_service(va.app, providers=providers, config=FAST)
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    await caller.reply(va.book.speech("What do I owe?"))
    assert made[0].settings == [FAST.dob_end_silence_ms]  # asked for a date of birth: held open
    await caller.reply(va.book.speech("Emily Carter, April 12th 1988"))
    assert any("two hundred and forty dollars" in s for s in va.tts.spoken), va.tts.spoken
    assert made[0].settings == [FAST.dob_end_silence_ms, 400]  # verified: its own 400 ms, not a constant
    assert made[0].end_silence_ms == 400


@pytest.mark.voice_tts(ms_per_char=12)
async def test_barge_in_clears_audio_and_keeps_only_what_the_caller_heard(voice_app: VoiceApp) -> None:
    va = voice_app
    caller = await va.call(EMILY_PHONE)
    await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    await caller.reply(va.book.speech("What do I owe?"))
    heard_before = len(caller.heard)
    caller.say(va.book.speech("Emily Carter, April 12th 1988"))
    for _ in range(400):  # ~0.3 s into the agent's (long) answer, the caller talks over it
        if len(caller.heard) > heard_before + 15:
            break
        await asyncio.sleep(0.02)
    interrupted_at = time.monotonic()
    await caller.reply(va.book.speech("Stop, can you just text me a link to pay?"))
    clears = [e for e in caller.events if e.kind == "clear"]
    assert clears, "the agent never cleared Twilio's buffer"
    clear_at = clears[0].at
    cut_turn = [
        t for at, t in va.tts.spoken_at if at <= interrupted_at and "you're verified" not in t.lower()
    ]
    cut_turn = [t for t in cut_turn if t not in va.tts.spoken[:4]]  # sentences of the interrupted reply
    after = va.book.agent_sentences(
        [e.payload for e in caller.events if e.kind == "media" and e.at > clear_at]
    )
    respoken = {t for at, t in va.tts.spoken_at if at > clear_at}
    stale = [s for s in after if s in cut_turn and s not in respoken]
    assert not stale, f"audio of the interrupted turn after clear: {stale}"
    await caller.hangup()
    await asyncio.sleep(0.3)
    convs = await va.runtime.records.list_conversations(EMILY.guarantor_id)
    conv = convs[0]
    agent_lines = [t.text for t in conv.turns if t.speaker == "agent"]
    full = "Your current balance with Maple Grove Family Dental is two hundred and forty dollars."
    interrupted_reply = next(line for line in agent_lines if "verified" in line)
    assert "Would you like me to text you a secure link" not in interrupted_reply, agent_lines
    assert full not in interrupted_reply or interrupted_reply.endswith(full), agent_lines


async def test_a_backchannel_over_the_agent_does_not_take_the_turn(voice_app: VoiceApp) -> None:
    va = voice_app
    caller = await va.call(EMILY_PHONE)
    await caller.wait_for_agent_audio()
    await asyncio.sleep(0.3)
    await caller.say_and_wait(va.book.speech("uh-huh", ms=300))
    await caller.wait_for_quiet(quiet_s=1.2)
    greeting = va.tts.spoken[0]
    # the greeting resumed (spoken again from the cut sentence), and no reply was generated to "uh-huh"
    assert va.tts.spoken.count(greeting) >= 1
    assert not any("didn't quite catch" in s for s in va.tts.spoken), va.tts.spoken
    await caller.hangup()


async def test_a_media_stream_without_a_valid_single_use_token_is_refused(voice_app: VoiceApp) -> None:
    va = voice_app
    sid = va.new_call_sid()
    bad = new_caller(va.base_url, {TOKEN_PARAMETER: "not-a-token"}, sid)
    await bad.start()
    assert await bad.wait_closed(5.0)
    assert bad.closed_code == 4403
    assert not [e for e in bad.events if e.kind == "media"]
    # a real token works once; replaying it is refused
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio()
    replay = new_caller(va.base_url, dict(caller.parameters), caller.call_sid)
    await replay.start()
    assert await replay.wait_closed(5.0)
    assert replay.closed_code == 4403
    await caller.hangup()


async def test_stop_calling_me_records_the_voice_opt_out_at_once(voice_app: VoiceApp) -> None:
    va = voice_app
    caller = await va.call(EMILY_PHONE)
    await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    await caller.reply(va.book.speech("Please stop calling me."))
    assert await va.runtime.records.is_suppressed(EMILY_PHONE, "voice")
    assert any("won't call you" in s for s in va.tts.spoken), va.tts.spoken
    assert await caller.wait_closed(5.0)  # a polite goodbye, then the agent ends the call


async def test_silence_gets_reprompts_then_a_polite_goodbye(voice_app: VoiceApp) -> None:
    va = voice_app
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_closed(20.0)
    spoken = va.tts.spoken
    assert "Are you still there?" in spoken
    assert "Goodbye" in spoken[-1] and "(312) 555-0100" in spoken[-1], spoken


async def test_keypad_date_of_birth_verifies_like_speech(voice_app: VoiceApp) -> None:
    va = voice_app
    caller = await va.call(EMILY_PHONE)
    await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    await caller.reply(va.book.speech("My name is Emily Carter."))
    assert any("date of birth" in s for s in va.tts.spoken[1:]), va.tts.spoken
    for digit in "04121988":
        await caller.dtmf(digit)
    await asyncio.sleep(0.5)
    await caller.wait_for_quiet()
    assert any("you're verified" in s.lower() for s in va.tts.spoken), va.tts.spoken
    await caller.hangup()


async def _granted_call(va: VoiceApp, grant: StreamGrant) -> TwilioMediaCaller:
    token = await voice_service(va.app).grants.issue(grant)
    caller = new_caller(va.base_url, {TOKEN_PARAMETER: token}, grant.call_sid)
    va.callers.append(caller)
    await caller.start()
    return caller


async def test_an_outbound_call_names_no_one_and_a_resumed_call_hears_the_payment_outcome(
    voice_app: VoiceApp,
) -> None:
    va = voice_app
    out = await _granted_call(
        va, StreamGrant(call_sid=va.new_call_sid(), direction="outbound", patient_id=EMILY.patient_id)
    )
    assert await out.wait_for_agent_audio()
    await out.wait_for_quiet()
    first = va.tts.spoken[0]
    assert "who I'm speaking with" in first and "Maple Grove Family Dental" in first, first
    # an answering machine may be recording until async AMD answers: no name, nothing about money
    assert "emily" not in first.lower() and "carter" not in first.lower()
    assert not messages.lint(
        first,
        verified=False,
        policy=va.runtime.policy,
        channel="voice",
        first_contact=True,
        patient_names=["Emily Carter"],
    ), first
    await out.hangup()

    caller = await va.call(EMILY_PHONE)  # a call whose conversation comes back after <Pay>
    await caller.wait_for_agent_audio()
    await caller.hangup()
    call = await voice_service(va.app).deps.calls.get(caller.call_sid)
    assert call is not None and call.conversation_id
    va.tts.spoken.clear()
    resumed = await _granted_call(
        va,
        StreamGrant(
            call_sid=caller.call_sid,
            direction="inbound",
            conversation_id=call.conversation_id,
            resume="pay:success",
        ),
    )
    assert await resumed.wait_for_agent_audio()
    assert va.tts.spoken[0].startswith("Thank you, your payment went through."), va.tts.spoken
    await resumed.hangup()


async def test_a_call_is_ended_politely_at_the_maximum_length(voice_app: VoiceApp) -> None:
    va = voice_app
    install_voice_service(
        va.app, providers=scripted_providers(va.book, tts=va.tts), config=replace(FAST, max_call_s=2.0)
    )
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_closed(15.0)
    assert "time limit" in va.tts.spoken[-1] and "(312) 555-0100" in va.tts.spoken[-1], va.tts.spoken
    calls = voice_service(va.app).deps.calls
    for _ in range(100):  # the call row is finished right after the stream closes
        call = await calls.get(caller.call_sid)
        if call is not None and call.end_reason:
            break
        await asyncio.sleep(0.05)
    assert call is not None and call.end_reason == "max_duration"

"""The voice benchmark's code path at tiny size. No timing assertions: numbers live in docs/benchmarks.md.

Asserted is what must hold at any speed: the playback-buffer model behind jitter and underruns, the
caller phrase's speech span, and one benchmark call (overhead + barge-in) through the real app on cloud
speech against the loopback vendors, measured end to end and rendered in the report table.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from agent.voice.twilio_caller import ServerEvent
from benchmarks.voice_cloud import (
    BARGE_PHRASE,
    CALLER_PHRASE,
    Dialer,
    Injected,
    Phrase,
    frame_timing,
    one_call,
    phrase,
    phrase_of,
    summarise,
)
from benchmarks.voice_local import NOTHING_INJECTED, local_capacity
from benchmarks.voice_run import capacity, cloud_table, local_table
from tests.fakes.deepgram_server import DeepgramFake, speech_frames
from tests.fakes.elevenlabs_server import ElevenLabsFake
from tests.integration.harness import PRACTICE_NUMBER, PUBLIC
from tests.voice.conftest import VoiceApp, demo_db_file, fake_twilio, voice_app
from tests.voice.test_cloud_speech import DG_KEY, EL_KEY, _cloud

__all__ = ["demo_db_file", "fake_twilio", "voice_app"]  # fixtures, imported for pytest


def _media(at: float) -> ServerEvent:
    return ServerEvent("media", at, payload=b"\xff" * 160)


def test_steady_audio_has_no_underruns_and_no_jitter() -> None:
    events = [_media(1.0 + 0.02 * i) for i in range(50)]
    jitter, frames, underruns = frame_timing(events)
    assert frames == 50 and underruns == 0
    assert jitter and max(jitter) < 1e-6


def test_a_late_frame_inside_a_sentence_is_one_underrun() -> None:
    events = [_media(1.0 + 0.02 * i) for i in range(20)]
    events += [_media(1.0 + 0.02 * 19 + 0.2 + 0.02 * i) for i in range(20)]  # 200 ms hole mid-chunk
    _jitter, frames, underruns = frame_timing(events)
    assert frames == 40 and underruns == 1


def test_a_pause_after_a_mark_or_a_clear_is_not_an_underrun() -> None:
    first = [_media(1.0 + 0.02 * i) for i in range(20)]
    later = [_media(2.0 + 0.02 * i) for i in range(20)]
    for boundary in ("mark", "clear"):
        _jitter, _frames, underruns = frame_timing([*first, ServerEvent(boundary, 1.4), *later])
        assert underruns == 0, boundary


def test_injected_latency_counts_the_endpointing_wait_less_one_frame() -> None:
    assert Injected().total_s == pytest.approx((380 + 150 + 250 + 120) / 1000)
    assert NOTHING_INJECTED.total_s == 0


@pytest.fixture(scope="module")
def phrases() -> tuple[Phrase, Phrase]:
    from telephony.local_tts import LocalTextToSpeech

    tts = LocalTextToSpeech()
    try:
        return phrase(CALLER_PHRASE, tts), phrase(BARGE_PHRASE, tts)
    finally:
        tts.close()


def test_caller_phrases_are_speech_followed_by_silence(phrases: tuple[Phrase, Phrase]) -> None:
    for p in phrases:
        assert 0 <= p.first_speech < p.first_silence < len(p.audio) // 160
        heard = speech_frames(p.audio)
        assert heard[p.first_speech] and not any(heard[: p.first_speech])
        assert heard[p.first_silence - 1] and not any(heard[p.first_silence :])


@pytest.fixture
def vendors() -> Iterator[tuple[DeepgramFake, ElevenLabsFake]]:
    with (
        DeepgramFake(api_key=DG_KEY, default_transcript=CALLER_PHRASE) as dg,
        ElevenLabsFake(api_key=EL_KEY, ms_per_char=20) as el,
    ):
        yield dg, el


async def test_one_benchmark_call_measures_overhead_and_barge_in(
    voice_app: VoiceApp, vendors: tuple[DeepgramFake, ElevenLabsFake]
) -> None:
    va = voice_app
    dg, el = vendors
    _cloud(va, dg, el, dg_key=DG_KEY, el_key=EL_KEY)
    dialer = Dialer(
        va.base_url, va.http, va.twilio.auth_token, PUBLIC, PRACTICE_NUMBER, caller_number="+17635550142"
    )
    says = phrase_of(va.book.speech(CALLER_PHRASE))  # the test double's VAD hears Phrasebook speech
    interrupts = phrase_of(va.book.speech(BARGE_PHRASE))
    sample = await one_call(
        dialer, says, interrupts, Injected(stt_final_ms=0, llm_first_token_ms=0, tts_first_audio_ms=0)
    )
    assert sample.error is None
    assert sample.overhead_s is not None and sample.barge_s is not None
    assert sample.frames > 0
    result = summarise("overhead+barge-in", 1, [sample], {"app": 0.1}, Injected())
    assert result.overhead["n"] == 1 and result.barge["n"] == 1 and not result.errors
    console = Console(width=200, record=True)
    console.print(cloud_table([result]))
    console.print(local_table([result]))
    assert "overhead+barge-in" in console.export_text()
    assert capacity([result]) == 0  # no capacity level was run
    assert local_capacity([]) == 0

"""The VAD's quiet gate: silence is scored without running silero, speech after it still is heard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from telephony.audio import MULAW_SILENCE, float32_to_ulaw, split_frames, ulaw_level_dbfs
from telephony.local_tts import LocalTextToSpeech
from telephony.vad import SPEECH_THRESHOLD, SileroVad


@pytest.fixture(scope="module")
def speech() -> Iterator[bytes]:
    tts = LocalTextToSpeech(seed=3)

    async def render() -> bytes:
        return b"".join([c async for c in tts.synthesize("Sorry, wait, I already paid that one.")])

    yield asyncio.run(render())
    tts.close()


def _scores(vad: SileroVad, audio: bytes) -> list[float]:
    return [vad.process(f) for f in split_frames(audio)]


def test_silence_is_gated_and_speech_after_it_is_still_detected(speech: bytes) -> None:
    gated, always = SileroVad(), SileroVad(quiet_hold_ms=10**9)
    line = bytes([MULAW_SILENCE]) * 8000 + speech + bytes([MULAW_SILENCE]) * 8000 + speech
    a, b = _scores(gated, line), _scores(always, line)
    frames = len(a)
    # most of the silence (all but the 200 ms hold each time) never reached the model
    assert gated.frames_gated >= 2 * (50 - 10) - 2 and always.frames_gated == 0
    assert gated.frames_gated < frames // 2
    for scores in (a, b):
        second = scores[frames // 2 + 50 :]
        assert max(scores[:50]) < SPEECH_THRESHOLD and max(scores[50 : frames // 2]) >= 0.9
        assert max(second) >= 0.9  # the speech after the gated silence is heard as well as ever
    heard = [i for i, p in enumerate(a) if p >= SPEECH_THRESHOLD]
    heard_always = [i for i, p in enumerate(b) if p >= SPEECH_THRESHOLD]
    assert abs(len(heard) - len(heard_always)) <= len(heard_always) // 10


def test_line_noise_above_the_gate_is_always_scored() -> None:
    rng = np.random.default_rng(5)
    hiss = float32_to_ulaw(rng.normal(0.0, 0.005, 16000))  # about -46 dBFS: real line noise
    vad = SileroVad()
    scores = _scores(vad, hiss)
    assert vad.frames_gated == 0 and max(scores) < SPEECH_THRESHOLD


def test_reset_clears_the_gate(speech: bytes) -> None:
    vad = SileroVad()
    _scores(vad, bytes([MULAW_SILENCE]) * 4000)
    assert vad.frames_gated > 0
    vad.reset()
    gated = vad.frames_gated
    assert vad.process(bytes([MULAW_SILENCE]) * 160) == 0.0 and vad.frames_gated == gated  # held again


def test_a_level_measured_by_the_caller_gives_the_same_scores(speech: bytes) -> None:
    """The session measures each frame's level for its echo guard and hands it over: same gate."""
    line = bytes([MULAW_SILENCE]) * 8000 + speech
    given, measured = SileroVad(), SileroVad()
    with_level = [given.process(f, ulaw_level_dbfs(f)) for f in split_frames(line)]
    assert with_level == _scores(measured, line)
    assert given.frames_gated == measured.frames_gated > 0
    trusted = SileroVad()  # the given level is what the gate uses (speech said to be silent is gated)
    for f in split_frames(speech):
        trusted.process(f, -90.0)
    assert trusted.frames_gated > 0 and measured.frames_gated < len(split_frames(line))

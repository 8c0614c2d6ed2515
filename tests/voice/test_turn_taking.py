"""The pure turn-taking rules: sentence streaming, the digit/date hold, backchannels, echo detection."""

from __future__ import annotations

import numpy as np
import pytest

from agent.voice.keypad import Keypad, keyed_dob_text
from agent.voice.turn_taking import EchoGuard, SentenceSplitter, SpeechRun, endpoint_hold_ms, is_backchannel
from telephony.audio import float32_to_ulaw


def test_sentences_come_out_as_soon_as_they_are_complete() -> None:
    s = SentenceSplitter()
    assert s.push("Thank you, you're verified. Your bal") == ["Thank you, you're verified."]
    assert s.push("ance is $240.00. Dr. Lee saw you at 3 p.m. on ") == ["Your balance is $240.00."]
    assert s.push("Monday! Ok") == ["Dr. Lee saw you at 3 p.m. on Monday!"]
    assert s.flush() == ["Ok"] and s.flush() == []
    long = SentenceSplitter().push("word " * 60)
    assert long and len(long[0]) <= 220  # a run-on is still spoken in pieces


@pytest.mark.parametrize(
    ("text", "expecting", "held"),
    [
        ("My date of birth is March third", False, True),
        ("March 3rd 1985", False, False),
        ("it's four two", False, True),
        ("03/14/1985", True, False),
        ("Emily Carter and", False, True),
        ("Yes please", False, False),
        ("Emily Carter", True, False),
        ("twelve", True, True),
    ],
)
def test_unfinished_digits_and_dates_get_more_time(text: str, expecting: bool, held: bool) -> None:
    assert (endpoint_hold_ms(text, expecting_digits=expecting, hold_ms=900) == 900) is held


def test_backchannels_are_not_turns() -> None:
    for text in ("uh-huh", "Mm-hmm.", "okay, yeah", "right", ""):
        assert is_backchannel(text), text
    for text in ("okay stop", "wait, that's wrong", "yeah I want a plan"):
        assert not is_backchannel(text), text


def _speechlike(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    envelope = np.abs(np.sin(np.arange(n) / 3.0 + seed)) * 0.5 + rng.uniform(0, 0.05, n)
    return [float32_to_ulaw(rng.standard_normal(160).astype(np.float32) * e) for e in envelope]


def test_our_own_audio_coming_back_quieter_is_an_echo_but_the_callers_voice_is_not() -> None:
    ours = _speechlike(60, seed=1)
    guard = EchoGuard()
    t = 100.0
    for i, frame in enumerate(ours):
        guard.outbound(frame, t + i * 0.02)
    delay = 6  # 120 ms round trip
    for i in range(delay, 40):
        samples = np.frombuffer(bytes(ours[i - delay]), dtype=np.uint8)  # the same envelope, -10 dB
        from telephony.audio import ulaw_to_float32

        guard.inbound(float32_to_ulaw(ulaw_to_float32(bytes(samples)) * 0.3), t + i * 0.02)
    assert guard.is_echo()

    caller = EchoGuard()
    for i, frame in enumerate(ours):
        caller.outbound(frame, t + i * 0.02)
    for i, frame in enumerate(_speechlike(40, seed=7)):
        caller.inbound(frame, t + i * 0.02)
    assert not caller.is_echo()
    assert not EchoGuard().is_echo()  # nothing sent, nothing heard


def test_keypad_zero_asks_for_staff_and_eight_digits_make_a_date_of_birth() -> None:
    pad = Keypad(timeout_s=5.0)
    assert pad.press("0", 0.0, expecting_dob=False) == ("staff", "")
    assert pad.press("7", 0.1, expecting_dob=False) is None  # not entering a date: ignored
    keys = [pad.press(d, 1.0 + i * 0.1, expecting_dob=True) for i, d in enumerate("0412198")]
    assert keys == [None] * 7  # "0" inside a date entry is a digit, not staff
    assert pad.press("8", 2.0, expecting_dob=False) == ("dob", "04121988")
    assert keyed_dob_text("04121988") == "My date of birth is 04/12/1988."
    for i, d in enumerate("041288"):
        pad.press(d, 3.0 + i * 0.1, expecting_dob=True)
    assert pad.press("#", 4.0, expecting_dob=True) == ("dob", "041288")
    pad.press("1", 5.0, expecting_dob=True)
    assert pad.press("#", 5.1, expecting_dob=True) is None  # too short to be a date
    for i, d in enumerate("0412198"):
        pad.press(d, 6.0 + i * 0.1, expecting_dob=True)
    assert pad.tick(7.0) is None and pad.tick(20.0) == ("dob", "0412198")


def _run_ms(frames: list[tuple[float, float]]) -> list[tuple[int, bool]]:
    run = SpeechRun(threshold=0.5, onset_threshold=0.3, loud_dbfs=-40.0, lead_ms=60)
    out = []
    for prob, level in frames:
        confirmed = run.update(prob, level)
        out.append((run.run_ms, confirmed))
    return out


def test_a_speech_run_counts_from_the_vads_onset_and_is_speech_once_it_is_sure() -> None:
    quiet = (0.0, -100.0)
    out = _run_ms([quiet, (0.35, -30.0), (0.4, -30.0), (0.9, -30.0), (0.35, -30.0), quiet])
    assert out == [(0, False), (20, False), (40, False), (60, True), (80, True), (0, False)]


def test_a_loud_lead_in_before_the_vad_rises_counts_but_only_up_to_the_cap() -> None:
    loud_unsure = (0.1, -25.0)
    # the caller's "S..." is loud for 4 frames before silero's score rises: 60 ms of it are credited
    out = _run_ms([loud_unsure] * 4 + [(0.9, -22.0)] * 3)
    assert [ms for ms, _ in out] == [20, 40, 60, 60, 80, 100, 120]
    assert [c for _, c in out] == [False] * 4 + [True] * 3
    # a loud noise with one VAD blip is not 120 ms of speech; quiet frames in between reset it
    blip = _run_ms([loud_unsure] * 20 + [(0.6, -25.0), (0.1, -60.0), (0.9, -25.0)])
    assert max(ms for ms, _ in blip) == 80 and blip[-1] == (20, True)
    # a quiet frame the VAD scores low is the end of the run, confirmed or not
    assert _run_ms([(0.9, -30.0), (0.2, -50.0)])[-1] == (0, False)

"""The pure turn-taking rules: sentence streaming, the digit/date hold, backchannels, echo detection."""

from __future__ import annotations

import numpy as np
import pytest

from agent.voice.keypad import Keypad, keyed_dob_text
from agent.voice.turn_taking import EchoGuard, SentenceSplitter, endpoint_hold_ms, is_backchannel
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

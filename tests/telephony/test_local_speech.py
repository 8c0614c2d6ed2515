"""The offline speech stack end to end: hibari TTS → phone line (8 kHz mu-law) → silero VAD → Whisper.

Models are loaded once for the module, with outbound network connections refused while they load and
run, so these tests also prove nothing is downloaded at run time.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import numpy as np
import pytest

from telephony.audio import MULAW_SILENCE, SAMPLE_RATE, float32_to_ulaw, split_frames, ulaw_to_float32
from telephony.local_stt import LocalSpeechToText, WhisperEngine, bundled_model_path
from telephony.local_tts import LocalTextToSpeech
from telephony.speech import Final, SpeechEvent, SpeechStarted, SpeechToText, TextToSpeech, UtteranceEnd
from telephony.vad import SPEECH_THRESHOLD, SileroVad


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("network disabled in the offline speech tests")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield


@pytest.fixture(scope="module")
def tts(no_network: None) -> Iterator[LocalTextToSpeech]:
    engine = LocalTextToSpeech(seed=3)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def whisper(no_network: None) -> Iterator[WhisperEngine]:
    engine = WhisperEngine()
    yield engine
    engine.close()


async def _speak(tts: LocalTextToSpeech, text: str) -> bytes:
    return b"".join([chunk async for chunk in tts.synthesize(text)])


def _trim(mulaw: bytes) -> bytes:
    voiced = np.nonzero(np.abs(ulaw_to_float32(mulaw)) > 0.02)[0]
    return mulaw[voiced[0] : voiced[-1] + 1]


def _silence(ms: int) -> bytes:
    return bytes([MULAW_SILENCE]) * (SAMPLE_RATE * ms // 1000)


async def _recognise(whisper: WhisperEngine, mulaw: bytes) -> list[SpeechEvent]:
    stt = LocalSpeechToText(whisper)
    for frame in split_frames(mulaw):  # as Twilio delivers it: 20 ms frames
        stt.feed(frame)
    await stt.close()
    return [event async for event in stt.events()]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def test_providers_satisfy_the_protocols(tts: LocalTextToSpeech, whisper: WhisperEngine) -> None:
    assert isinstance(tts, TextToSpeech)
    assert isinstance(LocalSpeechToText(whisper), SpeechToText)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert (bundled_model_path() / "model.bin").is_file()


async def test_tts_yields_headerless_8k_mulaw(tts: LocalTextToSpeech) -> None:
    chunks = [chunk async for chunk in tts.synthesize("Hello. Your balance is $20.")]
    audio = b"".join(chunks)
    assert len(chunks) >= 2  # one per sentence (+ the filter tail)
    assert not audio.startswith(b"RIFF")
    assert 0.8 < len(audio) / SAMPLE_RATE < 6.0
    assert len(set(audio)) > 50  # real audio, not silence


async def test_tts_is_cancellable_between_chunks(tts: LocalTextToSpeech) -> None:
    text = "First sentence. Second sentence. Third sentence. Fourth sentence."
    stream = tts.synthesize(text)
    assert isinstance(stream, AsyncGenerator)
    first = await stream.__anext__()
    assert first
    await stream.aclose()  # what a barge-in does: no further sentence is synthesised
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    # the engine is still usable afterwards
    assert await _speak(tts, "Okay.")


def test_tts_refuses_voices_that_would_download() -> None:
    with pytest.raises(ValueError, match="heart"):
        LocalTextToSpeech(voice="bella")


def test_whisper_refuses_a_path_without_weights(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        WhisperEngine(tmp_path)


async def test_round_trip_through_the_phone_line(tts: LocalTextToSpeech, whisper: WhisperEngine) -> None:
    sentence = "I would like to pay my balance"
    events = await _recognise(whisper, _silence(500) + await _speak(tts, sentence) + _silence(1000))
    assert isinstance(events[0], SpeechStarted)
    assert isinstance(events[-1], UtteranceEnd)
    finals = [e for e in events if isinstance(e, Final)]
    assert len(finals) == 1
    heard = _words(finals[0].text)
    expected = _words(sentence)
    recovered = [w for w in expected if w in heard]
    assert len(recovered) / len(expected) >= 0.8, finals[0].text
    assert {"pay", "balance"} <= set(heard)
    assert 0.0 < finals[0].confidence <= 1.0
    assert events[0].at_ms >= 400  # onset after the leading silence
    assert events[-1].at_ms > events[0].at_ms


async def test_two_utterances_come_back_in_order(tts: LocalTextToSpeech, whisper: WhisperEngine) -> None:
    audio = _silence(300) + await _speak(tts, "Yes.") + _silence(1200)
    audio += await _speak(tts, "Can I set up a payment plan?") + _silence(1000)
    events = await _recognise(whisper, audio)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "Final", "UtteranceEnd", "SpeechStarted", "Final", "UtteranceEnd"]
    first, second = (e.text for e in events if isinstance(e, Final))
    assert "yes" in _words(first)
    assert {"payment", "plan"} <= set(_words(second))
    assert "can" in _words(second)  # the 300 ms pre-roll keeps the first word


async def test_silence_hiss_hum_and_keypad_tones_produce_no_events(whisper: WhisperEngine) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    hiss = float32_to_ulaw(rng.standard_normal(SAMPLE_RATE * 2).astype(np.float32) * 0.003)
    hum = float32_to_ulaw(0.3 * np.sin(2 * np.pi * 60 * t))
    keypad_1 = float32_to_ulaw(
        0.25 * (np.sin(2 * np.pi * 697 * t[:1600]) + np.sin(2 * np.pi * 1209 * t[:1600]))
    )
    audio = _silence(2000) + hiss + hum + _silence(300) + keypad_1 + _silence(1000)
    assert await _recognise(whisper, audio) == []  # no barge-in, no invented text


async def test_vad_detects_synthesised_speech_not_silence(tts: LocalTextToSpeech) -> None:
    speech = await _speak(tts, "Thank you for calling the dental office.")
    vad = SileroVad()
    silence_probs = [vad.process(f) for f in split_frames(_silence(1000))]
    assert max(silence_probs) < SPEECH_THRESHOLD
    vad.reset()
    speech_probs = [vad.process(f) for f in split_frames(speech)]
    share = sum(p >= SPEECH_THRESHOLD for p in speech_probs) / len(speech_probs)
    assert share > 0.5
    vad.reset()
    assert vad.last_probability == 0.0
    # 160-sample frames are buffered into 256-sample windows: a single frame yields no new window yet
    assert vad.process(_silence(20)) == 0.0


async def test_pauses_between_digit_groups_do_not_end_the_utterance(
    tts: LocalTextToSpeech, whisper: WhisperEngine
) -> None:
    # hibari pads each sentence with ~0.3 s of silence before and ~0.5 s after: trim it so the
    # pauses between groups are exactly what the caller leaves
    groups = [
        _trim(await _speak(tts, g)) for g in ("Five five five.", "Two one two.", "Four four three three.")
    ]
    reading = _silence(300) + _silence(600).join(groups) + _silence(1000)

    patient = LocalSpeechToText(whisper)  # default 700 ms: one utterance for the whole number
    hasty = LocalSpeechToText(whisper, end_silence_ms=400)  # too short: cut between groups
    for stt in (patient, hasty):
        for frame in split_frames(reading):
            stt.feed(frame)
        await stt.close()
    patient_events = [e async for e in patient.events()]
    hasty_events = [e async for e in hasty.events()]
    assert sum(isinstance(e, UtteranceEnd) for e in patient_events) == 1
    assert sum(isinstance(e, UtteranceEnd) for e in hasty_events) >= 2
    text = " ".join(e.text for e in patient_events if isinstance(e, Final))
    digits = "".join(re.findall(r"\d", text))
    assert all(group in digits for group in ("555", "212", "4433")), text


def test_end_silence_can_be_raised_for_digit_entry(whisper: WhisperEngine) -> None:
    stt = LocalSpeechToText(whisper)
    assert stt.end_silence_ms == stt.default_end_silence_ms == LocalSpeechToText.default_end_silence_ms == 700
    stt.end_silence_ms = 1500
    assert stt.end_silence_ms == 1500
    stt.end_silence_ms = stt.default_end_silence_ms  # what the session does once the digits are in
    assert stt.end_silence_ms == 700
    with pytest.raises(ValueError):
        stt.end_silence_ms = 50
    custom = LocalSpeechToText(whisper, end_silence_ms=900)  # a call's own default is the one restored
    assert custom.end_silence_ms == custom.default_end_silence_ms == 900
    assert LocalSpeechToText.default_end_silence_ms == 700
    with pytest.raises(ValueError):
        LocalSpeechToText(whisper, end_silence_ms=50)


async def test_a_failed_decode_drops_the_utterance_but_not_the_stream(
    tts: LocalTextToSpeech, no_network: None
) -> None:
    engine = WhisperEngine()
    engine.close()  # its pool refuses work: every decode fails
    events = await _recognise(engine, _silence(300) + await _speak(tts, "Yes.") + _silence(1000))
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "UtteranceEnd"]


# ------------------------------------------------------------------------------- speculative decode


async def _feed_live(stt: LocalSpeechToText, audio: bytes) -> None:
    """Feed 20 ms frames, letting each speculative decode finish before the next frame arrives.

    That is the case speculation is for (a decode shorter than the rest of the end-of-speech
    silence) made deterministic: no wall clock is involved, only the decode's completion.
    """
    for frame in split_frames(audio):
        stt.feed(frame)
        async with asyncio.timeout(60):  # a bound for a hung pool, not a latency assertion
            await stt.speculation_settled()


async def test_a_speculative_decode_is_the_final_when_the_caller_stays_quiet(
    tts: LocalTextToSpeech, whisper: WhisperEngine
) -> None:
    audio = _silence(300) + await _speak(tts, "I would like to pay my balance") + _silence(1000)
    speculative = LocalSpeechToText(whisper)
    await _feed_live(speculative, audio)
    # the utterance has ended (end silence ran out) and its decode was already done at that moment:
    # the Final is out as soon as the silence is, instead of a decode later
    assert speculative.speculative_started == speculative.speculative_reused == 1
    assert speculative.ready_at_end == 1
    assert speculative.decodes_started == 1  # no second decode of the same audio
    assert speculative.speculative_discarded == 0
    await speculative.close()
    events = [e async for e in speculative.events()]
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "Final", "UtteranceEnd"]

    plain = LocalSpeechToText(whisper, early_decode_ms=None)  # decode only once the utterance ended
    await _feed_live(plain, audio)
    await plain.close()
    plain_events = [e async for e in plain.events()]
    assert plain.speculative_started == plain.ready_at_end == 0
    assert plain.decodes_started == 1
    assert events == plain_events  # same transcript, confidence and timestamps
    final = next(e for e in events if isinstance(e, Final))
    assert {"pay", "balance"} <= set(_words(final.text)), final.text


@pytest.mark.parametrize("decode_finishes_in_the_pause", [True, False])
async def test_speech_after_a_short_pause_discards_the_speculative_decode(
    tts: LocalTextToSpeech, whisper: WhisperEngine, decode_finishes_in_the_pause: bool
) -> None:
    first = _trim(await _speak(tts, "I would like to pay"))
    second = _trim(await _speak(tts, "my whole balance today"))
    # 450 ms: past early_decode_ms (300) but short of the end silence (700)
    audio = _silence(300) + first + _silence(450) + second + _silence(1000)
    stt = LocalSpeechToText(whisper)
    if decode_finishes_in_the_pause:
        await _feed_live(stt, audio)
        # the first part's decode finished and was thrown away; the second pause got a fresh one,
        # which covers both parts and is the Final
        assert stt.speculative_started == 2
        assert stt.speculative_reused == stt.ready_at_end == 1
        assert stt.decodes_started == 2
    else:
        for frame in split_frames(audio):  # no await: the first speculation is still pending at the end
            stt.feed(frame)
        # so no second speculation was started (one in flight per stream) and the whole utterance
        # was decoded once it ended
        assert stt.speculative_started == 1
        assert stt.speculative_reused == 0
        assert stt.decodes_started == 2
    assert stt.speculative_discarded == 1
    await stt.close()
    events = [e async for e in stt.events()]
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "Final", "UtteranceEnd"]
    heard = set(_words(next(e for e in events if isinstance(e, Final)).text))
    assert "pay" in heard and "balance" in heard, heard  # one Final with both parts, no partial leak


async def test_utterances_with_speculative_decodes_keep_their_order(
    tts: LocalTextToSpeech, whisper: WhisperEngine
) -> None:
    audio = _silence(300) + await _speak(tts, "Yes.") + _silence(1200)
    audio += await _speak(tts, "Can I set up a payment plan?") + _silence(1000)
    stt = LocalSpeechToText(whisper)
    await _feed_live(stt, audio)
    await stt.close()
    events = [e async for e in stt.events()]
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "Final", "UtteranceEnd", "SpeechStarted", "Final", "UtteranceEnd"]
    first, second = (e.text for e in events if isinstance(e, Final))
    assert "yes" in _words(first)
    assert {"payment", "plan"} <= set(_words(second))
    assert stt.speculative_reused == stt.ready_at_end == 2


async def test_a_failed_speculative_decode_drops_the_utterance_but_not_the_stream(
    tts: LocalTextToSpeech, no_network: None
) -> None:
    engine = WhisperEngine()
    engine.close()  # its pool refuses work: every decode fails
    stt = LocalSpeechToText(engine)
    await _feed_live(stt, _silence(300) + await _speak(tts, "Yes.") + _silence(1000))
    assert stt.speculative_reused == stt.ready_at_end == 1
    await stt.close()
    assert [type(e).__name__ for e in [e async for e in stt.events()]] == ["SpeechStarted", "UtteranceEnd"]

"""Phone-line audio: mu-law codec, anti-aliased resampling, 20 ms framing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from telephony import audio
from telephony.audio import (
    FRAME_BYTES,
    MULAW_SILENCE,
    MulawFramer,
    Resampler,
    float32_to_ulaw,
    pcm16_to_ulaw,
    resample_8k_to_16k,
    resample_24k_to_8k,
    split_frames,
    ulaw_to_float32,
    ulaw_to_pcm16,
)


def _tone(freq: float, rate: int, seconds: float = 0.5, amplitude: float = 0.8) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _amplitude(x: np.ndarray, trim: int = 200) -> float:
    core = x[trim:-trim]
    return float(np.sqrt(np.mean(core.astype(np.float64) ** 2)) * np.sqrt(2))


def test_numpy_fallback_is_bit_exact_with_audioop() -> None:
    every_sample = np.arange(-32768, 32768, dtype="<i2")
    every_code = bytes(range(256))
    if audio._audioop is None:  # Python 3.13+: only the numpy path exists
        pytest.skip("audioop not available")
    assert audio._numpy_lin2ulaw(every_sample) == audio._audioop.lin2ulaw(every_sample.tobytes(), 2)
    assert audio._numpy_ulaw2lin(every_code) == audio._audioop.ulaw2lin(every_code, 2)


def test_codec_without_audioop_uses_the_numpy_port(monkeypatch: pytest.MonkeyPatch) -> None:
    pcm = np.arange(-32768, 32768, 7, dtype="<i2").tobytes()
    codes = bytes(range(256))
    with_audioop = (pcm16_to_ulaw(pcm), ulaw_to_pcm16(codes))
    monkeypatch.setattr(audio, "_audioop", None)  # what Python 3.13+ looks like
    assert (pcm16_to_ulaw(pcm), ulaw_to_pcm16(codes)) == with_audioop


def test_mulaw_round_trip() -> None:
    codes = bytes(range(256))
    # decode → encode is the identity except mu-law's two zeros (0x7F and 0xFF both decode to 0)
    again = pcm16_to_ulaw(ulaw_to_pcm16(codes))
    assert all(a == b or {a, b} == {0x7F, 0xFF} for a, b in zip(codes, again, strict=True))
    tone = _tone(440, 8000)
    decoded = ulaw_to_float32(float32_to_ulaw(tone))
    snr = 10 * np.log10(np.sum(tone**2) / np.sum((tone - decoded) ** 2))
    assert snr > 30  # G.711 gives ~38 dB on a loud tone
    assert ulaw_to_float32(bytes([MULAW_SILENCE]))[0] == 0.0


def test_float32_to_ulaw_clips_instead_of_wrapping() -> None:
    loud = np.array([2.0, -2.0], dtype=np.float32)
    assert ulaw_to_pcm16(float32_to_ulaw(loud)) == ulaw_to_pcm16(float32_to_ulaw(np.array([1.0, -1.0])))


def test_odd_length_pcm_is_rejected() -> None:
    with pytest.raises(ValueError):
        pcm16_to_ulaw(b"\x00")


def test_24k_to_8k_keeps_speech_band_and_removes_what_would_alias() -> None:
    kept = resample_24k_to_8k(_tone(1000, 24000))
    assert len(kept) == 4000
    assert _amplitude(kept) == pytest.approx(0.8, rel=0.01)
    # 6 kHz at 24 kHz would fold to 2 kHz at 8 kHz without the anti-aliasing filter
    folded = resample_24k_to_8k(_tone(6000, 24000))
    assert _amplitude(folded) < 0.8 * 10 ** (-50 / 20)
    assert _amplitude(resample_24k_to_8k(_tone(3000, 24000))) == pytest.approx(0.8, rel=0.01)


def test_8k_to_16k_interpolates_without_images() -> None:
    up = resample_8k_to_16k(_tone(1000, 8000))
    assert len(up) == 8000
    expected = _tone(1000, 16000)
    assert np.max(np.abs(up[200:-200] - expected[200:-200])) < 0.01
    # energy at the 7 kHz image of a 1 kHz tone is suppressed
    spectrum = np.abs(np.fft.rfft(up * np.hanning(len(up))))
    freqs = np.fft.rfftfreq(len(up), 1 / 16000)
    image = spectrum[(freqs > 6800) & (freqs < 7200)].max()
    assert image < spectrum.max() * 10 ** (-50 / 20)


def test_streaming_resampler_matches_one_shot_regardless_of_chunking() -> None:
    rng = np.random.default_rng(7)
    signal = rng.standard_normal(10_000).astype(np.float32) * 0.1
    whole = Resampler(24000, 8000, passband_hz=3400, stopband_hz=4000)
    pieces = Resampler(24000, 8000, passband_hz=3400, stopband_hz=4000)
    one = np.concatenate([whole.process(signal), whole.flush()])
    cuts = [0, 1, 479, 480, 3001, 7777, len(signal)]
    many = np.concatenate(
        [pieces.process(signal[a:b]) for a, b in itertools.pairwise(cuts)] + [pieces.flush()]
    )
    np.testing.assert_allclose(one, many, atol=1e-6)


def test_split_frames_pads_with_silence() -> None:
    frames = split_frames(b"\x01" * 400)
    assert [len(f) for f in frames] == [FRAME_BYTES] * 3
    assert frames[-1] == b"\x01" * 80 + bytes([MULAW_SILENCE]) * 80
    assert split_frames(b"\x01" * 400, pad=False) == [b"\x01" * 160] * 2
    assert split_frames(b"") == []


def test_framer_carries_remainders_across_chunks() -> None:
    framer = MulawFramer()
    assert framer.push(b"a" * 100) == []
    assert framer.push(b"b" * 100) == [b"a" * 100 + b"b" * 60]
    assert framer.pending == 40
    assert framer.flush() == [b"b" * 40 + bytes([MULAW_SILENCE]) * 120]
    assert framer.flush() == []


def test_frame_level_in_dbfs_on_both_codec_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    t = np.arange(160) / 8000.0
    tone = float32_to_ulaw(0.5 * np.sin(2 * np.pi * 440 * t))  # RMS 0.354 = -9 dBFS
    quiet = float32_to_ulaw(0.001 * np.sin(2 * np.pi * 440 * t))
    levels = [audio.ulaw_level_dbfs(x) for x in (tone, quiet, bytes([MULAW_SILENCE]) * 160, b"")]
    assert levels[0] == pytest.approx(-9.0, abs=0.3)
    assert levels[1] == pytest.approx(-63.0, abs=1.5)
    assert levels[2:] == [-100.0, -100.0]
    monkeypatch.setattr(audio, "_audioop", None)
    # audioop.rms truncates to an integer: a few hundredths of a dB at -62 dBFS
    assert [audio.ulaw_level_dbfs(x) for x in (tone, quiet)] == pytest.approx(levels[:2], abs=0.05)

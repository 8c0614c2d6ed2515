"""Phone-line audio: G.711 mu-law ⇄ 16-bit PCM, anti-aliased resampling, 20 ms framing.

- mu-law uses the standard library ``audioop`` where it exists (Python ≤ 3.12) and a bit-exact numpy
  port of the same algorithm otherwise (3.13+ dropped ``audioop``); both paths are tested against each
  other over every input value.
- Resampling is a streaming polyphase-equivalent FIR (Kaiser-windowed sinc, numpy only): 24 kHz TTS
  audio → 8 kHz for Twilio, 8 kHz caller audio → 16 kHz for Whisper. The filter history is carried
  across chunks, so sentence-by-sentence TTS has no clicks at chunk boundaries (a cause of "choppy
  8 kHz audio"). 24 → 8 kHz keeps 0–3.4 kHz and attenuates ≥ 4 kHz by ~60 dB before decimation, so
  nothing above the new Nyquist folds back into the speech band.
- ``MulawFramer`` cuts mu-law into 160-byte (20 ms) frames and carries the remainder across chunks;
  it pads with mu-law silence only when flushed at the end of an utterance, never mid-stream.
"""

from __future__ import annotations

import math
import warnings
from types import ModuleType

import numpy as np
import numpy.typing as npt

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "MULAW_SILENCE",
    "SAMPLE_RATE",
    "MulawFramer",
    "Resampler",
    "float32_to_pcm16",
    "float32_to_ulaw",
    "pcm16_to_float32",
    "pcm16_to_ulaw",
    "resample_8k_to_16k",
    "resample_24k_to_8k",
    "split_frames",
    "ulaw_level_dbfs",
    "ulaw_to_float32",
    "ulaw_to_pcm16",
]

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 mu-law bytes = 160 samples
MULAW_SILENCE = 0xFF  # mu-law code for 0

Float32Array = npt.NDArray[np.float32]

_audioop: ModuleType | None
try:  # audioop is deprecated in 3.11/3.12 and gone in 3.13
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop as _audioop_module
    _audioop = _audioop_module
except ImportError:  # pragma: no cover - exercised on 3.13+
    _audioop = None


# ---------------------------------------------------------------------------------------------------------
# mu-law (numpy port of CPython's audioop st_14linear2ulaw / st_ulaw2linear16)

_BIAS = 0x84
_CLIP = 8159
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_decode_table() -> npt.NDArray[np.int16]:
    u = (~np.arange(256, dtype=np.int32)) & 0xFF
    t = ((u & 0x0F) << 3) + _BIAS
    t = t << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype(np.int16)


_ULAW_DECODE = _build_decode_table()


def _numpy_lin2ulaw(pcm: npt.NDArray[np.int16]) -> bytes:
    val = pcm.astype(np.int32) >> 2  # 14-bit, arithmetic shift like the C code
    negative = val < 0
    mask = np.where(negative, 0x7F, 0xFF)
    mag = np.minimum(np.abs(val), _CLIP) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")
    seg_c = np.minimum(seg, 7)
    uval = (seg_c << 4) | ((mag >> (seg_c + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def _numpy_ulaw2lin(mulaw: bytes) -> bytes:
    return _ULAW_DECODE[np.frombuffer(mulaw, dtype=np.uint8)].astype("<i2").tobytes()


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Little-endian signed 16-bit PCM → mu-law (one byte per sample)."""
    if len(pcm) % 2:
        raise ValueError("16-bit PCM must have an even number of bytes")
    if _audioop is not None:
        return bytes(_audioop.lin2ulaw(pcm, 2))
    return _numpy_lin2ulaw(np.frombuffer(pcm, dtype="<i2"))


def ulaw_to_pcm16(mulaw: bytes) -> bytes:
    """mu-law → little-endian signed 16-bit PCM."""
    if _audioop is not None:
        return bytes(_audioop.ulaw2lin(mulaw, 2))
    return _numpy_ulaw2lin(mulaw)


def pcm16_to_float32(pcm: bytes) -> Float32Array:
    return (np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def float32_to_pcm16(samples: npt.ArrayLike) -> bytes:
    x = np.asarray(samples, dtype=np.float32)
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes()


def ulaw_to_float32(mulaw: bytes) -> Float32Array:
    """mu-law bytes → float32 samples in [-1, 1)."""
    return (_ULAW_DECODE[np.frombuffer(mulaw, dtype=np.uint8)].astype(np.float32) / 32768.0).astype(
        np.float32
    )


_ULAW_SQUARES = _ULAW_DECODE.astype(np.float64) ** 2
SILENCE_DBFS = -100.0


def ulaw_level_dbfs(mulaw: bytes) -> float:
    """RMS level of mu-law audio in dB full scale (-100 for digital silence or nothing).

    Called for every frame in both directions of every call, so it avoids the float conversion:
    ``audioop.rms`` on the linear samples where it exists, a table of squares otherwise.
    """
    if not mulaw:
        return SILENCE_DBFS
    if _audioop is not None:
        rms = float(_audioop.rms(_audioop.ulaw2lin(mulaw, 2), 2))
    else:
        rms = math.sqrt(float(_ULAW_SQUARES[np.frombuffer(mulaw, dtype=np.uint8)].mean()))
    return 20.0 * math.log10(max(rms / 32768.0, 1e-5))


def float32_to_ulaw(samples: npt.ArrayLike) -> bytes:
    """float32 samples in [-1, 1] (clipped) → mu-law bytes."""
    return pcm16_to_ulaw(float32_to_pcm16(samples))


# ---------------------------------------------------------------------------------------------------------
# resampling


def _kaiser_lowpass(num_taps: int, cutoff_hz: float, rate_hz: float, beta: float) -> npt.NDArray[np.float64]:
    """Linear-phase low-pass FIR (windowed sinc), unity DC gain."""
    n = np.arange(num_taps, dtype=np.float64) - (num_taps - 1) / 2.0
    fc = cutoff_hz / rate_hz
    h = 2.0 * fc * np.sinc(2.0 * fc * n) * np.kaiser(num_taps, beta)
    return h / h.sum()


class Resampler:
    """Streaming rational resampler ``in_rate * up / down`` with a Kaiser-sinc anti-aliasing filter.

    ``process`` may be called with chunks of any size; filter state and decimation phase are kept, so
    the concatenated output equals a one-shot resample of the concatenated input. ``flush`` drains the
    filter's group delay (call it once at the end of a stream).
    """

    def __init__(self, in_rate: int, out_rate: int, *, passband_hz: float, stopband_hz: float) -> None:
        g = math.gcd(in_rate, out_rate)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.up = out_rate // g
        self.down = in_rate // g
        mid_rate = in_rate * self.up
        transition = (stopband_hz - passband_hz) / mid_rate * 2.0 * math.pi
        attenuation_db = 60.0
        num_taps = math.ceil((attenuation_db - 8.0) / (2.285 * transition)) + 1
        num_taps |= 1  # odd → integer group delay
        beta = 0.1102 * (attenuation_db - 8.7)
        self._taps = _kaiser_lowpass(num_taps, (passband_hz + stopband_hz) / 2.0, mid_rate, beta) * self.up
        self._tail = np.zeros(num_taps - 1, dtype=np.float64)
        self._phase = 0

    @property
    def num_taps(self) -> int:
        return len(self._taps)

    def process(self, samples: npt.ArrayLike) -> Float32Array:
        x = np.asarray(samples, dtype=np.float64).ravel()
        if x.size == 0:
            return np.zeros(0, dtype=np.float32)
        if self.up > 1:
            stuffed = np.zeros(x.size * self.up, dtype=np.float64)
            stuffed[:: self.up] = x
        else:
            stuffed = x
        buf = np.concatenate([self._tail, stuffed])
        y = np.convolve(buf, self._taps, mode="valid")
        self._tail = buf[len(buf) - (len(self._taps) - 1) :]
        out = y[self._phase :: self.down]
        self._phase = (self._phase - len(y)) % self.down
        return out.astype(np.float32)

    def flush(self) -> Float32Array:
        """Push zeros through to emit the last group delay's worth of output."""
        delay_in = math.ceil((len(self._taps) - 1) / 2.0 / self.up)
        return self.process(np.zeros(delay_in, dtype=np.float64))

    def reset(self) -> None:
        self._tail[:] = 0.0
        self._phase = 0


def tts_resampler_24k_to_8k() -> Resampler:
    """24 kHz TTS output → 8 kHz phone audio: keep 0–3.4 kHz, stop band from 4 kHz."""
    return Resampler(24000, 8000, passband_hz=3400.0, stopband_hz=4000.0)


def stt_resampler_8k_to_16k() -> Resampler:
    """8 kHz caller audio → 16 kHz for Whisper: remove the spectral image above 4 kHz."""
    return Resampler(8000, 16000, passband_hz=3400.0, stopband_hz=4600.0)


def _one_shot(resampler: Resampler, samples: npt.ArrayLike) -> Float32Array:
    """Resample a whole signal, compensating the filter delay so output aligns with input."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    n_out = x.size * resampler.up // resampler.down
    delay_out = (resampler.num_taps - 1) // 2 // resampler.down
    y = np.concatenate([resampler.process(x), resampler.flush()])
    return y[delay_out : delay_out + n_out].astype(np.float32)


def resample_24k_to_8k(samples: npt.ArrayLike) -> Float32Array:
    return _one_shot(tts_resampler_24k_to_8k(), samples)


def resample_8k_to_16k(samples: npt.ArrayLike) -> Float32Array:
    return _one_shot(stt_resampler_8k_to_16k(), samples)


# ---------------------------------------------------------------------------------------------------------
# framing


def split_frames(mulaw: bytes, *, pad: bool = True) -> list[bytes]:
    """Cut mu-law into 160-byte (20 ms) frames; the short last frame is padded with silence if ``pad``."""
    frames = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        if pad:
            frames[-1] = frames[-1] + bytes([MULAW_SILENCE]) * (FRAME_BYTES - len(frames[-1]))
        else:
            frames.pop()
    return frames


class MulawFramer:
    """Accumulates mu-law chunks of any size and yields whole 20 ms frames."""

    def __init__(self, frame_bytes: int = FRAME_BYTES) -> None:
        self.frame_bytes = frame_bytes
        self._pending = bytearray()

    def push(self, mulaw: bytes) -> list[bytes]:
        self._pending.extend(mulaw)
        whole = len(self._pending) - len(self._pending) % self.frame_bytes
        out = [bytes(self._pending[i : i + self.frame_bytes]) for i in range(0, whole, self.frame_bytes)]
        del self._pending[:whole]
        return out

    def flush(self) -> list[bytes]:
        """The remainder as one silence-padded frame (or nothing)."""
        if not self._pending:
            return []
        frame = bytes(self._pending) + bytes([MULAW_SILENCE]) * (self.frame_bytes - len(self._pending))
        self._pending.clear()
        return [frame]

    @property
    def pending(self) -> int:
        return len(self._pending)

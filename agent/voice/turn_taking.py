"""Turn-taking rules for the voice session, as small pure pieces that are easy to test.

- ``SentenceSplitter``: the brain's streamed text → whole sentences, so the first one can be synthesised
  and played while the rest is still being generated.
- ``endpoint_hold_ms``: how much longer to wait after the caller pauses. A caller reading digits or a
  date pauses between groups ("March third ... nineteen eighty five"); answering then would cut them
  off, so an utterance that looks unfinished gets extra time.
- ``is_backchannel``: "uh-huh", "okay", "yeah" said over the agent are listening noises, not a turn.
- ``EchoGuard``: the caller's line can carry an echo of our own audio; speech whose loudness envelope
  follows what we sent a moment earlier, quieter, is our echo and must not interrupt us.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from telephony.audio import FRAME_MS, ulaw_level_dbfs

_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_ABBREV = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|St|Jr|Sr|No|vs|etc|approx)|\b[ap]\.m|\b[A-Z])\.$", re.IGNORECASE)
_MAX_UNPUNCTUATED = 220


class SentenceSplitter:
    """Feed text fragments, get complete sentences back; ``flush`` returns the remainder."""

    def __init__(self) -> None:
        self._buf = ""

    def push(self, text: str) -> list[str]:
        self._buf += text
        out: list[str] = []
        start = 0
        for m in _END.finditer(self._buf):
            candidate = self._buf[start : m.start()].strip()
            if not candidate or _ABBREV.search(candidate):
                continue
            out.append(candidate)
            start = m.end()
        self._buf = self._buf[start:]
        if len(self._buf) > _MAX_UNPUNCTUATED:  # a run-on: break at the last comma or space
            cut = max(self._buf.rfind(", ", 0, _MAX_UNPUNCTUATED), self._buf.rfind(" ", 0, _MAX_UNPUNCTUATED))
            if cut > 0:
                out.append(self._buf[: cut + 1].strip())
                self._buf = self._buf[cut + 1 :]
        return out

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []


_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_NUMBER_WORD = (
    r"zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
    r"thousand|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|twelfth|[a-z]+teenth|"
    r"twentieth|thirtieth"
)
_TRAILING_DIGITS = re.compile(rf"(?:\d|\b(?:{_NUMBER_WORD}))[\s,.-]*$", re.IGNORECASE)
_MONTH = re.compile(rf"\b(?:{_MONTHS})\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b|\b(?:nineteen|two thousand|twenty)[\s-]+\w+", re.IGNORECASE)
_DANGLING = re.compile(
    r"\b(?:and|is|my|the|of|um+|uh+|er+|so|but|birth|born|on|it's|its|number|date)[\s,.-]*$", re.IGNORECASE
)


def endpoint_hold_ms(text: str, *, expecting_digits: bool, hold_ms: int) -> int:
    """Extra wait after the caller pauses: ``hold_ms`` when the utterance looks unfinished, else 0."""
    t = text.strip()
    if not t:
        return 0
    if _DANGLING.search(t):
        return hold_ms
    has_month = bool(_MONTH.search(t))
    has_year = bool(_YEAR.search(t)) or bool(re.search(r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}", t))
    if has_month and not has_year:
        return hold_ms  # "March third ..." – the year is usually still coming
    if _TRAILING_DIGITS.search(t) and not has_year:
        count = len(re.findall(r"\d", t)) + len(re.findall(rf"\b(?:{_NUMBER_WORD})\b", t, re.IGNORECASE))
        if expecting_digits or 0 < count < 8:
            return hold_ms
    return 0


_BACKCHANNEL = re.compile(
    r"^(?:(?:uh[- ]?huh|mm[- ]?hmm|m+[- ]?h+m+|hmm+|mhm|um+|uh+|ok(?:ay)?|yeah|yep|yes|right|sure|"
    r"got it|i see|alright|all right|oh|ah|cool|great)[\s,.!?]*)+$",
    re.IGNORECASE,
)


def is_backchannel(text: str) -> bool:
    """A listening noise (said while the agent talks), not a request to take the turn."""
    t = text.strip()
    return not t or bool(_BACKCHANNEL.match(t))


@dataclass
class SpeechRun:
    """The caller's current run of speech as our VAD hears it, one 20 ms frame at a time.

    A run starts at a frame scored ``onset_threshold`` (silero half-hears a fricative before the
    vowel) and is speech once a frame reaches ``threshold``; it ends at a frame below the onset
    threshold. Until then, loud frames the VAD has not caught up with yet (its score lags the sound by
    a window or two) count too, but at most ``lead_ms`` of them: a loud noise plus one VAD blip is
    still too short to be a barge-in.
    """

    threshold: float = 0.5
    onset_threshold: float = 0.3
    loud_dbfs: float = -40.0
    lead_ms: int = 60
    run_ms: int = 0
    confirmed: bool = False

    def update(self, prob: float, level_dbfs: float) -> bool:
        """Feed one frame's VAD score and level; True when this frame is confirmed speech."""
        if prob < self.onset_threshold:
            if not self.confirmed and level_dbfs >= self.loud_dbfs:
                self.run_ms = min(self.run_ms + FRAME_MS, self.lead_ms)
            else:
                self.run_ms = 0
                self.confirmed = False
            return False
        self.run_ms += FRAME_MS
        if not self.confirmed and prob < self.threshold:
            return False
        self.confirmed = True
        return True


class EchoGuard:
    """Loudness-envelope correlation between what we sent and what came back (20 ms slots).

    ``outbound(frame, t)`` is called for each frame we send, ``inbound(frame, t)`` for each caller
    frame; ``is_echo()`` looks at the caller's last ``window`` frames and asks whether they follow our
    own audio from ``0..max_lag`` slots earlier (correlation ≥ ``min_corr``) while being at least
    ``min_attenuation_db`` quieter. Cost: a few hundred multiplications per check.
    """

    SLOTS = 128

    def __init__(
        self,
        *,
        window: int = 12,
        max_lag: int = 30,
        min_corr: float = 0.7,
        min_attenuation_db: float = 3.0,
    ) -> None:
        self._window = window
        self._max_lag = max_lag
        self._min_corr = min_corr
        self._atten = min_attenuation_db
        self._out = np.full(self.SLOTS, -100.0)
        self._out_slot = np.full(self.SLOTS, -1, dtype=np.int64)
        self._in = np.full(self.SLOTS, -100.0)
        self._in_slot = np.full(self.SLOTS, -1, dtype=np.int64)
        self._last_in = -1

    @staticmethod
    def _slot(t: float) -> int:
        return int(t * 50.0)

    def outbound(self, mulaw: bytes, t: float) -> None:
        s = self._slot(t)
        i = s % self.SLOTS
        self._out[i] = ulaw_level_dbfs(mulaw)
        self._out_slot[i] = s

    def inbound(self, mulaw: bytes, t: float) -> float:
        """Record a caller frame; returns its level (dBFS), which the session's barge-in logic reuses."""
        s = self._slot(t)
        if s <= self._last_in:
            s = self._last_in + 1  # frames arrive in bursts: keep them in order, one slot each
        i = s % self.SLOTS
        level = ulaw_level_dbfs(mulaw)
        self._in[i] = level
        self._in_slot[i] = s
        self._last_in = s
        return level

    def _series(self, levels: np.ndarray, slots: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        idx = wanted % self.SLOTS
        vals = levels[idx].copy()
        vals[slots[idx] != wanted] = -100.0
        return vals

    def is_echo(self) -> bool:
        if self._last_in < 0:
            return False
        wanted = np.arange(self._last_in - self._window + 1, self._last_in + 1)
        caller = self._series(self._in, self._in_slot, wanted)
        if np.ptp(caller) < 3.0:
            return False  # flat: no envelope to compare
        for lag in range(self._max_lag + 1):
            ours = self._series(self._out, self._out_slot, wanted - lag)
            if np.max(ours) <= -60.0 or np.ptp(ours) < 3.0:
                continue
            corr = float(np.corrcoef(caller, ours)[0, 1])
            if corr >= self._min_corr and float(np.mean(ours) - np.mean(caller)) >= self._atten:
                return True
        return False

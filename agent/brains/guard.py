"""Checks on the LLM's words before they are spoken or sent (defence in depth behind the prompt).

`SpeechGuard` receives streamed text, releases it at clause/sentence boundaries (so voice can start
speaking early) and replaces a segment that
- states a dollar amount no tool result, policy figure or the patient themself gave
  ("amounts always from the ledger, never from model text"), or
- talks about money owed before the caller is verified (rule 28),
and, on voice, drops URLs (links are texted, never read aloud) and markdown marks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from agent.brains.phrases import URL
from agent.brains.slots import money_spans
from tools.parsing import parse_amount

_NUMBER_IN_DATA = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_DEBT_WORDS = re.compile(
    r"\b(?:balance|owe[sd]?|owing|bills?|billing|debt|past\s+due|overdue|amount\s+due|payments?|"
    r"outstanding|statement|invoice|collections?)\b|\$\s?\d",
    re.I,
)
_MARKDOWN = re.compile(r"[*_#`]+|^\s*[-•]\s+", re.M)
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[,;:])\s+(?=\S)")
_MIN_CLAUSE = 24


def amounts_in(value: Any) -> set[Decimal]:
    """Every money-like number in a tool result (data and message), as cents-quantised Decimals."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    found: set[Decimal] = set()
    for m in _NUMBER_IN_DATA.finditer(text):
        try:
            found.add(abs(Decimal(m.group(0).replace(",", ""))).quantize(Decimal("0.01")))
        except ArithmeticError:
            continue
    return found


def stated_amounts(text: str) -> list[Decimal | None]:
    """Amounts the text states ("$450", "450 dollars", "four hundred fifty dollars"); None = unreadable."""
    return [parse_amount(span) for span in money_spans(text)]


class SpeechGuard:
    def __init__(self, *, voice: bool, verified: bool, allowed: Iterable[Decimal] = ()) -> None:
        self.voice = voice
        self.verified = verified
        self.allowed: set[Decimal] = {a.quantize(Decimal("0.01")) for a in allowed}
        self._buffer = ""
        self.blocked: list[str] = []  # why segments were replaced ("amount", "unverified")

    def allow(self, value: Any) -> None:
        self.allowed |= amounts_in(value)

    def feed(self, delta: str) -> list[str]:
        """Add streamed text; return the segments now safe to release."""
        self._buffer += delta
        out: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                return out
            segment, self._buffer = self._buffer[:cut], self._buffer[cut:]
            out.append(self._check(segment))

    def flush(self) -> list[str]:
        segment, self._buffer = self._buffer, ""
        return [self._check(segment)] if segment else []

    def discard(self) -> None:
        self._buffer = ""

    def _cut(self) -> int | None:
        for m in _BOUNDARY.finditer(self._buffer):
            sentence_end = self._buffer[m.start() - 1 : m.start()] in ".!?" or "\n" in m.group(0)
            if sentence_end or m.start() >= _MIN_CLAUSE:
                return m.end()
        return None

    def _check(self, segment: str) -> str:
        """The segment as it may be released, or "" plus a note in `blocked` when it must be replaced."""
        if self.voice:
            segment = _MARKDOWN.sub("", URL.sub("", segment))
        if not self.verified and _DEBT_WORDS.search(segment):
            self.blocked.append("unverified")
            return ""
        for amount in stated_amounts(segment):
            if amount is None or amount.quantize(Decimal("0.01")) not in self.allowed:
                self.blocked.append("amount")
                return ""
        return segment

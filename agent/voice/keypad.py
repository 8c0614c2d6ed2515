"""Keypad input on a call: ``0`` asks for staff; a date of birth can be keyed instead of spoken.

Digits are collected while a date of birth is expected (or once an entry has started): eight digits
(``MMDDYYYY``), or six or more followed by ``#``, or six or more and a pause of ``timeout_s``, make a
date of birth. ``0`` as the first key outside an entry means "a person, please". Nothing keyed is kept
after the entry completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KeypadAction = tuple[Literal["staff"], str] | tuple[Literal["dob"], str]


@dataclass
class Keypad:
    timeout_s: float = 5.0
    _digits: list[str] = field(default_factory=list)
    _at: float = 0.0

    def press(self, digit: str, now: float, *, expecting_dob: bool) -> KeypadAction | None:
        if self._digits and now - self._at > self.timeout_s:
            self._digits.clear()
        self._at = now
        entering = bool(self._digits) or expecting_dob
        if digit == "0" and not entering:
            return ("staff", "")
        if digit == "#":
            return self._complete(minimum=6)
        if digit.isdigit() and entering:
            self._digits.append(digit)
            if len(self._digits) == 8:
                return self._complete(minimum=8)
        return None

    def tick(self, now: float) -> KeypadAction | None:
        """An entry left pausing for ``timeout_s`` counts if it is long enough to be a date."""
        if self._digits and now - self._at > self.timeout_s:
            return self._complete(minimum=6)
        return None

    def _complete(self, *, minimum: int) -> KeypadAction | None:
        digits, self._digits = "".join(self._digits), []
        return ("dob", digits) if len(digits) >= minimum else None


def keyed_dob_text(digits: str) -> str:
    """``MMDDYYYY`` / ``MMDDYY`` → the sentence a caller would have said (redacted like speech)."""
    return f"My date of birth is {digits[:2]}/{digits[2:4]}/{digits[4:]}."

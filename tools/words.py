"""Words to numbers for parsing speech: month and weekday names, and English number words grouped
the way people compose them ("nineteen eighty five" -> 19, 85; "a hundred and twenty five" -> 125;
"twenty first" -> 21st). Used by tools/parsing.py.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

MONTHS: dict[str, int] = {}
for _i, _name in enumerate(calendar.month_name):
    if _name:
        MONTHS[_name.lower()] = _i
        MONTHS[_name[:3].lower()] = _i
MONTHS["sept"] = 9

WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
WEEKDAYS.update({name[:3].lower(): i for i, name in enumerate(calendar.day_name)})
WEEKDAYS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "a": 1,
    "an": 1,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ORD_UNITS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
}
_ORD_TEENS = {
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
}
_ORD_TENS = {"twentieth": 20, "thirtieth": 30}
_MULT = {"hundred": 100, "thousand": 1000}
_ORDINAL_SUFFIX = re.compile(r"^(\d{1,2})(st|nd|rd|th)$")


@dataclass(frozen=True)
class Num:
    value: int
    ordinal: bool = False
    digits: int = 0  # number of digits when written with digits; 0 for spoken words


@dataclass(frozen=True)
class Month:
    value: int


Item = Num | Month


def tokenize(text: str) -> list[str]:
    t = text.lower().replace("’", "'")
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)  # eighty-five
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    return [w for w in t.split() if w]


def read_items(text: str) -> list[Item]:
    """Turn text into months and numbers, grouping spoken numbers the way English composes them."""
    out: list[Item] = []
    total = small = 0
    last: str | None = None  # kind of the previous number word in the open group
    force_new = False

    def flush() -> None:
        nonlocal total, small, last
        if last is not None:
            out.append(Num(total + small))
        total = small = 0
        last = None

    words = tokenize(text)
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in ("a", "an") and nxt not in _MULT:
            flush()
            continue
        if w in ("oh", "o") and (nxt in _UNITS or nxt in _ORD_UNITS):
            flush()
            force_new = True
            continue
        if w == "and" and last in ("hundred", "thousand"):
            continue
        if w in MONTHS and not (w == "may" and last is None and not _near_number(words, i)):
            flush()
            out.append(Month(MONTHS[w]))
            continue
        kind, value, ordinal = classify(w)
        if kind is None:
            flush()
            m = _ORDINAL_SUFFIX.match(w)
            if m:
                out.append(Num(int(m.group(1)), ordinal=True, digits=len(m.group(1))))
            elif w.lstrip("'").isdigit():
                d = w.lstrip("'")
                out.append(Num(int(d), digits=len(d)))
            continue
        if force_new:
            flush()
            force_new = False
        if last is None:
            small, last = value, kind
        elif kind == "unit" and last == "tens":
            small += value
            last = kind
        elif kind == "mult" and last in ("unit", "teen", "tens"):
            if value == 1000:
                total += small * 1000
                small = 0
                last = "thousand"
            else:
                small *= 100
                last = "hundred"
        elif kind in ("unit", "teen", "tens") and last in ("hundred", "thousand"):
            small += value
            last = kind
        else:
            flush()
            small, last = value, kind
        if ordinal:
            out.append(Num(total + small, ordinal=True))
            total = small = 0
            last = None
    flush()
    return out


def _near_number(words: list[str], i: int) -> bool:
    """'may' is a month only next to a number ("may 5th", "5 may"), not in "may I pay"."""
    around = words[max(0, i - 1) : i] + words[i + 1 : i + 2]
    return any(classify(w)[0] is not None or w[:1].isdigit() for w in around)


def classify(w: str) -> tuple[str | None, int, bool]:
    if w in _UNITS and w not in ("a", "an"):
        return "unit", _UNITS[w], False
    if w in ("a", "an"):
        return "unit", 1, False
    if w in _TEENS:
        return "teen", _TEENS[w], False
    if w in _TENS:
        return "tens", _TENS[w], False
    if w in _ORD_UNITS:
        return "unit", _ORD_UNITS[w], True
    if w in _ORD_TEENS:
        return "teen", _ORD_TEENS[w], True
    if w in _ORD_TENS:
        return "tens", _ORD_TENS[w], True
    if w in _MULT:
        return "mult", _MULT[w], False
    return None, 0, False

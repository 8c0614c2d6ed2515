"""Text → what a TTS voice should say. Billing text is full of things voices read badly.

``speakable(text)`` rewrites, in this order:

- money: ``$1,234.56`` → "one thousand two hundred thirty-four dollars and fifty-six cents"
  (``$1`` → "one dollar", ``$0.05`` → "five cents"; American style, no "and" inside numbers);
- ISO dates ``2026-11-02`` and ``11/02`` → "November second" (``11/02/2026`` adds ", twenty twenty-six");
- phone numbers (``(555) 123-4567``, ``555.123.4567``, ``+1 555 123 4567``) → digit by digit, grouped
  3-3-4 with commas so the voice pauses between groups;
- clock times ``3:30 pm`` → "three thirty p m";
- percentages ``4.5%`` → "four point five percent";
- ordinals ``2nd`` → "second"; decimals ``2.5`` → "two point five";
- digit strings (5+ digits, or a leading zero: account numbers, codes) → digit by digit in groups of
  four; other whole numbers (``1,500``, ``42``) → cardinal words;
- abbreviations: Dr. → Doctor, St. → Saint before a name / Street otherwise, appt. → appointment, and a
  few more billing ones (acct., approx., ins., dept., vs., no. before a number).

Plain words and punctuation are untouched, so sentence splitting downstream still works.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

__all__ = ["digits_spoken", "money_words", "number_words", "speakable"]

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DIGIT = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def number_words(n: int) -> str:
    """American cardinal: 1234 → "one thousand two hundred thirty-four" (no "and", no commas)."""
    words = str(num2words(n, lang="en"))
    return re.sub(r"\s+", " ", words.replace(",", " ").replace(" and ", " ")).strip()


def _ordinal_words(n: int) -> str:
    words = str(num2words(n, lang="en", to="ordinal"))
    return re.sub(r"\s+", " ", words.replace(",", " ").replace(" and ", " ")).strip()


def _year_words(n: int) -> str:
    return str(num2words(n, lang="en", to="year")).replace(",", "")


def digits_spoken(digits: str, groups: tuple[int, ...] | None = None, group_size: int = 4) -> str:
    """Digit by digit, comma between groups: "5551234567" → "five five five, one two three, four five six seven" (with ``groups=(3, 3, 4)``)."""
    only = [c for c in digits if c.isdigit()]
    if groups is None:
        # Even groups of at most ``group_size`` (9 digits → 3-3-3, 10 → 4-3-3): never a lone last digit.
        count = max(1, -(-len(only) // group_size))
        base, extra = divmod(len(only), count)
        groups = tuple(base + 1 if i < extra else base for i in range(count))
    out: list[str] = []
    pos = 0
    for size in groups:
        part = only[pos : pos + size]
        if part:
            out.append(" ".join(_DIGIT[int(c)] for c in part))
        pos += size
    if pos < len(only):
        out.append(" ".join(_DIGIT[int(c)] for c in only[pos:]))
    return ", ".join(out)


def money_words(dollars: int, cents: int) -> str:
    parts: list[str] = []
    if dollars or not cents:
        parts.append(f"{number_words(dollars)} {'dollar' if dollars == 1 else 'dollars'}")
    if cents:
        parts.append(f"{number_words(cents)} {'cent' if cents == 1 else 'cents'}")
    return " and ".join(parts)


def _date_words(month: int, day: int, year: int | None = None) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    spoken = f"{_MONTHS[month - 1]} {_ordinal_words(day)}"
    if year is not None:
        spoken += f", {_year_words(year)}"
    return spoken


def _money(m: re.Match[str]) -> str:
    dollars = int(m.group(1).replace(",", ""))
    cents_str = m.group(2)
    cents = int(cents_str.ljust(2, "0")[:2]) if cents_str else 0
    return money_words(dollars, cents)


def _iso_date(m: re.Match[str]) -> str:
    spoken = _date_words(int(m.group(2)), int(m.group(3)))
    return spoken if spoken is not None else m.group(0)


def _slash_date(m: re.Match[str]) -> str:
    year_str = m.group(3)
    year: int | None = None
    if year_str:
        year = int(year_str) + (2000 if len(year_str) == 2 else 0)
    spoken = _date_words(int(m.group(1)), int(m.group(2)), year)
    return spoken if spoken is not None else m.group(0)


def _phone(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if len(digits) == 11:
        return digits_spoken(digits, (1, 3, 3, 4))
    return digits_spoken(digits, (3, 3, 4))


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return m.group(0)
    spoken = number_words(hour)
    if minute == 0:
        spoken += "" if m.group(3) else " o'clock"
    elif minute < 10:
        spoken += f" oh {number_words(minute)}"
    else:
        spoken += f" {number_words(minute)}"
    if m.group(3):
        spoken += " a m" if m.group(3).lower().startswith("a") else " p m"
    return spoken


def _decimal_words(text: str) -> str:
    whole, _, frac = text.replace(",", "").partition(".")
    spoken = number_words(int(whole or "0"))
    if frac:
        spoken += " point " + " ".join(_DIGIT[int(c)] for c in frac)
    return spoken


def _percent(m: re.Match[str]) -> str:
    return f"{_decimal_words(m.group(1))} percent"


def _ordinal(m: re.Match[str]) -> str:
    return _ordinal_words(int(m.group(1)))


def _number(m: re.Match[str]) -> str:
    text = m.group(0)
    if "." in text:
        return _decimal_words(text)
    plain = text.replace(",", "")
    if "," not in text and (len(plain) >= 5 or (len(plain) > 1 and plain.startswith("0"))):
        return digits_spoken(plain)
    return number_words(int(plain))


def _street_or_saint(m: re.Match[str]) -> str:
    return "Saint " if m.group(1) else "Street"


_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)"), _money),
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), _iso_date),
    (
        re.compile(r"(?<![\w$])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)"),
        _phone,
    ),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b(?!/)"), _slash_date),
    (re.compile(r"\b(\d{1,2}):(\d{2})(?:\s?([ap])\.?m\.?(?![a-z]))?", re.IGNORECASE), _time),
    (re.compile(r"(\d+(?:\.\d+)?)\s?%"), _percent),
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"), _ordinal),
    (re.compile(r"\bDr\.(?=\s)"), "Doctor"),
    (re.compile(r"\bSt\.(\s+)?(?=[A-Z])(?!\s*$)"), "Saint "),
    (re.compile(r"\bSt\.(?=[\s,]|$)"), "Street"),
    (re.compile(r"\bappts\.?(?![\w])", re.IGNORECASE), "appointments"),
    (re.compile(r"\bappt\.?(?![\w])", re.IGNORECASE), "appointment"),
    (re.compile(r"\bacct\.?(?![\w])", re.IGNORECASE), "account"),
    (re.compile(r"\bapprox\.?(?![\w])", re.IGNORECASE), "approximately"),
    (re.compile(r"\bins\.(?=\s)", re.IGNORECASE), "insurance"),
    (re.compile(r"\bdept\.?(?![\w])", re.IGNORECASE), "department"),
    (re.compile(r"\bvs\.?(?![\w])", re.IGNORECASE), "versus"),
    (re.compile(r"\b[Nn]o\.\s?(?=\d)"), "number "),
    (re.compile(r"#\s?(?=\d)"), "number "),
    (re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|(?<![\w.])\d+(?:\.\d+)?(?!\d)"), _number),
    (re.compile(r"\s*&\s*"), " and "),
)


def speakable(text: str) -> str:
    """Rewrite ``text`` so a TTS voice reads numbers, money, dates and abbreviations naturally."""
    out = text
    for pattern, repl in _RULES:
        out = pattern.sub(repl, out)
    return re.sub(r"[ \t]{2,}", " ", out)

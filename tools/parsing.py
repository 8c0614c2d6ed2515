"""Parse what people say: dates of birth, promise dates, callback times and dollar amounts.

Everything here is pure (the caller passes `today` / `now`) and returns `None` rather than guessing
when the text is ambiguous; the tool then asks the person to say it again. Numeric dates are read
US-style (month first) unless the first number cannot be a month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

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
class _Num:
    value: int
    ordinal: bool = False
    digits: int = 0  # number of digits when written with digits; 0 for spoken words


@dataclass(frozen=True)
class _Month:
    value: int


_Item = _Num | _Month


def _tokenize(text: str) -> list[str]:
    t = text.lower().replace("’", "'")
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)  # eighty-five
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    return [w for w in t.split() if w]


def _items(text: str) -> list[_Item]:
    """Turn text into months and numbers, grouping spoken numbers the way English composes them."""
    out: list[_Item] = []
    total = small = 0
    last: str | None = None  # kind of the previous number word in the open group
    force_new = False

    def flush() -> None:
        nonlocal total, small, last
        if last is not None:
            out.append(_Num(total + small))
        total = small = 0
        last = None

    words = _tokenize(text)
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
            out.append(_Month(MONTHS[w]))
            continue
        kind, value, ordinal = _classify(w)
        if kind is None:
            flush()
            m = _ORDINAL_SUFFIX.match(w)
            if m:
                out.append(_Num(int(m.group(1)), ordinal=True, digits=len(m.group(1))))
            elif w.lstrip("'").isdigit():
                d = w.lstrip("'")
                out.append(_Num(int(d), digits=len(d)))
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
            out.append(_Num(total + small, ordinal=True))
            total = small = 0
            last = None
    flush()
    return out


def _near_number(words: list[str], i: int) -> bool:
    """'may' is a month only next to a number ("may 5th", "5 may"), not in "may I pay"."""
    around = words[max(0, i - 1) : i] + words[i + 1 : i + 2]
    return any(_classify(w)[0] is not None or w[:1].isdigit() for w in around)


def _classify(w: str) -> tuple[str | None, int, bool]:
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


def _two_digit_year_to_past(yy: int, today: date) -> int:
    century = today.year - today.year % 100
    year = century + yy
    return year if year <= today.year else year - 100


def _year(nums: list[_Num], today: date) -> int | None:
    if len(nums) == 1:
        n = nums[0]
        if n.value >= 1000:
            return n.value
        if n.value < 100 and n.digits in (0, 2):
            return _two_digit_year_to_past(n.value, today)
        return None
    if len(nums) == 2 and 10 <= nums[0].value <= 29 and 0 <= nums[1].value <= 99 and nums[1].digits != 1:
        return nums[0].value * 100 + nums[1].value
    return None


def _make_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


_ISO = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_MDY = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.]('?\d{2}|\d{4})\b")
_COMPACT = re.compile(r"^\s*(\d{6}|\d{8})\s*$")


def parse_dob(text: str, today: date) -> date | None:
    """A date of birth as people say or type it; two-digit years resolve to the past."""
    if not text or len(text) > 200:
        return None
    result = _parse_dob(text, today)
    if result is None or result > today or result.year < today.year - 130:
        return None
    return result


def _parse_dob(text: str, today: date) -> date | None:
    m = _ISO.search(text)
    if m:
        return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _MDY.search(text)
    if m:
        a, b, ytxt = int(m.group(1)), int(m.group(2)), m.group(3).lstrip("'")
        y = int(ytxt) if len(ytxt) == 4 else _two_digit_year_to_past(int(ytxt), today)
        if a > 12 >= b:
            a, b = b, a
        return _make_date(y, a, b)
    m = _COMPACT.match(text)
    if m:
        s = m.group(1)
        if len(s) == 8:
            return _make_date(int(s[4:]), int(s[:2]), int(s[2:4])) or _make_date(
                int(s[:4]), int(s[4:6]), int(s[6:])
            )
        return _make_date(_two_digit_year_to_past(int(s[4:]), today), int(s[:2]), int(s[2:4]))
    items = _items(text)
    months = [i for i, it in enumerate(items) if isinstance(it, _Month)]
    if len(months) > 1:
        return None
    if months:
        idx = months[0]
        month = items[idx]
        assert isinstance(month, _Month)
        before = [it for it in items[:idx] if isinstance(it, _Num)]
        after = [it for it in items[idx + 1 :] if isinstance(it, _Num)]
        if before:
            day, year_nums = before[-1], after
        elif after:
            day, year_nums = after[0], after[1:]
        else:
            return None
        year = _year(year_nums, today)
        return _make_date(year, month.value, day.value) if year else None
    nums = [it for it in items if isinstance(it, _Num)]
    if len(nums) < 3:
        return None
    mo, dy = nums[0].value, nums[1].value
    if mo > 12 >= dy:
        mo, dy = dy, mo
    year = _year(nums[2:], today)
    return _make_date(year, mo, dy) if year else None


# ---- amounts ------------------------------------------------------------------------------------

_AMOUNT = re.compile(r"^\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?)\s*\$?$")
_CURRENCY_WORDS = {"dollar", "dollars", "buck", "bucks", "usd", "cent", "cents", "and"}


def parse_amount(text: str) -> Decimal | None:
    """Dollars as people say them: "$50", "1,250.50", "50 bucks", "a hundred and twenty five".

    Returns None for anything ambiguous ("one fifty"), negative or with more than two decimals.
    """
    if not text or len(text) > 120:
        return None
    raw = text.strip().lower()
    if re.search(r"(^|\s)-\s*\$?\s*\d|\$\s*-|\b(minus|negative)\b", raw):
        return None
    raw = re.sub(r"\s*(dollars?|bucks?|usd)\s*$", "", raw).strip()
    m = _AMOUNT.match(raw)
    if m:
        try:
            value = Decimal(m.group(1).replace(",", ""))
        except InvalidOperation:
            return None
        return value.quantize(Decimal("0.01"))
    return _spoken_amount(text)


def _spoken_amount(text: str) -> Decimal | None:
    words = _tokenize(text)
    if not words or any(
        not w.isdigit() and _classify(w)[0] is None and w not in _CURRENCY_WORDS for w in words
    ):
        return None
    dollars_words: list[str] = []
    cents_words: list[str] = []
    target = dollars_words
    for i, w in enumerate(words):
        if w in ("dollar", "dollars", "buck", "bucks", "usd"):
            target = cents_words
            continue
        if w in ("cent", "cents"):
            continue
        if w == "and" and target is cents_words and not cents_words:
            continue
        target.append(words[i])
    dollars = _single_number(dollars_words)
    if dollars is None:
        return None
    cents = 0
    if cents_words:
        c = _single_number(cents_words)
        if c is None or c > 99:
            return None
        cents = c
    return (Decimal(dollars) + Decimal(cents) / 100).quantize(Decimal("0.01"))


def _single_number(words: list[str]) -> int | None:
    nums = [it for it in _items(" ".join(words)) if isinstance(it, _Num)]
    if len(nums) != 1 or any(isinstance(it, _Month) for it in _items(" ".join(words))):
        return None
    return nums[0].value


# ---- promise dates & callback times -----------------------------------------------------------

_REL = re.compile(r"\bin\s+(\w+|\d+)\s+(day|days|week|weeks)\b")


def parse_promise_date(text: str, today: date) -> date | None:
    """A future day: "today", "tomorrow", "next friday", "the 15th", "12/5", "June 5", "in 2 weeks"."""
    if not text or len(text) > 120:
        return None
    t = " ".join(_tokenize(text))
    if re.search(r"\btoday\b|\btonight\b", t):
        return today
    if "day after tomorrow" in t:
        return today + timedelta(days=2)
    if re.search(r"\btomorrow\b", t):
        return today + timedelta(days=1)
    m = _REL.search(t)
    if m:
        n = _count(m.group(1))
        if n is None:
            return None
        return today + timedelta(days=n * (7 if m.group(2).startswith("week") else 1))
    if re.search(r"\bend of (the )?month\b", t):
        return date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    if re.search(r"\bfirst of (the |next )?month\b", t):
        return _add_months(today.replace(day=1), 1)
    for word, wd in WEEKDAYS.items():
        if re.search(rf"\b{word}\b", t):
            if "next week" in t:
                return today + timedelta(days=7 - today.weekday() + wd)
            return today + timedelta(days=(wd - today.weekday()) % 7 or 7)
    m = _ISO.search(text)
    if m:
        return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = re.search(r"\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2}|\d{4}))?\b", text)
    if m:
        mo, dy = int(m.group(1)), int(m.group(2))
        if m.group(3):
            y = int(m.group(3))
            return _make_date(y if y > 999 else 2000 + y, mo, dy)
        return _next_month_day(today, mo, dy)
    items = _items(text)
    months = [it for it in items if isinstance(it, _Month)]
    nums = [it for it in items if isinstance(it, _Num)]
    if len(months) == 1 and nums:
        day = nums[0].value
        if len(nums) >= 2 and nums[-1].value >= 2000:
            return _make_date(nums[-1].value, months[0].value, day)
        return _next_month_day(today, months[0].value, day)
    if not months and len(nums) == 1 and (nums[0].ordinal or re.search(r"\bthe\b", t)):
        d = nums[0].value
        if not 1 <= d <= 31:
            return None
        candidate = _make_date(today.year, today.month, d)
        if candidate and candidate >= today:
            return candidate
        nxt = _add_months(today.replace(day=1), 1)
        return _make_date(nxt.year, nxt.month, d)
    return None


def _count(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    if word in ("a", "an"):
        return 1
    kind, value, _ = _classify(word)
    return value if kind in ("unit", "teen", "tens") else None


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _next_month_day(today: date, month: int, day: int) -> date | None:
    candidate = _make_date(today.year, month, day)
    if candidate is None:
        return None
    if candidate < today:
        return _make_date(today.year + 1, month, day)
    return candidate


_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?(?=\W|$)")
_PARTS = {
    "morning": time(10, 0),
    "noon": time(12, 0),
    "lunch": time(12, 0),
    "afternoon": time(14, 0),
    "evening": time(18, 0),
    "tonight": time(19, 0),
}


def parse_callback_time(text: str, now: datetime) -> datetime | None:
    """A callback moment in `now`'s time zone: "tomorrow at 3", "monday morning", "after 5", "in an hour".

    A bare hour 1-7 means p.m., 8-11 a.m.; a time of day alone that has passed today means tomorrow.
    """
    if not text or len(text) > 120 or now.tzinfo is None:
        return None
    t = " ".join(_tokenize(text))
    m = re.search(r"\bin (an|a|one|two|three|\d+) (hour|hours|minute|minutes)\b", t)
    if m:
        n = _count(m.group(1)) or 0
        delta = timedelta(hours=n) if m.group(2).startswith("hour") else timedelta(minutes=n)
        return (now + delta).replace(second=0, microsecond=0)
    today = now.date()
    explicit_day = parse_promise_date(_strip_time_words(text), today)
    at = _time_of_day(text, t)
    if at is None and explicit_day is None:
        return None
    when_day = explicit_day or today
    at = at or time(10, 0)
    result = datetime.combine(when_day, at, tzinfo=now.tzinfo)
    if explicit_day is None and result <= now:
        if re.search(r"\b(this|tonight)\b", t):
            return None  # "this afternoon" said in the evening: ask again rather than guess
        result += timedelta(days=1)
    return result


def _strip_time_words(text: str) -> str:
    """Remove clock times so "tomorrow at 3" does not read 3 as a day of the month."""
    t = re.sub(r"\b\d{1,2}(:\d{2})?\s*(a\.?m\.?|p\.?m\.?)", " ", text, flags=re.I)
    return re.sub(r"\b(at|after|around|about)\s+\S+", " ", t, flags=re.I)


def _time_of_day(raw: str, t: str) -> time | None:
    for word, at in _PARTS.items():
        if re.search(rf"\b{word}\b", t) and not re.search(r"\b(at|after|around|about)\b", t):
            return at
    m = re.search(
        r"\b(?:at|after|around|about|by)\s+(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?", raw, re.I
    )
    if m is None:
        m = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)", raw, re.I)
    if m is None:
        spoken = re.search(r"\b(?:at|after|around|about|by) ([a-z]+)(?: (o clock|am|pm|a m|p m))?\b", t)
        if spoken is None:
            return None
        kind, value, _ = _classify(spoken.group(1))
        if kind not in ("unit", "teen") or not 1 <= value <= 12:
            return None
        suffix = (spoken.group(2) or "").replace(" ", "")
        return _clock(value, 0, suffix if suffix in ("am", "pm") else None)
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    suffix = (m.group(3) or "").replace(".", "").lower() or None
    if "evening" in t or "afternoon" in t or "tonight" in t:
        suffix = suffix or "pm"
    if "morning" in t:
        suffix = suffix or "am"
    return _clock(hour, minute, suffix)


def _clock(hour: int, minute: int, suffix: str | None) -> time | None:
    if not (0 <= minute <= 59):
        return None
    if suffix is None:
        if not 0 <= hour <= 23:
            return None
        if 1 <= hour <= 7:
            hour += 12
        return time(hour, minute)
    if not 1 <= hour <= 12:
        return None
    if suffix == "pm" and hour != 12:
        hour += 12
    if suffix == "am" and hour == 12:
        hour = 0
    return time(hour, minute)

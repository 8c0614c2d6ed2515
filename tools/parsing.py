"""Parse what people say: dates of birth, promise dates, callback times and dollar amounts.

Everything here is pure (the caller passes `today` / `now`) and returns `None` rather than guessing
when the text is ambiguous; the tool then asks the person to say it again. Numeric dates are read
US-style (month first) unless the first number cannot be a month.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from tools.words import MONTHS, WEEKDAYS, Month, Num, classify, read_items, tokenize

__all__ = [
    "MONTHS",
    "WEEKDAYS",
    "parse_amount",
    "parse_callback_time",
    "parse_dob",
    "parse_promise_date",
]


def _two_digit_year_to_past(yy: int, today: date) -> int:
    century = today.year - today.year % 100
    year = century + yy
    return year if year <= today.year else year - 100


def _year(nums: list[Num], today: date) -> int | None:
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
    items = read_items(text)
    months = [i for i, it in enumerate(items) if isinstance(it, Month)]
    if len(months) > 1:
        return None
    if months:
        idx = months[0]
        month = items[idx]
        assert isinstance(month, Month)
        before = [it for it in items[:idx] if isinstance(it, Num)]
        after = [it for it in items[idx + 1 :] if isinstance(it, Num)]
        if before:
            day, year_nums = before[-1], after
        elif after:
            day, year_nums = after[0], after[1:]
        else:
            return None
        year = _year(year_nums, today)
        return _make_date(year, month.value, day.value) if year else None
    nums = [it for it in items if isinstance(it, Num)]
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
    words = tokenize(text)
    if not words or any(
        not w.isdigit() and classify(w)[0] is None and w not in _CURRENCY_WORDS for w in words
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
    nums = [it for it in read_items(" ".join(words)) if isinstance(it, Num)]
    if len(nums) != 1 or any(isinstance(it, Month) for it in read_items(" ".join(words))):
        return None
    return nums[0].value


# ---- promise dates & callback times -----------------------------------------------------------

_REL = re.compile(r"\bin\s+(\w+|\d+)\s+(day|days|week|weeks)\b")


def parse_promise_date(text: str, today: date) -> date | None:
    """A future day: "today", "tomorrow", "next friday", "the 15th", "12/5", "June 5", "in 2 weeks"."""
    if not text or len(text) > 120:
        return None
    t = " ".join(tokenize(text))
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
    items = read_items(text)
    months = [it for it in items if isinstance(it, Month)]
    nums = [it for it in items if isinstance(it, Num)]
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
    kind, value, _ = classify(word)
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
    t = " ".join(tokenize(text))
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
        kind, value, _ = classify(spoken.group(1))
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

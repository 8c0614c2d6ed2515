"""Find candidate slot spans (amounts, dates, dates of birth, names, callback times) in free text.

This module only *finds* spans; the tools parse and validate them (`tools.parsing`). Where a
parser exists we use it to confirm a candidate span is readable, so the brain picks the right one
out of "I can pay $50 on the 15th". Everything is pure: callers pass `today`.
"""

from __future__ import annotations

import re
from datetime import date

from tools.parsing import MONTHS, WEEKDAYS, parse_amount, parse_dob, parse_promise_date


def _words(text: str) -> list[str]:
    return text.split()


_NUM_WORDS = _words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand oh"
)
_ORD_WORDS = _words(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth"
)
_NUMWORD_RE = "|".join(sorted(_NUM_WORDS + _ORD_WORDS, key=len, reverse=True))
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted((w for w in WEEKDAYS if len(w) > 3 or w == "fri"), key=len, reverse=True))

# ---- amounts -------------------------------------------------------------------------------------

_SPOKEN_NUM = rf"(?:(?:{_NUMWORD_RE}|a|and)[\s-]+)*(?:{_NUMWORD_RE})"
_AMOUNT_PATTERNS = [
    re.compile(r"\$\s?\d[\d,]*(?:\.\d{1,2})?"),
    re.compile(r"\b\d[\d,]*(?:\.\d{1,2})?\s*(?:dollars?|bucks?|usd)\b", re.I),
    re.compile(rf"\b{_SPOKEN_NUM}\s+(?:dollars?|bucks?)(?:\s+and\s+{_SPOKEN_NUM}\s+cents?)?\b", re.I),
    # a bare number right after "pay" / "do" / "send": "I can pay 50 on Friday", "can I do 75 a month"
    re.compile(
        r"\b(?:pay|do|send|give)\s+(?:you\s+)?(\d[\d,]*(?:\.\d{1,2})?)\b"
        r"(?!\s*(?:st|nd|rd|th|/|-|:|am\b|pm\b|a\.m|p\.m|o'?clock|months?|weeks?|days?|payments?))",
        re.I,
    ),
]
_FULL = re.compile(
    r"\b(?:the\s+rest|the\s+remaining|remainder|in\s+full|the\s+full\s+(?:amount|balance)|"
    r"the\s+whole\s+(?:thing|amount|balance)|everything|all\s+of\s+it|the\s+(?:entire\s+)?balance|"
    r"pay\s+(?:it\s+)?off|whole\s+balance|full\s+balance|it\s+all)\b",
    re.I,
)


def money_spans(text: str) -> list[str]:
    """Every span written as money ("$50", "75 dollars", "fifty bucks"), readable or not, in order."""
    found = [(m.start(), m.group(0).strip()) for pat in _AMOUNT_PATTERNS[:3] for m in pat.finditer(text)]
    return [span for _, span in sorted(found)]


def find_amount(text: str) -> str | None:
    """The first span that reads as a dollar amount ("$50", "75 dollars", "fifty bucks")."""
    spans: list[tuple[int, str]] = []
    for pat in _AMOUNT_PATTERNS:
        for m in pat.finditer(text):
            group = 1 if pat.groups else 0
            span = m.group(group).strip()
            if parse_amount(span) is not None:
                spans.append((m.start(group), span))
    return min(spans)[1] if spans else None


def wants_full_amount(text: str) -> bool:
    """'the rest', 'in full', 'the whole balance', ..."""
    return bool(_FULL.search(text))


# ---- promise dates -------------------------------------------------------------------------------

_DATE_PATTERNS = [
    re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b|\btoday\b|\btonight\b|\btomorrow\b", re.I),
    re.compile(rf"\b(?:(?:this|next|on|by)\s+)?(?:{_WEEKDAY_RE})\b(?:\s+next\s+week)?", re.I),
    re.compile(rf"\bin\s+(?:\d+|a|an|{_NUMWORD_RE})\s+(?:days?|weeks?)\b", re.I),
    re.compile(r"\b(?:end|first)\s+of\s+(?:the\s+|next\s+)?month\b", re.I),
    re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"),
    re.compile(
        rf"\b(?:{_MONTH_RE})\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?|{_NUMWORD_RE}(?:[\s-]+{_NUMWORD_RE})?)"
        r"(?:,?\s+\d{4})?\b",
        re.I,
    ),
    re.compile(rf"\b(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+of\s+(?:{_MONTH_RE})\b", re.I),
    re.compile(
        rf"\bthe\s+(?:\d{{1,2}}(?:st|nd|rd|th)?|(?:twenty|thirty)[\s-](?:{_NUMWORD_RE})|{_NUMWORD_RE})\b"
        r"(?![\s-]*(?:months?|weeks?|days?|payments?|dollars?|one))",
        re.I,
    ),
    re.compile(r"\b\d{1,2}(?:st|nd|rd|th)\b", re.I),
]


def find_date(text: str, today: date) -> str | None:
    """The first span that reads as a (future) payment date ("Friday", "the 15th", "3/20")."""
    spans: list[tuple[int, int, str]] = []
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(text):
            span = re.sub(r"^(?:on|by)\s+", "", m.group(0).strip(" ,."), flags=re.I)
            if parse_promise_date(span, today) is not None:
                spans.append((m.start(), -len(span), span))
    return min(spans)[2] if spans else None


# ---- dates of birth ------------------------------------------------------------------------------

_DOB_NUMERIC = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|'?\d{2})\b")
_TOKEN = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*|\d+(?:st|nd|rd|th)?|'\d{2}")
_NUMBERISH = re.compile(
    rf"^(?:\d+(?:st|nd|rd|th)?|'\d{{2}}|{_NUMWORD_RE}|(?:{_NUMWORD_RE})-(?:{_NUMWORD_RE}))$", re.I
)
_GLUE = {"of", "the", "and"}


def find_dob(text: str, today: date) -> str | None:
    """A span that reads as a full date of birth (with a year), in any common written or spoken form."""
    m = _DOB_NUMERIC.search(text)
    if m and parse_dob(m.group(0), today):
        return m.group(0)
    compact = text.strip()
    if re.fullmatch(r"\d{6}|\d{8}", compact) and parse_dob(compact, today):
        return compact
    tokens = list(_TOKEN.finditer(text))
    for i, tok in enumerate(tokens):
        if tok.group(0).lower() not in MONTHS or (tok.group(0).lower() == "may" and i == 0):
            continue
        start = i
        while start > 0 and i - start < 3 and _date_part(tokens[start - 1].group(0)):
            start -= 1
        end = i
        while end + 1 < len(tokens) and end - i < 7 and _date_part(tokens[end + 1].group(0)):
            end += 1
        while end > i and tokens[end].group(0).lower() in _GLUE:
            end -= 1
        while start < i and tokens[start].group(0).lower() in _GLUE:
            start += 1
        span = text[tokens[start].start() : tokens[end].end()]
        if parse_dob(span, today):
            return span
    return None


def _date_part(word: str) -> bool:
    return bool(_NUMBERISH.match(word)) or word.lower() in _GLUE


# ---- names ---------------------------------------------------------------------------------------

_NAME_INTRO = re.compile(
    r"\b(?:my\s+name\s+is|my\s+name's|name\s+is|name's|this\s+is|it's|it\s+is|i'm|i\s+am|im|speaking\s+is)\s+",
    re.I,
)
_NAME_WORD = re.compile(r"^[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*\.?$")
_NOT_NAME = set(
    _words(
        "a an and the my me i im i'm you your yes yeah yep no nope ok okay sure hi hello hey it its it's "
        "is am are was this that these those what why how when who where which of on at in for to from "
        "with by born birth birthday date dob day name names full first last please thanks thank here "
        "speaking calling call back bill balance owe pay paid payment plan link money dollars month months "
        "week weeks year years today tomorrow not just about again sorry well um uh so but or wife husband "
        "mother father son daughter mom dad his her their stop agent human person representative help can "
        "could would will want need have has had do does did be been number wrong account charge charges "
        "insurance job lost afford spanish english"
    )
)
_STOP_AT = re.compile(r"\b(?:and|born|dob|date|birthday|my|on|from|with|calling)\b.*$", re.I)


def find_name(text: str, dob_span: str | None = None, *, loose: bool = False) -> str | None:
    """A person's full name (2-4 words) introduced ("my name is ...") or, when `loose`, the words left
    over once the date of birth and filler are removed ("Jane Doe, 3/14/1985")."""
    body = text.replace(dob_span, " ") if dob_span else text
    m = _NAME_INTRO.search(body)
    candidate = _STOP_AT.sub("", body[m.end() :]) if m else (body if (loose or dob_span) else "")
    if not m and candidate:
        candidate = re.sub(
            r"\b(?:yes|yeah|sure|ok|okay|hi|hello|it's|its|it is|my|name|is|and|date of birth|dob|birthday|"
            r"born on|born|i was)\b",
            " ",
            candidate,
            flags=re.I,
        )
    words = [w.strip('.,;:!?"') for w in re.split(r"[\s,;:!?]+", candidate) if w.strip('.,;:!?"')]
    if not 2 <= len(words) <= 4:
        return None
    if any(not _NAME_WORD.match(w) or w.lower() in _NOT_NAME for w in words):
        return None
    return " ".join(words)


# ---- plan choices --------------------------------------------------------------------------------

_ORDINAL_CHOICE = {
    "first": 1,
    "one": 1,
    "second": 2,
    "two": 2,
    "third": 3,
    "three": 3,
    "fourth": 4,
    "four": 4,
    "fifth": 5,
    "five": 5,
}
_CHOICE = re.compile(
    r"^\s*(?:(?:option|number|plan|choice|#)\s*)?(\d)\s*[.!)]?\s*$|"
    r"\b(?:option|number|plan|choice|#)\s*(\d|one|two|three|four|five)\b|"
    r"\bthe\s+(first|second|third|fourth|fifth|last)\b|^\s*(first|second|third|fourth|fifth|last)(?:\s+one)?\s*[.!]?\s*$|"
    r"^\s*(one|two|three|four|five)\s*[.!]?\s*$",
    re.I,
)
_MONTHS_SPAN = re.compile(
    r"\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty[\s-]four|"
    r"twenty|twenty[\s-]one|thirty[\s-]six|twenty[\s-]eight)[\s-]*(?:months?|mos?|monthly\s+payments|payments)\b",
    re.I,
)
_SMALL = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "eighteen": 18,
    "twenty": 20,
    "twenty one": 21,
    "twenty four": 24,
    "twenty eight": 28,
    "thirty six": 36,
}


def find_choice(text: str) -> int | None:
    """1-based option number ("2", "option two", "the second one"); -1 means "the last one"."""
    m = _CHOICE.search(text)
    if not m:
        return None
    word = next(g for g in m.groups() if g).lower()
    if word == "last":
        return -1
    return int(word) if word.isdigit() else _ORDINAL_CHOICE[word]


def find_months(text: str) -> int | None:
    """A plan length: "6 months", "twelve months", "18 payments"."""
    m = _MONTHS_SPAN.search(text)
    if not m:
        return None
    word = re.sub(r"[\s-]+", " ", m.group(1).lower())
    return int(word) if word.isdigit() else _SMALL.get(word)


# ---- callback times ------------------------------------------------------------------------------

_CALL_ME = re.compile(
    r"\b(?:call|ring|phone|reach|contact|try)\s+(?:me|us|him|her)?\s*(?:back|again|later)?\s*"
    r"(?:later\s+)?(?:on\s+)?",
    re.I,
)
_TIMEISH = re.compile(
    rf"\b(?:today|tonight|tomorrow|later|morning|afternoon|evening|noon|lunch|week|{_WEEKDAY_RE}|"
    r"\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)?|after|before|around|at|in\s+(?:an?|\d+)\s+(?:hours?|minutes?))\b",
    re.I,
)


def find_when(text: str) -> str | None:
    """The time words of a callback request ("tomorrow after 5", "Monday morning")."""
    m = _CALL_ME.search(text)
    tail = text[m.end() :] if m else text
    t = _TIMEISH.search(tail)
    if not t:
        return None
    return tail[t.start() :].strip(" .,!?") or None

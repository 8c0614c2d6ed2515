"""Scrub transcripts and logs: card numbers, CVV, expiry, dates of birth, SSNs, phones, e-mails.

`redact(text)` replaces, in this order:
- e-mail addresses → "[email]";
- spoken digit runs ("four two four two ...") of 13+ digits → "[card]" (Luhn-valid 13-19) or
  "[number]", and of 10-11 digits → "[phone …0101]";
- digit runs of 13+ digits, possibly grouped by spaces, dashes or ", " → "[card]" when a Luhn-valid
  13-19 digit number, else "[number]" (rules 45-47: never let a PAN through, valid or not);
- SSNs (123-45-6789, or 9 digits after "SSN"/"social security") → "[ssn]";
- a CVV after "cvv"/"cvc"/"security code" → "[cvv]"; an expiry after "exp"/"expires"/"expiration"
  → "[exp]";
- dates with a year (03/14/1985, 3-14-85, 1985-03-14, March 14th 1985, 14 March 1985,
  "march fourteenth nineteen eighty five"), and month+day after "born"/"birthday"/"DOB" → "[dob]";
- phone numbers → "[phone …0101]" (last four only).

`contains_card_number(text)` says whether a Luhn-valid 13-19 digit number is present, written with
digits (grouped or not) or spoken as digit words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "niner": "9",
}  # fmt: skip
_DW = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|niner)"
_SPOKEN_TOKEN = rf"(?:(?:double|triple)\s+{_DW}|{_DW}|\d+)"
_SPOKEN_RUN = re.compile(rf"\b{_SPOKEN_TOKEN}(?:(?:[\s,.-]|\s+and\s+)+{_SPOKEN_TOKEN})+\b", re.IGNORECASE)
# Digits joined by single spaces/dashes, or by ", " between groups of 4+ (an STT card read-out),
# so a spoken list of amounts ("100, 200, 300") is not glued into one long number.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:(?:[ -]|(?<=\d{4}), ?(?=\d{4}))?\d)*", re.ASCII)
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)", re.ASCII)
_SSN_CTX = re.compile(
    r"(\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\b\W{0,6}(?:is\s+|was\s+)?)(\d(?:[\s-]?\d){8})(?!\d)",
    re.IGNORECASE,
)
_CVV = re.compile(
    rf"(\b(?:cvv2?|cvc2?|cid|csc|security\s+code|card\s+code|(?:three|3)[\s-]digit\s+code)\b"
    rf"\W{{0,4}}(?:(?:is|was|it's|number|code)\W{{1,3}})?)(\d(?:[\s-]?\d){{2,3}}|{_DW}(?:[\s,-]+{_DW}){{2,3}})\b",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_EXP = re.compile(
    rf"(\b(?:exp(?:iry|ires|iration|\.)?(?:\s+date)?|valid\s+(?:thru|through)|good\s+(?:thru|through))\b"
    rf"\W{{0,4}}(?:(?:is|on|of|date)\W{{1,3}})?)"
    rf"(\d{{1,2}}\s*[/-]\s*\d{{2,4}}|\d{{4}}\b|{_MONTH}\s*,?\s*(?:\d{{4}}|\d{{2}}))",
    re.IGNORECASE,
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:(?:19|20)\d{2}|'?\d{2})"
_ORD_UNIT = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
_ORD_WORD = (
    rf"(?:(?:twenty|thirty)[\s-]+{_ORD_UNIT}|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|"
    rf"sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|{_ORD_UNIT})"
)
_TENS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_UNITS = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TEENS = r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_YEAR_WORDS = (
    rf"(?:nineteen|twenty)[\s-]+(?:{_TENS}(?:[\s-]+{_UNITS})?|{_TEENS}|oh[\s-]+{_UNITS}|hundred)"
    rf"|two\s+thousand(?:\s+(?:and\s+)?(?:{_TENS}(?:[\s-]+{_UNITS})?|{_TEENS}|{_UNITS}))?"
)
_DOB_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?<![\d/.-])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2}))(?![\d/.-]*\d)",
        rf"\b{_MONTH}\s+{_DAY}(?:\s*,)?\s+(?:of\s+)?{_YEAR}\b",
        rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:\s*,)?\s+{_YEAR}\b",
        rf"\b{_MONTH}\s+(?:the\s+)?{_ORD_WORD}(?:\s*,)?\s+(?:{_YEAR_WORDS})\b",
        rf"\b(?:the\s+)?{_ORD_WORD}\s+of\s+{_MONTH}(?:\s*,)?\s+(?:{_YEAR_WORDS})\b",
    )
]
_DOB_CTX = re.compile(
    rf"(\b(?:born(?:\s+on)?|birth\s*day(?:\s+is)?|date\s+of\s+birth(?:\s+is)?|d\.?o\.?b\.?(?:\s+is)?|birth\s*date)"
    rf"\W{{0,3}})({_MONTH}\s+(?:the\s+)?(?:{_DAY}|{_ORD_WORD})|{_DAY}\s+(?:of\s+)?{_MONTH}|\d{{1,2}}[/-]\d{{1,2}})\b",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\d+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)", re.ASCII)
_INTL_PHONE = re.compile(r"(?<![\d+])\+\d(?:[\s.-]?\d){7,14}(?!\d)", re.ASCII)


def luhn_valid(digits: str) -> bool:
    """The Luhn check used by payment card numbers."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _spoken_digits(run: str) -> str:
    out: list[str] = []
    tokens = re.findall(rf"(?:double|triple)\s+{_DW}|{_DW}|\d+", run, re.IGNORECASE)
    for tok in tokens:
        low = tok.casefold()
        if low.startswith(("double", "triple")):
            out.append(_DIGIT_WORDS[low.split()[-1]] * (2 if low.startswith("double") else 3))
        elif low.isdigit():
            out.append(low)
        else:
            out.append(_DIGIT_WORDS[low])
    return "".join(out)


def _number_label(digits: str) -> str:
    return "[card]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else "[number]"


def _spoken(m: re.Match[str]) -> str:
    run = m.group()
    if not re.search(_DW, run, re.IGNORECASE):
        return run  # plain digits: the digit-run pass handles them
    digits = _spoken_digits(run)
    if len(digits) >= 13:
        return _number_label(digits)
    if len(digits) in (10, 11):
        return f"[phone …{digits[-4:]}]"
    return run


def _digits(m: re.Match[str]) -> str:
    digits = re.sub(r"[^0-9]", "", m.group())
    return _number_label(digits) if len(digits) >= 13 else m.group()


def _phone(m: re.Match[str]) -> str:
    last4 = re.sub(r"[^0-9]", "", m.group())[-4:]
    return f"[phone …{last4}]"


def redact(text: str) -> str:
    """`text` with PCI/PHI-sensitive spans replaced by bracketed labels (see the module docstring)."""
    text = _EMAIL.sub("[email]", text)
    text = _SPOKEN_RUN.sub(_spoken, text)
    text = _DIGIT_RUN.sub(_digits, text)
    text = _SSN_CTX.sub(lambda m: m.group(1) + "[ssn]", text)
    text = _SSN.sub("[ssn]", text)
    text = _CVV.sub(lambda m: m.group(1) + "[cvv]", text)
    text = _EXP.sub(lambda m: m.group(1) + "[exp]", text)
    for pat in _DOB_PATTERNS:
        text = pat.sub("[dob]", text)
    text = _DOB_CTX.sub(lambda m: m.group(1) + "[dob]", text)
    text = _INTL_PHONE.sub(_phone, text)
    return _PHONE.sub(_phone, text)


def _candidates(text: str) -> Iterator[str]:
    for m in _SPOKEN_RUN.finditer(text):
        yield _spoken_digits(m.group())
    for m in _DIGIT_RUN.finditer(text):
        groups = re.findall(r"[0-9]+", m.group())
        yield "".join(groups)
        if len(groups) > 1:  # a card read out next to other numbers: try each span of whole groups
            for i in range(len(groups)):
                acc = ""
                for g in groups[i:]:
                    acc += g
                    if len(acc) > 19:
                        break
                    if len(acc) >= 13:
                        yield acc


def contains_card_number(text: str) -> bool:
    """True when `text` holds a Luhn-valid 13-19 digit number (digits or spoken digit words)."""
    return any(13 <= len(d) <= 19 and luhn_valid(d) for d in _candidates(text))

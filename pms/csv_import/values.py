"""Cell parsers for PMS exports: money, dates, names, ids and contact-preference vocabularies."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from pms.types import Flag, PreferredContact, SmsConsent

CENT = Decimal("0.01")
_PLAIN = re.compile(r"^(\d+(\.\d{1,2})?|\.\d{1,2})$")
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d{1,2})?$")


def parse_money(text: str | None) -> Decimal | None:
    """'$1,234.56' → 1234.56; '(12.00)', '-12.00', '12.00-', '$-12', '12.00 CR' → -12.00; blank → None.

    Raises ValueError for anything else (letters, two decimal points, misplaced commas, >2 decimals).
    """
    t = (text or "").strip()
    if not t:
        return None
    neg = False
    if t.startswith("(") and t.endswith(")"):
        neg, t = True, t[1:-1].strip()
    upper = t.upper()
    if upper.endswith("CR"):
        neg, t = not neg, t[:-2].strip()
    if t.endswith("-"):
        neg, t = not neg, t[:-1].strip()
    sign = re.match(r"^(-?)\s*\$?\s*(-?)", t)  # "-$12.00" and "$-12.00"
    assert sign is not None
    if sign.group(1) and sign.group(2):
        raise ValueError(f"not an amount: {text!r}")
    if sign.group(1) or sign.group(2):
        neg = not neg
    t = t[sign.end() :]
    if _GROUPED.match(t):
        t = t.replace(",", "")
    elif not _PLAIN.match(t):
        raise ValueError(f"not an amount: {text!r}")
    try:
        value = Decimal(t).quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - the regexes only pass valid decimals
        raise ValueError(f"not an amount: {text!r}") from exc
    return -value if neg and value else value


def parse_date(text: str | None, *, pivot_year: int) -> date | None:
    """MM/DD/YYYY, M/D/YY, YYYY-MM-DD (optionally with a time); '0001-01-01' and blank → None.

    Two-digit years above `pivot_year % 100` are read as 19xx (birthdays), others as 20xx.
    """
    t = (text or "").strip()
    if not t or t.startswith("0001-01-01"):
        return None
    t = t.split(" ")[0].split("T")[0]
    try:
        if "-" in t and len(t.split("-")[0]) == 4:
            return date.fromisoformat(t)
        parts = t.replace("-", "/").split("/")
        if len(parts) != 3:
            raise ValueError
        month, day, year = (int(p) for p in parts)
        if len(parts[2]) == 2:
            pivot = pivot_year % 100
            year += 1900 if year > pivot else 2000
        elif len(parts[2]) != 4:
            raise ValueError
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"not a date: {text!r}") from exc


_PAREN = re.compile(r"\s*\([^)]*\)")


def split_name(text: str) -> tuple[str, str] | None:
    """'Last, First' → (first, last). 'First Last' (no comma) → (first, last). Blank → None.

    A parenthesised preferred name ("Carter, Emily (Em)") is dropped.
    """
    t = _PAREN.sub("", text or "").strip().strip(",").strip()
    if not t:
        return None
    if "," in t:
        last, first = (s.strip() for s in t.split(",", 1))
        if not last:
            return None
        return first, last
    parts = t.split()
    if len(parts) == 1:
        return "", parts[0]
    return " ".join(parts[:-1]), parts[-1]


def fold(text: str) -> str:
    """Case- and accent-insensitive key: 'Hernández' == 'HERNANDEZ'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def clean_id(text: str | None) -> str:
    """'  123 ' → '123'; Excel's '123.0' → '123'."""
    t = (text or "").strip()
    if re.fullmatch(r"\d+\.0+", t):
        t = t.split(".")[0]
    return t


def derived_id(first: str, last: str, phone: str | None, dob: date | None) -> str:
    """A stable id for a row without one: the same person re-imported maps to the same account."""
    key = "|".join((fold(last), fold(first), phone or "", dob.isoformat() if dob else ""))
    return "csv-" + hashlib.sha256(key.encode()).hexdigest()[:12]


_YES = {"yes", "y", "true", "t", "1", "ok", "optin", "opted-in", "optedin"}
_NO = {"no", "n", "false", "f", "0", "optout", "opted-out", "optedout", "stop"}


def parse_sms(text: str | None) -> SmsConsent:
    t = (text or "").strip().casefold().replace(" ", "")
    if t in _YES:
        return "yes"
    if t in _NO:
        return "no"
    return "unknown"


_PREFERRED: dict[str, PreferredContact] = {
    "none": "none",
    "": "none",
    "seenotes": "none",
    "mobile": "mobile",
    "cell": "mobile",
    "wirelessph": "mobile",
    "wirelessphone": "mobile",
    "cellphone": "mobile",
    "phone": "mobile",
    "text": "text",
    "textmessage": "text",
    "sms": "text",
    "email": "email",
    "e-mail": "email",
    "home": "home",
    "hmphone": "home",
    "homephone": "home",
    "work": "work",
    "wkphone": "work",
    "workphone": "work",
    "mail": "mail",
    "letter": "mail",
    "donotcall": "do_not_call",
    "do_not_call": "do_not_call",
    "dnc": "do_not_call",
}


def parse_preferred(text: str | None) -> PreferredContact | None:
    """Open Dental's PreferContactMethod names, ours, and common words; None when unrecognised."""
    t = (text or "").strip().casefold().replace(" ", "")
    return _PREFERRED.get(t)


_LANGUAGES = {
    "": "en",
    "en": "en",
    "eng": "en",
    "english": "en",
    "es": "es",
    "spa": "es",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "vi": "vi",
    "vie": "vi",
    "vietnamese": "vi",
    "so": "so",
    "som": "so",
    "somali": "so",
    "ru": "ru",
    "rus": "ru",
    "russian": "ru",
    "hmn": "hmn",
    "hmong": "hmn",
    "ar": "ar",
    "ara": "ar",
    "arabic": "ar",
    "fr": "fr",
    "fra": "fr",
    "fre": "fr",
    "french": "fr",
    "zh": "zh",
    "zho": "zh",
    "chi": "zh",
    "chinese": "zh",
    "de": "de",
    "deu": "de",
    "ger": "de",
    "german": "de",
    "pl": "pl",
    "pol": "pl",
    "polish": "pl",
}


def parse_language(text: str | None) -> str | None:
    """ISO 639-1 where one exists ('hmn' for Hmong); None when unrecognised."""
    t = (text or "").strip().casefold()
    if t in _LANGUAGES:
        return _LANGUAGES[t]
    return t if re.fullmatch(r"[a-z]{2}", t) else None


def parse_status(text: str | None) -> str | None:
    t = (text or "").strip().casefold()
    if t in ("", "active", "patient", "a"):
        return "active"
    if t in ("inactive", "archived", "nonpatient", "non-patient", "prospective", "i"):
        return "inactive"
    if t in ("deceased", "d", "dead"):
        return "deceased"
    return None


_NOTE_FLAGS = (
    (re.compile(r"attorney|bankrupt|lawyer|legal counsel|cease (and|&) desist", re.I), Flag.ATTORNEY),
    (
        re.compile(r"collection agency|collections agency|placed with .*agency|sent to agency", re.I),
        Flag.AGENCY,
    ),
    (re.compile(r"\bdeceased\b|\bpassed away\b", re.I), Flag.DECEASED),
    (re.compile(r"\bdisput", re.I), Flag.DISPUTE),
    (re.compile(r"\bhardship\b", re.I), Flag.HARDSHIP),
    (re.compile(r"\bwrong number\b", re.I), Flag.WRONG_NUMBER),
)
PATIENT_LEVEL_FLAGS = frozenset({Flag.ATTORNEY.value, Flag.DECEASED.value, Flag.WRONG_NUMBER.value})


def flags_from_note(note: str) -> frozenset[str]:
    """Flags a staff note implies ("attorney / bankruptcy – do not contact" → attorney)."""
    return frozenset(flag.value for rx, flag in _NOTE_FLAGS if rx.search(note or ""))

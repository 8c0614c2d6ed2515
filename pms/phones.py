"""Phone-number normalisation: whatever a PMS stored → E.164, or None when it is not a number."""

from __future__ import annotations

import re

import phonenumbers

_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)


def to_e164(raw: str | None, default_region: str = "US") -> str | None:
    """Normalise a messy phone string ("(312) 555-0101", "312.555.0101 ext 4", "+1 312 555 0101",
    "3125550101", "1-312-555-0101") to E.164 ("+13125550101").

    Extensions are dropped (an extension cannot be dialled or texted as part of E.164). Returns None
    for empty input, text that is not a phone number, or a number that is not valid for its region.
    """
    if raw is None:
        return None
    text = _EXTENSION.sub("", str(raw).strip())
    if not text or not any(ch.isdigit() for ch in text):
        return None
    if text.startswith("00"):  # international call prefix written instead of "+"
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


__all__ = ["to_e164"]

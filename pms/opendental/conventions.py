"""Open Dental's wire conventions, both ways.

Booleans are the strings "true"/"false"; money is sometimes a string, sometimes a number
(always parsed through `Decimal(str(x))`); dates are "yyyy-MM-dd" with "0001-01-01" meaning none;
datetimes are office-local "yyyy-MM-dd HH:mm:ss" without an offset, so they need the practice's
time zone to become timezone-aware.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

NO_DATE = "0001-01-01"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def od_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def od_money(value: Any) -> Decimal:
    """ "1234.5", 1234.5, "" and None → Decimal with cents (empty means zero)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ZERO
    try:
        return Decimal(str(value).strip().replace(",", "")).quantize(CENT)
    except InvalidOperation:
        raise ValueError(f"not an Open Dental money value: {value!r}") from None


def od_date(value: Any) -> date | None:
    text = str(value or "").strip()[:10]
    if not text or text == NO_DATE:
        return None
    return date.fromisoformat(text)


def od_datetime(value: Any, tz: ZoneInfo) -> datetime | None:
    """Office-local "yyyy-MM-dd HH:mm:ss" (or with a "T") → aware datetime in the practice zone."""
    text = str(value or "").strip()
    if not text or text.startswith(NO_DATE):
        return None
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    if parsed.tzinfo is not None:
        return parsed
    return parsed.replace(tzinfo=tz)


def od_int(value: Any) -> int:
    return int(str(value).strip() or 0)


def to_od_bool(value: bool) -> str:
    return "true" if value else "false"


def to_od_money(value: Decimal) -> str:
    return f"{value.quantize(CENT):.2f}"


def to_od_date(value: date | None) -> str:
    return value.isoformat() if value else NO_DATE


def to_od_datetime(value: datetime, tz: ZoneInfo) -> str:
    """An aware datetime as office-local wall time, the way Open Dental stores it."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: Open Dental datetimes need a time zone to convert from")
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def od_id(value: Any) -> str:
    """Primary keys (PatNum, ClaimNum, …) as our string ids; 0 / "" mean none."""
    text = str(value if value is not None else "").strip()
    return "" if text in ("", "0") else text

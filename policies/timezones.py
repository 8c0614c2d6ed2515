"""Where is the patient? Candidate IANA zones from the PMS field, the phone's area code and the address.

Rule 6: when the sources disagree (or one source spans several zones) the patient may be in any of
them, so the compliance gate applies the contact window in *every* candidate zone (the
intersection of the windows). When nothing is known the policy decides: block, or intersect the
windows of all US zones (`compliance.unknown_timezone`).

Everything expensive (phone parsing, ZoneInfo construction, geocoding) is cached by area-code
prefix or zone name, so the hot path is dictionary look-ups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as pn_timezone

from pms.types import Patient
from policies.config import PracticePolicy

# Zones people in each state may be in. States split across zones list every zone (rule 6 → the
# window narrows to the overlap unless the PMS time zone says which side the patient is on).
# Arizona lists only Phoenix: the Navajo Nation's DST is too small a population to narrow every
# Arizona patient's window by an hour; set the patient's `timezone` for those patients.
STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",), "AK": ("America/Anchorage", "America/Adak"), "AZ": ("America/Phoenix",),
    "AR": ("America/Chicago",), "CA": ("America/Los_Angeles",), "CO": ("America/Denver",),
    "CT": ("America/New_York",), "DE": ("America/New_York",), "DC": ("America/New_York",),
    "FL": ("America/New_York", "America/Chicago"), "GA": ("America/New_York",),
    "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", "America/Los_Angeles"),
    "IL": ("America/Chicago",), "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "IA": ("America/Chicago",), "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"), "LA": ("America/Chicago",),
    "ME": ("America/New_York",), "MD": ("America/New_York",), "MA": ("America/New_York",),
    "MI": ("America/Detroit", "America/Menominee"), "MN": ("America/Chicago",),
    "MS": ("America/Chicago",), "MO": ("America/Chicago",), "MT": ("America/Denver",),
    "NE": ("America/Chicago", "America/Denver"), "NV": ("America/Los_Angeles",),
    "NH": ("America/New_York",), "NJ": ("America/New_York",), "NM": ("America/Denver",),
    "NY": ("America/New_York",), "NC": ("America/New_York",), "ND": ("America/Chicago", "America/Denver"),
    "OH": ("America/New_York",), "OK": ("America/Chicago",), "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",), "RI": ("America/New_York",), "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"), "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"), "UT": ("America/Denver",), "VT": ("America/New_York",),
    "VA": ("America/New_York",), "WA": ("America/Los_Angeles",), "WV": ("America/New_York",),
    "WI": ("America/Chicago",), "WY": ("America/Denver",),
    "PR": ("America/Puerto_Rico",), "VI": ("America/St_Thomas",), "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",), "AS": ("Pacific/Pago_Pago",),
}  # fmt: skip

# The fallback when nothing is known and the policy says `us_intersection`: the 50 states. Their
# 08:00-21:00 windows overlap (roughly 14:00-21:00 Eastern); the Pacific territories would not.
US_ZONES: tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)

STATE_NAMES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "washington d.c.": "DC", "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID",
    "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "washington state": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip

T = TypeVar("T")

# A phone number that maps to more zones than this says nothing about where the person is
# (toll-free and non-geographic numbers map to every NANP zone).
_MAX_INFORMATIVE_PHONE_ZONES = 4


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo (raises ZoneInfoNotFoundError/ValueError for an unknown name)."""
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def valid_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _prefix_key(e164: str) -> str:
    # NANP time-zone and geocoding data go no deeper than +1 NPA NXX: cache by that prefix.
    return e164[:8] if e164.startswith("+1") and len(e164) == 12 else e164


_BY_PREFIX: dict[tuple[str, str], object] = {}  # (what, prefix) -> zones / state; pure look-up memo


def _memo(what: str, e164: str, compute: Callable[[str], T]) -> T:
    key = (what, _prefix_key(e164))
    if key in _BY_PREFIX:
        return _BY_PREFIX[key]  # type: ignore[return-value]
    value = compute(e164)
    if len(_BY_PREFIX) >= 200_000:
        _BY_PREFIX.clear()
    _BY_PREFIX[key] = value
    return value


def _parse(e164: str) -> phonenumbers.PhoneNumber:
    """`phonenumbers.parse(e164, None)`, without its generic parser for plain NANP numbers.

    "+1" + ten digits with an area code starting 2-9 parses to exactly this object (no national
    prefix to strip, no extension, valid length); anything else takes the library's parser."""
    if len(e164) == 12 and e164[:2] == "+1" and e164[2] in "23456789" and e164[2:].isdigit():
        return phonenumbers.PhoneNumber(country_code=1, national_number=int(e164[2:]))
    return phonenumbers.parse(e164, None)


def _lookup_zones(e164: str) -> tuple[str, ...]:
    try:
        num = _parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in pn_timezone.time_zones_for_number(num) if z != "Etc/Unknown")
    if len(zones) > _MAX_INFORMATIVE_PHONE_ZONES:
        return ()
    return tuple(z for z in zones if valid_zone(z))


@lru_cache(maxsize=262_144)
def phone_zones(e164: str | None) -> tuple[str, ...]:
    """Zones the number's area code covers; () when unknown, non-geographic or not a phone number.

    Cached per number (one C-level look-up on the hot path) over the per-prefix memo."""
    if not e164 or not e164.startswith("+"):
        return ()
    return _memo("zones", e164, _lookup_zones)


def _lookup_state(e164: str) -> str | None:
    try:
        num = _parse(e164)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(num)
    if region != "US":
        return "PR" if region == "PR" else None
    desc = geocoder.description_for_number(num, "en").strip()
    if len(desc) > 4 and desc[-4:-2] == ", " and desc[-2:].isupper():
        return desc[-2:]
    return STATE_NAMES.get(desc.casefold())


@lru_cache(maxsize=262_144)
def phone_state(e164: str | None) -> str | None:
    """The US state of the number's area code (e.g. "FL" for +1305...), None when unknown."""
    if not e164 or not e164.startswith("+"):
        return None
    return _memo("state", e164, _lookup_state)


@dataclass(frozen=True, slots=True)
class ZoneResolution:
    """Candidate zones (apply the window in every one), the zone used for calendar days, and why."""

    zones: tuple[str, ...]
    primary: str | None  # the patient's most likely zone: calendar days and display
    sources: tuple[tuple[str, tuple[str, ...]], ...]  # ("timezone"|"state"|"phone"|"fallback", zones)
    reason: str  # "ok", "ambiguous" (several zones), "fallback_us", or "unknown"


def resolve_zones(patient: Patient, phone: str | None, policy: PracticePolicy) -> ZoneResolution:
    """All candidate zones for contacting `patient` at `phone` (None for e-mail: all their phones)."""
    if phone:
        return resolve_phone(patient.timezone, patient.state, phone, policy.compliance.unknown_timezone)
    phones: tuple[str, ...] = (phone,) if phone else tuple(c.value for c in patient.phones)
    by_phone = tuple(pz for pz in (phone_zones(p) for p in phones) if pz)
    return _resolve(
        patient.timezone, (patient.state or "").upper(), by_phone, policy.compliance.unknown_timezone
    )


@lru_cache(maxsize=262_144)
def resolve_phone(tz: str | None, state: str | None, phone: str, unknown: str) -> ZoneResolution:
    """`resolve_zones` for one phone number, from the patient's PMS zone and state (cached)."""
    pz = phone_zones(phone)
    return _resolve(tz, (state or "").upper(), (pz,) if pz else (), unknown)


@lru_cache(maxsize=65536)
def _resolve(
    tz: str | None, state: str, by_phone: tuple[tuple[str, ...], ...], unknown: str
) -> ZoneResolution:
    explicit = tz if valid_zone(tz) else None
    sources: list[tuple[str, tuple[str, ...]]] = []
    if explicit:
        sources.append(("timezone", (explicit,)))
    if state in STATE_ZONES:
        sources.append(("state", STATE_ZONES[state]))
    sources.extend(("phone", pz) for pz in by_phone)
    if explicit:
        # A multi-zone source that includes the PMS zone is consistent with it: narrow to it.
        ex = _canonical(explicit)
        sources = [
            (kind, (explicit,)) if len(zs) > 1 and ex in {_canonical(z) for z in zs} else (kind, zs)
            for kind, zs in sources
        ]
    zones: list[str] = []
    for _, zs in sources:
        zones.extend(z for z in zs if z not in zones)
    if not zones:
        if unknown == "us_intersection":
            return ZoneResolution(US_ZONES, US_ZONES[0], (("fallback", US_ZONES),), "fallback_us")
        return ZoneResolution((), None, (), "unknown")
    distinct = {_canonical(z) for z in zones}
    return ZoneResolution(tuple(zones), zones[0], tuple(sources), "ambiguous" if len(distinct) > 1 else "ok")


def patient_windows(patient: Patient, phone: str | None, policy: PracticePolicy) -> list[str]:
    """Candidate IANA zones for the contact window (rule 6); [] means unknown → the gate blocks.

    With `compliance.unknown_timezone: us_intersection` an unknown location yields the US zones.
    """
    return list(resolve_zones(patient, phone, policy).zones)


# Zones whose rules have been identical to another's since 2007: evaluating both is wasted work.
_EQUIVALENT = {
    "America/Detroit": "America/New_York",
    "America/Indiana/Indianapolis": "America/New_York",
    "America/Kentucky/Louisville": "America/New_York",
    "America/Fort_Wayne": "America/New_York",
    "US/Eastern": "America/New_York",
    "US/Central": "America/Chicago",
    "America/Menominee": "America/Chicago",
    "US/Mountain": "America/Denver",
    "America/Boise": "America/Denver",
    "US/Arizona": "America/Phoenix",
    "US/Pacific": "America/Los_Angeles",
    "US/Hawaii": "Pacific/Honolulu",
}


def _canonical(name: str) -> str:
    return _EQUIVALENT.get(name, name)


@lru_cache(maxsize=4096)
def distinct_zones(names: tuple[str, ...]) -> tuple[ZoneInfo, ...]:
    """The ZoneInfo objects to evaluate for `names`, one per distinct set of rules."""
    seen: dict[str, ZoneInfo] = {}
    for n in names:
        c = _canonical(n)
        if c not in seen:
            seen[c] = zone(c)
    return tuple(seen.values())

"""Candidate zones from the PMS zone, the area code and the address state (rule 6)."""

from __future__ import annotations

import pytest

from policies.config import PracticePolicy
from policies.timezones import US_ZONES, patient_windows, phone_state, phone_zones, resolve_zones

from .conftest import patient, policy


@pytest.mark.parametrize(
    ("phone", "tz", "state", "expected"),
    [
        ("+13125550101", "America/Chicago", "IL", ["America/Chicago"]),
        ("+13125550101", None, None, ["America/Chicago"]),  # area code only
        ("+15555550101", None, "CA", ["America/Los_Angeles"]),  # unassigned area code, address only
        ("+15555550101", "America/Denver", None, ["America/Denver"]),  # PMS zone only
        # rule 6 example: Eastern mobile + Pacific address → both (window = intersection)
        ("+12125550101", None, "CA", ["America/Los_Angeles", "America/New_York"]),
        # Texas spans Central and Mountain; a Dallas number adds nothing new
        ("+12145550101", None, "TX", ["America/Chicago", "America/Denver"]),
        # ...but the PMS zone says which side of Texas the patient is on
        ("+19155550101", "America/Denver", "TX", ["America/Denver"]),
        # toll-free numbers say nothing about location
        ("+18005550101", None, "IL", ["America/Chicago"]),
        ("+19075550101", None, None, ["America/Anchorage", "America/Adak"]),
        ("+18085550101", None, "HI", ["Pacific/Honolulu"]),
    ],
)
def test_candidate_zones(
    demo: PracticePolicy, phone: str, tz: str | None, state: str | None, expected: list[str]
) -> None:
    assert sorted(patient_windows(patient(phone, tz=tz, state=state), phone, demo)) == sorted(expected)


def test_unknown_location_blocks_by_default(demo: PracticePolicy) -> None:
    p = patient("+15555550101", tz=None, state=None)
    assert patient_windows(p, "+15555550101", demo) == []
    res = resolve_zones(p, "+15555550101", demo)
    assert res.reason == "unknown" and res.primary is None


def test_unknown_location_can_fall_back_to_every_us_zone() -> None:
    pol = policy(unknown_timezone="us_intersection")
    p = patient("+15555550101", tz=None, state=None)
    assert patient_windows(p, "+15555550101", pol) == list(US_ZONES)
    assert resolve_zones(p, "+15555550101", pol).reason == "fallback_us"


def test_invalid_pms_zone_is_ignored(demo: PracticePolicy) -> None:
    assert patient_windows(patient("+15555550101", tz="Not/AZone", state="NY"), None, demo) == [
        "America/New_York"
    ]


def test_email_uses_all_the_patients_phones(demo: PracticePolicy) -> None:
    p = patient("+12065550101", tz=None, state=None)
    assert patient_windows(p, None, demo) == ["America/Los_Angeles"]


def test_ambiguity_is_reported(demo: PracticePolicy) -> None:
    res = resolve_zones(patient("+12125550101", tz=None, state="CA"), "+12125550101", demo)
    assert res.reason == "ambiguous"
    assert dict(res.sources)["state"] == ("America/Los_Angeles",)
    same = resolve_zones(patient("+13135550101", tz=None, state="MI"), "+13135550101", demo)
    assert same.reason == "ambiguous"  # Michigan's Upper Peninsula runs on Central time


@pytest.mark.parametrize(
    ("phone", "state"),
    [
        ("+13055550101", "FL"),
        ("+14055550101", "OK"),
        ("+16175550101", "MA"),
        ("+13125550101", "IL"),
        ("+12065550101", "WA"),
        ("+18005550101", None),
        ("+447911123456", None),
        ("not a phone", None),
    ],
)
def test_area_code_state(phone: str, state: str | None) -> None:
    assert phone_state(phone) == state


def test_phone_zones_of_garbage() -> None:
    assert phone_zones(None) == ()
    assert phone_zones("+1") == ()
    assert phone_zones("3125550101") == ()


def test_nanp_fast_parse_is_the_library_parse() -> None:
    import random

    import phonenumbers

    from policies.timezones import _parse

    rng = random.Random(5)
    numbers = [
        f"+1{rng.randrange(200, 1000)}{rng.randrange(1000):03d}{rng.randrange(10_000):04d}"
        for _ in range(3000)
    ]
    numbers += ["+18005550100", "+17875550100", "+14165550100", "+12025550123", "+1202555012", "+11025550123"]
    for e164 in numbers:
        try:
            expected = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            continue
        assert repr(_parse(e164)) == repr(expected), e164
        assert _parse(e164) == expected, e164

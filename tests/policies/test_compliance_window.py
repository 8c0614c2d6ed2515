"""Rule 5/6 windows: patient-local [08:00, 21:00) in every candidate zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pms.types import ContactPoint, Patient
from policies.compliance import check
from policies.config import PracticePolicy
from policies.types import ContactAction, ContactHistory, InconvenientTime

from .conftest import at, consents, policy

NO_HOLIDAYS = policy(no_contact_on_holidays=False, state_profiles={})  # just the 08:00-21:00 rule
OTHER = "+15555550123"  # no area-code zone: the patient's timezone field decides


def _patient(tz: str | None, phone: str = OTHER, state: str | None = None) -> Patient:
    return Patient(
        "p", "p", "Ann", "Lee", None, contacts=(ContactPoint("phone", phone),), timezone=tz, state=state
    )


def _check(
    p: Patient, now: datetime, pol: PracticePolicy = NO_HOLIDAYS, phone: str = OTHER
) -> tuple[bool, str, datetime | None]:
    d = check(ContactAction("voice", phone), p, None, ContactHistory(consents=consents(phone)), pol, now)
    return d.allowed, d.reason, d.next_allowed_at


ZONES = [
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/New_York",
    "America/Chicago",
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("day", "hm", "allowed"),
    [
        ((2025, 1, 15), (7, 59), False),
        ((2025, 1, 15), (8, 0), True),
        ((2025, 1, 15), (20, 59), True),
        ((2025, 1, 15), (21, 0), False),
        # US DST starts 2025-03-09 and ends 2025-11-02: the wall clock rules still hold
        ((2025, 3, 9), (7, 59), False),
        ((2025, 3, 9), (8, 0), True),
        ((2025, 3, 9), (20, 59), True),
        ((2025, 3, 9), (21, 0), False),
        ((2025, 11, 2), (7, 59), False),
        ((2025, 11, 2), (8, 0), True),
        ((2025, 11, 2), (20, 59), True),
        ((2025, 11, 2), (21, 0), False),
    ],
)
def test_window_edges(zone: str, day: tuple[int, int, int], hm: tuple[int, int], allowed: bool) -> None:
    now = at(zone, *day, *hm)
    ok, reason, nxt = _check(_patient(zone), now)
    assert ok is allowed
    if not allowed:
        assert reason == "outside_window"
        assert nxt is not None and nxt > now
        local = nxt.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (8, 0)
        assert local.date() == (now.date() if hm < (8, 0) else now.date() + timedelta(days=1))


def test_next_allowed_across_spring_forward() -> None:
    # 22:00 CST Saturday before DST starts → 08:00 CDT Sunday, which is only 9 real hours later
    now = at("America/Chicago", 2025, 3, 8, 22, 0)
    _, _, nxt = _check(_patient("America/Chicago"), now)
    assert nxt is not None
    assert nxt.astimezone(UTC) == datetime(2025, 3, 9, 13, 0, tzinfo=UTC)
    assert nxt.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=9)


def test_rule6_example_eastern_mobile_pacific_address_is_11_to_21_eastern() -> None:
    p = _patient(None, phone="+12125550101", state="CA")
    phone = "+12125550101"
    for hm, allowed in [((10, 59), False), ((11, 0), True), ((20, 59), True), ((21, 0), False)]:
        now = at("America/New_York", 2025, 6, 11, *hm)
        assert _check(p, now, phone=phone)[0] is allowed, hm
    _, _, nxt = _check(p, at("America/New_York", 2025, 6, 11, 9, 0), phone=phone)
    assert nxt == at("America/New_York", 2025, 6, 11, 11, 0)


def test_unknown_zone_blocks_or_intersects_all_us_zones() -> None:
    p = _patient(None)
    ok, reason, nxt = _check(p, at("America/Chicago", 2025, 6, 11, 12, 0))
    assert (ok, reason, nxt) == (False, "unknown_timezone", None)
    pol = policy(no_contact_on_holidays=False, unknown_timezone="us_intersection")
    # 08:00 in Honolulu (HST, UTC-10) is 14:00 EDT; 21:00 EDT is the close
    assert _check(p, at("America/New_York", 2025, 6, 11, 13, 59), pol)[0] is False
    assert _check(p, at("America/New_York", 2025, 6, 11, 14, 0), pol)[0] is True
    assert _check(p, at("America/New_York", 2025, 6, 11, 20, 59), pol)[0] is True
    assert _check(p, at("America/New_York", 2025, 6, 11, 21, 0), pol)[0] is False


def test_zones_whose_windows_never_overlap() -> None:
    # Any two 13-hour daily windows overlap, but "not before 19:00" leaves 19:00-21:00, which in
    # New York and Los Angeles never coincide.
    p = _patient(None, phone="+12125550101", state="CA")
    h = ContactHistory(
        consents=consents("+12125550101"), inconvenient=(InconvenientTime(not_before=time(19, 0)),)
    )
    d = check(
        ContactAction("voice", "+12125550101"),
        p,
        None,
        h,
        NO_HOLIDAYS,
        at("America/New_York", 2025, 6, 11, 12),
    )
    assert (d.allowed, d.reason, d.next_allowed_at) == (False, "no_common_window", None)
    assert "inconvenient_time" in d.blocked_by


# --- properties -----------------------------------------------------------------------------------

PROPERTY_ZONES = [
    *ZONES,
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Havana",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
    "Europe/Berlin",
    "America/Santiago",
]
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)


def _in_window(zone: str, t: datetime) -> bool:
    loc = t.astimezone(ZoneInfo(zone))
    return (8, 0) <= (loc.hour, loc.minute) < (21, 0)


@settings(max_examples=200, deadline=None)
@given(now=instants, zone=st.sampled_from(PROPERTY_ZONES))
def test_property_single_zone(now: datetime, zone: str) -> None:
    p = _patient(zone)
    ok, _, nxt = _check(p, now)
    assert ok == _in_window(zone, now)
    if ok:
        assert nxt is None
        return
    assert nxt is not None and nxt >= now
    assert _in_window(zone, nxt)
    assert _check(p, nxt)[0] is True
    # earliest: one second before, it was still closed
    assert not _in_window(zone, nxt - timedelta(seconds=1))
    assert nxt - now <= timedelta(hours=26)


@settings(max_examples=200, deadline=None)
@given(
    now=instants,
    state=st.sampled_from(["CA", "TX", "FL", "AK", "HI", "AZ", "IN", "NY", "OR"]),
    phone=st.sampled_from(["+12125550101", "+13125550101", "+12065550101", "+16025550101", "+19075550101"]),
)
def test_property_intersection_of_zones(now: datetime, state: str, phone: str) -> None:
    p = _patient(None, phone=phone, state=state)
    from policies.timezones import patient_windows

    zones = patient_windows(p, phone, NO_HOLIDAYS)
    ok, reason, nxt = _check(p, now, phone=phone)
    assert ok == all(_in_window(z, now) for z in zones)
    if not ok:
        assert reason == "outside_window"
        assert nxt is not None and nxt >= now
        assert all(_in_window(z, nxt) for z in zones)
        assert not all(_in_window(z, nxt - timedelta(seconds=1)) for z in zones)

"""Frequency (rules 9-14), pauses, holidays and patient times; next_allowed_at is right."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from pms.types import AccountSummary, Aging, ContactPoint, Patient
from policies.compliance import check
from policies.config import PracticePolicy
from policies.types import Attempt, ContactAction, ContactHistory, Decision, InconvenientTime

from .conftest import MOBILE, at, consents, history, patient, policy

CHI = "America/Chicago"
PLAIN = policy(state_profiles={})
DEMO = policy()
CALL = ContactAction("voice", MOBILE)
SMS = ContactAction("sms", MOBILE)


def calls(*days: int, hour: int = 10, **kw: object) -> tuple[Attempt, ...]:
    """Outbound calls on June 2025 days at `hour` Chicago time (2025-06-02 is a Monday)."""
    return tuple(Attempt("voice", at(CHI, 2025, 6, d, hour), MOBILE, **kw) for d in days)  # type: ignore[arg-type]


def decide(
    h: ContactHistory,
    now: datetime,
    action: ContactAction = CALL,
    pol: PracticePolicy = PLAIN,
    p: Patient | None = None,
    account: AccountSummary | None = None,
) -> Decision:
    return check(action, p or patient(), account, h, pol, now)


def test_rule9_seven_calls_mon_to_sun_blocks_the_eighth_until_monday() -> None:
    h = history(attempts=calls(2, 3, 4, 5, 6, 7, 8))
    d = decide(h, at(CHI, 2025, 6, 8, 15))
    assert (d.allowed, d.reason) == (False, "call_cap_7_days")
    assert d.next_allowed_at == at(CHI, 2025, 6, 9, 8)
    assert decide(h, at(CHI, 2025, 6, 9, 8)).allowed
    assert not decide(h, at(CHI, 2025, 6, 9, 7, 59)).allowed


def test_rule9_counts_every_number_but_not_inbound_or_consented_calls() -> None:
    other = tuple(Attempt("voice", at(CHI, 2025, 6, d, 10), "+13125550177") for d in (2, 3, 4))
    assert (
        decide(history(attempts=calls(5, 6, 7, 8) + other), at(CHI, 2025, 6, 8, 15)).reason
        == "call_cap_7_days"
    )
    assert decide(
        history(attempts=calls(2, 3, 4, 5, 6, 7, 8, direction="inbound")), at(CHI, 2025, 6, 8, 15)
    ).allowed
    assert decide(
        history(attempts=calls(2, 3, 4, 5, 6, 7, 8, with_consent=True)), at(CHI, 2025, 6, 8, 15)
    ).allowed
    assert decide(history(attempts=calls(2, 3, 4, 5, 6, 7)), at(CHI, 2025, 6, 8, 15)).allowed


def test_rule10_conversation_monday_blocks_through_sunday() -> None:
    convo = (Attempt("voice", at(CHI, 2025, 6, 2, 10), MOBILE, direction="inbound", conversation=True),)
    h = history(attempts=convo)
    d = decide(h, at(CHI, 2025, 6, 8, 12))
    assert (d.allowed, d.reason) == (False, "conversation_cooldown")
    assert d.next_allowed_at == at(CHI, 2025, 6, 9, 8)
    assert decide(h, at(CHI, 2025, 6, 9, 8)).allowed
    # texts are not telephone calls
    assert decide(h, at(CHI, 2025, 6, 3, 12), SMS).allowed


def test_a_call_the_patient_asked_for_skips_cooldown_and_cap() -> None:
    convo = (Attempt("voice", at(CHI, 2025, 6, 2, 10), MOBILE, conversation=True),)
    h = history(attempts=convo + calls(3, 4, 5, 6, 7, 8))
    asked = ContactAction("voice", MOBILE, purpose="callback", requested_at=at(CHI, 2025, 6, 2, 10, 5))
    assert decide(h, at(CHI, 2025, 6, 8, 12), asked).allowed
    stale = ContactAction("voice", MOBILE, purpose="callback", requested_at=at(CHI, 2025, 5, 20, 10))
    assert decide(h, at(CHI, 2025, 6, 8, 12), stale).reason == "conversation_cooldown"


def test_sms_caps_per_day_and_week() -> None:
    one = (Attempt("sms", at(CHI, 2025, 6, 10, 9), MOBILE),)
    d = decide(history(attempts=one), at(CHI, 2025, 6, 10, 15), SMS)
    assert (d.reason, d.next_allowed_at) == ("sms_cap_day", at(CHI, 2025, 6, 11, 8))
    week = tuple(Attempt("sms", at(CHI, 2025, 6, day, 9), MOBILE) for day in (6, 8, 10))
    d = decide(history(attempts=week), at(CHI, 2025, 6, 11, 15), SMS)
    assert (d.reason, d.next_allowed_at) == ("sms_cap_7_days", at(CHI, 2025, 6, 13, 8))
    uncounted = tuple(
        Attempt("sms", at(CHI, 2025, 6, day, 9), MOBILE, counted=False) for day in (8, 9, 10, 11)
    )
    assert decide(history(attempts=uncounted), at(CHI, 2025, 6, 11, 15), SMS).allowed


def test_email_cap() -> None:
    mails = tuple(Attempt("email", at(CHI, 2025, 6, day, 9), "ann@example.com") for day in (9, 10, 11))
    d = decide(history(attempts=mails), at(CHI, 2025, 6, 12, 15), ContactAction("email", "ann@example.com"))
    assert (d.reason, d.next_allowed_at) == ("email_cap_7_days", at(CHI, 2025, 6, 16, 8))


def test_massachusetts_two_contacts_per_week_across_calls_and_texts(demo: PracticePolicy) -> None:
    ma = patient("+16175550101", tz="America/New_York", state="MA")
    texts = tuple(Attempt("sms", at("America/New_York", 2025, 6, d, 10), "+16175550101") for d in (9, 11))
    h = history(to="+16175550101", attempts=texts)
    now = at("America/New_York", 2025, 6, 12, 12)
    for action in (ContactAction("sms", "+16175550101"), ContactAction("voice", "+16175550101")):
        d = check(action, ma, None, h, demo, now)
        assert (d.allowed, d.reason) == (False, "state_cap:MA")
        assert d.next_allowed_at == at("America/New_York", 2025, 6, 16, 8)
    # not in Massachusetts: the general caps (3 texts a week) allow a call
    assert check(
        ContactAction("voice", "+16175550101"),
        patient("+16175550101", tz="America/New_York", state="NY"),
        None,
        h,
        demo,
        now,
    ).allowed


def test_massachusetts_work_numbers_two_per_thirty_days(demo: PracticePolicy) -> None:
    work, cell = "+16175550188", "+16175550101"
    contacts = (ContactPoint("phone", cell), ContactPoint("phone", work, kind="work"))
    ma = Patient("p", "p", "Ann", "Lee", None, contacts=contacts, timezone="America/New_York", state="MA")
    at_work = tuple(Attempt("voice", at("America/New_York", 2025, 6, d, 10), work) for d in (1, 15))
    h = ContactHistory(attempts=at_work, consents=consents(work, cell))
    now = at("America/New_York", 2025, 6, 20, 12)
    assert check(ContactAction("voice", work), ma, None, h, demo, now).reason == "state_cap:MA"
    assert check(ContactAction("voice", cell), ma, None, h, demo, now).allowed


def test_florida_profile_by_area_code_closes_at_20(demo: PracticePolicy) -> None:
    fl = "+13055550101"
    p = patient(fl, tz="America/New_York", state="GA")  # Georgia address, Florida mobile
    h = history(to=fl)
    d = check(ContactAction("voice", fl), p, None, h, demo, at("America/New_York", 2025, 6, 10, 20, 5))
    assert (d.allowed, d.reason) == (False, "outside_window")
    assert "FL profile" in d.detail
    assert check(
        ContactAction("voice", fl), p, None, h, demo, at("America/New_York", 2025, 6, 10, 19, 59)
    ).allowed
    off = demo.model_copy(update={"compliance": demo.compliance.model_copy(update={"state_profiles": {}})})
    assert check(
        ContactAction("voice", fl), p, None, h, off, at("America/New_York", 2025, 6, 10, 20, 5)
    ).allowed


def test_florida_three_calls_per_24_hours(demo: PracticePolicy) -> None:
    fl = "+13055550101"
    p = patient(fl, tz="America/New_York", state="FL")
    three = tuple(Attempt("voice", at("America/New_York", 2025, 6, 10, hh), fl) for hh in (9, 12, 15))
    d = check(
        ContactAction("voice", fl),
        p,
        None,
        history(to=fl, attempts=three),
        demo,
        at("America/New_York", 2025, 6, 10, 18),
    )
    assert (d.reason, d.next_allowed_at) == ("state_calls_24h:FL", at("America/New_York", 2025, 6, 11, 9))


def test_landline_without_consent_three_calls_per_30_days() -> None:
    landline = ContactAction("voice", MOBILE, line_type="landline")
    h = ContactHistory(attempts=calls(1, 10, 20))
    d = decide(h, at(CHI, 2025, 6, 25, 12), landline)
    assert (d.reason, d.next_allowed_at) == ("landline_cap_30_days", at(CHI, 2025, 7, 1, 8))
    assert decide(ContactHistory(attempts=calls(10, 20)), at(CHI, 2025, 6, 25, 12), landline).allowed
    assert decide(
        history(attempts=calls(1, 10, 20)), at(CHI, 2025, 6, 25, 12), landline
    ).allowed  # consent on file


def test_payment_pause() -> None:
    h = history(last_payment_at=at(CHI, 2025, 6, 9, 14))
    d = decide(h, at(CHI, 2025, 6, 10, 12))
    assert (d.reason, d.next_allowed_at) == ("payment_pause", at(CHI, 2025, 6, 12, 14))
    assert decide(
        h, at(CHI, 2025, 6, 10, 12), ContactAction("voice", MOBILE, purpose="plan_reminder")
    ).allowed
    acct = AccountSummary(patient(), Aging(), last_payment_date=datetime(2025, 6, 9).date())
    d = decide(history(), at(CHI, 2025, 6, 10, 12), account=acct)
    assert (d.reason, d.next_allowed_at) == ("payment_pause", at(CHI, 2025, 6, 12, 8))


def test_appointment_pause_now_and_ahead() -> None:
    appt = at(CHI, 2025, 6, 12, 9)
    h = history(upcoming_appointment_at=appt)
    d = decide(h, at(CHI, 2025, 6, 11, 12))
    assert (d.reason, d.next_allowed_at) == ("appointment_pause", at(CHI, 2025, 6, 13, 8))
    assert decide(h, at(CHI, 2025, 6, 10, 8, 30)).allowed  # 48.5 hours before
    # at 22:00 the window is shut; by 08:00 the appointment is inside the 48-hour pause
    d = decide(h, at(CHI, 2025, 6, 9, 22))
    assert (d.reason, d.next_allowed_at) == ("outside_window", at(CHI, 2025, 6, 10, 8))
    d = decide(h, at(CHI, 2025, 6, 10, 22))  # inside the pause, which outranks the window
    assert (d.reason, d.next_allowed_at) == ("appointment_pause", at(CHI, 2025, 6, 13, 8))
    # a 07:00 appointment: its pause starts before the window opens, so the next chance is after it
    early = history(upcoming_appointment_at=at(CHI, 2025, 6, 12, 7))
    d = decide(early, at(CHI, 2025, 6, 9, 22))
    assert (d.reason, d.next_allowed_at) == ("outside_window", at(CHI, 2025, 6, 13, 8))


def test_holidays_and_sundays() -> None:
    d = decide(history(), at(CHI, 2025, 7, 4, 10), pol=policy())
    assert (d.reason, d.next_allowed_at) == ("holiday", at(CHI, 2025, 7, 5, 8))
    assert decide(history(), at(CHI, 2025, 7, 4, 10), pol=policy(no_contact_on_holidays=False)).allowed
    d = decide(history(), at(CHI, 2025, 7, 6, 10), pol=policy(no_contact_on_sundays=True))
    assert (d.reason, d.next_allowed_at) == ("sunday", at(CHI, 2025, 7, 7, 8))


def test_patient_times_not_before_noon_and_not_during_work_hours() -> None:
    noon = history(inconvenient=(InconvenientTime(not_before=time(12)),))
    d = decide(noon, at(CHI, 2025, 6, 10, 10))
    assert (d.reason, d.next_allowed_at) == ("inconvenient_time", at(CHI, 2025, 6, 10, 12))
    work = history(inconvenient=(InconvenientTime(not_after=time(9), not_before=time(17)),))
    assert decide(work, at(CHI, 2025, 6, 10, 8, 30)).allowed
    d = decide(work, at(CHI, 2025, 6, 10, 10))
    assert (d.reason, d.next_allowed_at) == ("inconvenient_time", at(CHI, 2025, 6, 10, 17))
    # a restriction on another number or medium doesn't apply
    other = history(inconvenient=(InconvenientTime(not_before=time(12), channel="sms"),))
    assert decide(other, at(CHI, 2025, 6, 10, 10)).allowed


def test_naive_now_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="timezone-aware"):
        decide(history(), datetime(2025, 6, 10, 12))


# --- property: whatever the history, next_allowed_at is allowed, in the future and the earliest ---------

_T0 = datetime(2025, 3, 1, tzinfo=UTC)
NOWHERE = "+15555550101"  # an unassigned area code: only the patient's timezone field places them
Channel = Literal["voice", "sms", "email"]


@st.composite
def _histories(draw: st.DrawFn) -> tuple[ContactHistory, datetime, ContactAction]:
    now = _T0 + timedelta(minutes=draw(st.integers(0, 60 * 24 * 300)))
    attempts = []
    for _ in range(draw(st.integers(0, 12))):
        ago = timedelta(minutes=draw(st.integers(1, 60 * 24 * 12)))
        channel: Channel = draw(st.sampled_from(["voice", "voice", "sms"]))
        attempts.append(
            Attempt(
                channel,
                now - ago,
                NOWHERE,
                direction=draw(st.sampled_from(["outbound", "outbound", "inbound"])),
                conversation=draw(st.booleans()) and channel == "voice",
            )
        )
    inconvenient: tuple[InconvenientTime, ...] = ()
    if draw(st.booleans()):
        inconvenient = (InconvenientTime(not_before=time(draw(st.integers(8, 20)))),)
    paid = now - timedelta(hours=draw(st.integers(1, 24 * 5))) if draw(st.booleans()) else None
    appt = now + timedelta(hours=draw(st.integers(1, 24 * 5))) if draw(st.booleans()) else None
    h = history(
        to=NOWHERE,
        attempts=tuple(attempts),
        inconvenient=inconvenient,
        last_payment_at=paid,
        upcoming_appointment_at=appt,
    )
    return h, now, ContactAction(draw(st.sampled_from(["voice", "sms"])), NOWHERE)


@settings(max_examples=200, deadline=None)
@given(
    case=_histories(),
    zone=st.sampled_from([CHI, "America/Los_Angeles", "America/Phoenix", "Pacific/Honolulu"]),
    ma=st.booleans(),
)
def test_property_next_allowed_is_allowed_and_earliest(
    case: tuple[ContactHistory, datetime, ContactAction], zone: str, ma: bool
) -> None:
    h, now, action = case
    p = patient(NOWHERE, tz=zone, state="MA" if ma else None)
    d = check(action, p, None, h, DEMO, now)
    if d.allowed:
        return
    assert d.blocked_by and d.reason == d.blocked_by[0]
    if d.next_allowed_at is None:
        return
    nxt = d.next_allowed_at
    assert nxt > now
    assert check(action, p, None, h, DEMO, nxt).allowed
    assert not check(action, p, None, h, DEMO, nxt - timedelta(seconds=1)).allowed

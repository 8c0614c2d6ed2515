"""Standing blocks: consent (rules 15-17), suppression scopes (19-25, 37-38), flags, replies, explain."""

from __future__ import annotations

from datetime import datetime

import pytest

from pms.types import AccountSummary, Aging, ContactPoint, Patient
from policies.compliance import check, explain
from policies.types import (
    ConsentRecord,
    ContactAction,
    ContactHistory,
    InconvenientTime,
    Suppression,
    SuppressionScope,
)

from .conftest import LONG_AGO, MOBILE, at, consents, history, patient, policy

POL = policy(state_profiles={})
NOON = at("America/Chicago", 2025, 6, 10, 12)
OTHER = "+13125550177"
EMAIL = "ann@example.com"


def _p(**kw: object) -> Patient:
    contacts = (
        ContactPoint("phone", MOBILE),
        ContactPoint("phone", OTHER),
        ContactPoint("email", EMAIL, "email"),
    )
    base: dict[str, object] = {"contacts": contacts, "timezone": "America/Chicago", "state": "IL"}
    return Patient("p1", "p1", "Ann", "Lee", None, **{**base, **kw})  # type: ignore[arg-type]


def _h(**kw: object) -> ContactHistory:
    kw.setdefault("consents", consents(MOBILE, OTHER))
    return ContactHistory(**kw)  # type: ignore[arg-type]


def _reason(action: ContactAction, h: ContactHistory, p: Patient | None = None, now: datetime = NOON) -> str:
    d = check(action, p or _p(), None, h, POL, now)
    assert d.allowed == (d.reason == "ok")
    if not d.allowed and d.reason in ("suppressed", "no_consent", "invalid_consent_basis"):
        assert d.next_allowed_at is None
    return d.reason


# --- consent -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "basis", "expected"),
    [
        ("voice", "provided_number_for_account", "ok"),
        ("voice", "express_verbal", "ok"),
        ("voice", "written", "ok"),
        ("voice", "sms_opt_in", "no_consent"),
        ("voice", "none", "no_consent"),
        ("voice", "healthcare_exemption", "invalid_consent_basis"),
        ("sms", "sms_opt_in", "ok"),
        ("sms", "provided_number_for_account", "ok"),
        ("sms", "healthcare_exemption", "invalid_consent_basis"),
        ("sms", "none", "no_consent"),
    ],
)
def test_consent_bases(channel: str, basis: str, expected: str) -> None:
    h = ContactHistory(consents=(ConsentRecord(channel, MOBILE, basis, LONG_AGO),))  # type: ignore[arg-type]
    assert _reason(ContactAction(channel, MOBILE), h) == expected  # type: ignore[arg-type]


def test_consent_must_match_number_channel_and_predate_the_contact() -> None:
    assert _reason(ContactAction("voice", MOBILE), ContactHistory(consents=consents(OTHER))) == "no_consent"
    sms_only = (ConsentRecord("sms", MOBILE, "written", LONG_AGO),)
    assert _reason(ContactAction("voice", MOBILE), ContactHistory(consents=sms_only)) == "no_consent"
    later = (ConsentRecord("voice", MOBILE, "written", at("America/Chicago", 2025, 6, 11, 9)),)
    assert _reason(ContactAction("voice", MOBILE), ContactHistory(consents=later)) == "no_consent"


def test_when_consent_is_not_needed() -> None:
    none = ContactHistory()
    assert _reason(ContactAction("voice", MOBILE, line_type="unknown"), none) == "no_consent"
    assert _reason(ContactAction("voice", MOBILE, line_type="landline"), none) == "ok"  # rule 14 cap instead
    assert _reason(ContactAction("voice", MOBILE, automated=False, initiated_by="staff"), none) == "ok"
    assert _reason(ContactAction("email", EMAIL), none) == "ok"
    # the PMS's own text opt-in for this number counts for texts (not calls)
    p = _p(contacts=(ContactPoint("phone", MOBILE, sms_consent="yes"),))
    assert _reason(ContactAction("sms", MOBILE), none, p) == "ok"
    assert _reason(ContactAction("voice", MOBILE), none, p) == "no_consent"


# --- suppression ---------------------------------------------------------------------------------

S = SuppressionScope


@pytest.mark.parametrize(
    ("scope", "value", "blocked"),
    [
        (S.ALL, None, {"voice:m", "voice:o", "sms:m", "sms:o", "email:e"}),
        (S.ALL, MOBILE, {"voice:m", "sms:m"}),
        (S.SMS, None, {"sms:m", "sms:o"}),
        (S.SMS, MOBILE, {"sms:m"}),
        (S.VOICE, None, {"voice:m", "voice:o"}),
        (S.VOICE, OTHER, {"voice:o"}),
        (S.EMAIL, None, {"email:e"}),
        (S.EMAIL, "ANN@example.com", {"email:e"}),
    ],
)
def test_suppression_scopes(scope: SuppressionScope, value: str | None, blocked: set[str]) -> None:
    h = _h(suppressions=(Suppression(scope, value, LONG_AGO),))
    targets = {"m": MOBILE, "o": OTHER, "e": EMAIL}
    for key in ("voice:m", "voice:o", "sms:m", "sms:o", "email:e"):
        channel, t = key.split(":")
        reason = _reason(ContactAction(channel, targets[t]), h)  # type: ignore[arg-type]
        assert (reason == "suppressed") == (key in blocked), (key, reason)


def test_sms_opt_in_after_stop_restores_texts_only() -> None:
    stop = Suppression(S.ALL, MOBILE, at("America/Chicago", 2025, 6, 1, 9), reason="opt_out")
    start = ConsentRecord("sms", MOBILE, "sms_opt_in", at("America/Chicago", 2025, 6, 2, 9))
    h = _h(suppressions=(stop,), consents=(*consents(MOBILE), start))
    assert _reason(ContactAction("sms", MOBILE), h) == "ok"
    assert _reason(ContactAction("voice", MOBILE), h) == "suppressed"
    # an older opt-in does not undo a newer STOP, and a cease request is never lifted by START
    older = _h(suppressions=(stop,), consents=(ConsentRecord("sms", MOBILE, "sms_opt_in", LONG_AGO),))
    assert _reason(ContactAction("sms", MOBILE), older) == "suppressed"
    cease = Suppression(S.ALL, None, at("America/Chicago", 2025, 6, 1, 9), reason="cease_communication")
    assert _reason(ContactAction("sms", MOBILE), _h(suppressions=(cease,), consents=(start,))) == "suppressed"


def test_pms_preferences_suppress() -> None:
    assert _reason(ContactAction("voice", MOBILE), _h(), _p(preferred_contact="do_not_call")) == "suppressed"
    no_texts = _p(contacts=(ContactPoint("phone", MOBILE, sms_consent="no"),))
    assert _reason(ContactAction("sms", MOBILE), _h(), no_texts) == "suppressed"
    assert _reason(ContactAction("voice", MOBILE), _h(), no_texts) == "ok"


def test_reassigned_number() -> None:
    h = _h(reassigned_numbers=frozenset({MOBILE}))
    assert _reason(ContactAction("voice", MOBILE), h) == "reassigned_number"
    assert _reason(ContactAction("voice", OTHER), h) == "ok"


# --- flags ---------------------------------------------------------------------------------------


def test_flags_from_every_source() -> None:
    call = ContactAction("voice", MOBILE)
    acct = AccountSummary(_p(), Aging(), flags=frozenset({"dispute"}))
    assert check(call, _p(), acct, _h(), POL, NOON).reason == "flag:dispute"
    assert _reason(call, _h(extra_flags=frozenset({"paused"}))) == "flag:paused"
    assert _reason(call, _h(), _p(flags=frozenset({"attorney"}))) == "flag:attorney"
    assert _reason(call, _h(), _p(status="deceased")) == "flag:deceased"
    assert _reason(call, _h(), _p(note="Spoke w/ her attorney 5/2, send nothing")) == "flag:attorney"
    assert _reason(call, _h(), _p(note="Filed for BANKRUPTCY")) == "flag:attorney"
    assert _reason(call, _h(), _p(note="prefers mornings")) == "ok"
    assert _reason(call, _h(extra_flags=frozenset({"vip"}))) == "ok"  # not a blocking flag
    no_deceased = policy(state_profiles={}, blocking_flags=[])
    d = check(call, _p(status="deceased"), None, _h(), no_deceased, NOON)
    assert d.reason == "flag:deceased"  # always, whatever the policy lists


# --- replies, confirmations and patient restrictions --------------------------------------------


def test_patient_replies_skip_window_and_caps_but_not_suppression() -> None:
    late = at("America/Chicago", 2025, 6, 10, 23, 30)
    reply = ContactAction("sms", MOBILE, purpose="reply", initiated_by="patient_reply")
    assert _reason(reply, ContactHistory(), now=late) == "ok"  # no consent needed either
    stopped = _h(suppressions=(Suppression(S.SMS, None, LONG_AGO),))
    assert _reason(reply, stopped, now=late) == "suppressed"
    assert _reason(reply, _h(extra_flags=frozenset({"dispute"})), now=late) == "flag:dispute"
    for purpose in ("opt_out_confirmation", "help"):
        exempt = ContactAction("sms", MOBILE, purpose=purpose, initiated_by="patient_reply")
        assert _reason(exempt, stopped, now=late) == "ok"


def test_patient_restrictions_by_number_and_medium() -> None:
    not_work = _h(inconvenient=(InconvenientTime(value=OTHER),))
    assert _reason(ContactAction("voice", OTHER), not_work) == "patient_restriction"
    assert _reason(ContactAction("sms", OTHER), not_work) == "patient_restriction"
    assert _reason(ContactAction("voice", MOBILE), not_work) == "ok"
    text_only = _h(inconvenient=(InconvenientTime(channel="voice"),))
    assert _reason(ContactAction("voice", MOBILE), text_only) == "patient_restriction"
    assert _reason(ContactAction("sms", MOBILE), text_only) == "ok"


def test_invalid_destination() -> None:
    assert _reason(ContactAction("voice", "  "), _h()) == "invalid_contact"


# --- decisions read well -------------------------------------------------------------------------


def test_blocked_by_lists_every_failing_check_and_explain_reads_it() -> None:
    h = _h(suppressions=(Suppression(S.ALL, None, LONG_AGO),), extra_flags=frozenset({"dispute"}))
    d = check(ContactAction("voice", MOBILE), _p(), None, h, POL, at("America/Chicago", 2025, 6, 10, 22))
    assert d.reason == "suppressed"
    assert d.blocked_by == ("suppressed", "flag:dispute", "outside_window")
    text = explain(d)
    assert text.startswith("Blocked (suppressed).")
    assert "flag:dispute" in text and "No automatic retry" in text


def test_explain_temporal_and_allowed() -> None:
    d = check(
        ContactAction("voice", MOBILE), patient(), None, history(), POL, at("America/Chicago", 2025, 6, 10, 7)
    )
    assert explain(d) == (
        "Blocked (outside_window). It is 07:00 in America/Chicago; contact may start 08:00-21:00 "
        "patient-local. Next allowed Tue Jun 10 at 08:00 CDT."
    )
    ok = check(ContactAction("voice", MOBILE), patient(), None, history(), POL, NOON)
    assert explain(ok).startswith("Allowed.")

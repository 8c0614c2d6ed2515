"""Content rules for outgoing text: names, opt-out, collection words, pre-verification, voicemail."""

from __future__ import annotations

from typing import Any

import pytest

from policies.config import PracticePolicy, load_policy
from policies.messages import LintChannel, lint

DEMO = load_policy()
ALIASED = DEMO.model_copy(
    update={"practice": DEMO.practice.model_copy(update={"voicemail_alias": "MG Office"})}
)
GOOD_VM = (
    "Hi, this is Maple Grove Family Dental. Please call us back at (312) 555-0100 "
    "and ask for Dana. Thank you."
)
GOOD_SMS = "Maple Grove Family Dental: please call us at 312-555-0100 when you can. Reply STOP to opt out."


def rules(
    text: str, channel: LintChannel, *, verified: bool = False, pol: PracticePolicy = DEMO, **kw: object
) -> list[str]:
    return [v.rule for v in lint(text, verified=verified, policy=pol, channel=channel, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "channel", "kw", "expected"),
    [
        (GOOD_VM, "voicemail", {"patient_names": ["Ann", "Lee"]}, []),
        (GOOD_SMS, "sms", {"first_contact": True}, []),
        ("Hi Ann, " + GOOD_VM, "voicemail", {"patient_names": ["Ann", "Lee"]}, ["patient_name_in_voicemail"]),
        (
            GOOD_VM + " About your balance of $120.",
            "voicemail",
            {},
            ["amount_in_voicemail", "debt_words_in_voicemail"],
        ),
        (GOOD_VM.replace("(312) 555-0100", "our office"), "voicemail", {}, ["missing_callback_number"]),
        (GOOD_VM.replace(" and ask for Dana", ""), "voicemail", {}, ["missing_contact_person"]),
        (
            GOOD_VM.replace("Maple Grove Family Dental", "your dentist"),
            "voicemail",
            {},
            ["missing_practice_name"],
        ),
        (GOOD_VM + " It's about your crown.", "voicemail", {}, ["clinical_in_voicemail"]),
        (
            GOOD_SMS.replace(" Reply STOP to opt out.", ""),
            "sms",
            {"first_contact": True},
            ["missing_opt_out"],
        ),
        (
            GOOD_SMS.replace("Maple Grove Family Dental: p", "P"),
            "sms",
            {"first_contact": True},
            ["missing_practice_name"],
        ),
        (
            "Maple Grove Family Dental: you owe $350.00 on your account. Reply STOP to opt out.",
            "sms",
            {},
            ["debt_before_verification", "debt_before_verification"],
        ),
        (
            "Maple Grove Family Dental: pay at https://pay.maplegrovedental.example/portal "
            "Reply STOP to opt out.",
            "sms",
            {},
            ["debt_before_verification", "debt_before_verification"],
        ),
        (
            "Maple Grove Family Dental collections dept. Reply STOP to opt out.",
            "sms",
            {},
            ["collection_language"],
        ),
        ("This is Maple Grove Family Dental. Your balance is $350.", "voice", {"verified": True}, []),
        ("Thanks! Your balance is $350.", "sms", {"verified": True, "reply": True}, []),
        ("Thanks, we got it.", "sms", {"reply": True}, []),
        (
            "Hi, this is the recovery team at Maple Grove Family Dental.",
            "voice",
            {"verified": True},
            ["collection_language"],
        ),
        (
            "Hi, this is Maple Grove Family Dental, an automated assistant. This call may be recorded.",
            "voice",
            {"first_contact": True},
            [],
        ),
        (
            "Hi, this is Maple Grove Family Dental.",
            "voice",
            {"first_contact": True},
            ["missing_ai_disclosure", "missing_recording_notice"],
        ),
        ("Hello, is Ann available?", "voice", {}, []),
        ("Your root canal is scheduled", "sms", {"reply": True}, ["clinical_before_verification"]),
        ("Maple Grove Family Dental: an update is ready. To unsubscribe click here.", "email", {}, []),
        ("Maple Grove Family Dental: an update is ready.", "email", {}, ["missing_opt_out"]),
    ],
)
def test_lint_table(text: str, channel: LintChannel, kw: dict[str, Any], expected: list[str]) -> None:
    verified = bool(kw.pop("verified", False))
    assert rules(text, channel, verified=verified, **kw) == expected


def test_voicemail_rules_apply_even_when_verified() -> None:
    assert rules(GOOD_VM + " Your balance is $10.", "voicemail", verified=True) == [
        "amount_in_voicemail",
        "debt_words_in_voicemail",
    ]


def test_staff_name_bill_is_not_a_billing_word() -> None:
    pol = DEMO.model_copy(
        update={"practice": DEMO.practice.model_copy(update={"staff_contact_name": "Bill"})}
    )
    text = GOOD_VM.replace("Dana", "Bill")
    assert rules(text, "voicemail", pol=pol) == []


def test_voicemail_alias_replaces_the_real_name() -> None:
    aliased_vm = GOOD_VM.replace("Maple Grove Family Dental", "MG Office")
    assert rules(aliased_vm, "voicemail", pol=ALIASED) == []
    assert rules(GOOD_VM, "voicemail", pol=ALIASED) == ["missing_practice_name", "real_name_in_alias_only"]


def test_mini_miranda_when_configured() -> None:
    miranda = DEMO.model_copy(
        update={"disclosures": DEMO.disclosures.model_copy(update={"mini_miranda_states": ["CA"]})}
    )
    opening = "This is Maple Grove Family Dental, an automated assistant; this call may be recorded."
    assert rules(opening, "voice", verified=True, pol=miranda, first_contact=True, patient_state="CA") == [
        "missing_mini_miranda"
    ]
    assert rules(opening, "voice", verified=True, pol=miranda, first_contact=True, patient_state="IL") == []
    full = (
        opening
        + " This is an attempt to collect a debt and any information obtained will be used for that purpose."
    )
    assert rules(full, "voice", verified=True, pol=miranda, first_contact=True, patient_state="CA") == []

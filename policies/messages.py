"""Lint outgoing text (SMS bodies, spoken lines, voicemails, e-mails) against the content rules.

Rules (codes): `collection_language` (rule 1: collection(s), recovery, agency, debt collector),
`missing_practice_name` (rule 2: first contact / outreach names the practice), `real_name_in_alias_only`
(rule 32: with a voicemail alias, voicemails and first texts use only the alias), `missing_opt_out`
(rule 26: outreach SMS says "Reply STOP to opt out"; e-mail offers unsubscribe), `missing_ai_disclosure`
and `missing_recording_notice` (rules 3, 43: first spoken line), `missing_mini_miranda` (rule 4),
`debt_before_verification` (rules 28, 31: no amounts, billing words or payment links before
right-party verification), `clinical_before_verification` (rule 28), and for voicemail (rule 30,
always limited-content): `patient_name_in_voicemail`, `amount_in_voicemail`, `debt_words_in_voicemail`,
`clinical_in_voicemail`, `missing_callback_number`, `missing_contact_person`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from policies.config import PracticePolicy
from policies.types import Violation

LintChannel = Literal["sms", "voice", "email", "voicemail"]

_COLLECTION = re.compile(r"\b(?:collections?|recovery|agency|agencies|debt\s+collectors?)\b", re.IGNORECASE)
_DEBT_WORDS = re.compile(
    r"\b(?:balances?|bills?|billing|billed|owe[sd]?|owing|payments?|pay|paid|accounts?|past[\s-]+due|overdue|"
    r"amount\s+due|invoices?|statements?|debts?|charges?|outstanding|delinquent|arrears|collect)\b",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"\$\s?\d|\b\d[\d,]*\.\d{2}\b|\b\d[\d,]*\s*(?:dollars?|bucks|usd)\b|\b(?:dollars?|usd)\s*\d",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+/\S*", re.IGNORECASE)
_PAY_URL = re.compile(r"pay|checkout|billing|invoice|stripe|portal|bill", re.IGNORECASE)
_CLINICAL = re.compile(
    r"\b(?:root\s+canals?|crowns?|fillings?|extractions?|implants?|diagnos[ie]s|surgery|surgical|procedures?|"
    r"treatments?|x-?rays?|prescriptions?|periodontal|biopsy|lab\s+results?|cavity|cavities|dentures?)\b",
    re.IGNORECASE,
)
_OPT_OUT_SMS = re.compile(r"\breply\s+\"?stop\"?\s+to\s+(?:opt[\s-]?out|unsubscribe|stop)\b", re.IGNORECASE)
_OPT_OUT_EMAIL = re.compile(r"\b(?:unsubscribe|opt[\s-]?out)\b", re.IGNORECASE)
_AI = re.compile(
    r"\b(?:automated|virtual|ai|artificial|digital)\s+(?:assistant|agent|system|voice)\b|\ban?\s+ai\b",
    re.IGNORECASE,
)
_RECORDING = re.compile(r"\brecord(?:ed|ing)?\b", re.IGNORECASE)
_MINI_MIRANDA = re.compile(r"attempt\s+to\s+collect\s+a\s+debt", re.IGNORECASE)
_PHONE_RUN = re.compile(r"\+?\d[\d\s().-]{8,}\d")


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("’", "'")).strip().casefold()


@lru_cache(maxsize=256)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    if not parts:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in parts) + r")\b", re.IGNORECASE)


def _contains(text: str, name: str | None) -> bool:
    return bool(name) and _squash(name or "") in _squash(text)


def _has_number(text: str, e164: str) -> bool:
    want = re.sub(r"\D", "", e164)[-10:]
    return any(re.sub(r"\D", "", m.group()).endswith(want) for m in _PHONE_RUN.finditer(text))


def _strip(text: str, names: Iterable[str | None]) -> str:
    """Remove our own names (practice, alias, staff) so 'Bill' the hygienist isn't a billing word."""
    pat = _names_pattern(tuple(n for n in names if n))
    return pat.sub(" ", text) if pat else text


def lint(
    text: str,
    *,
    verified: bool,
    policy: PracticePolicy,
    channel: LintChannel,
    first_contact: bool = False,
    reply: bool = False,
    patient_names: Iterable[str] = (),
    patient_state: str | None = None,
) -> list[Violation]:
    """Every content-rule violation in `text` (empty list = fine).

    `reply=True` marks an answer inside a conversation the patient started (no opt-out footer or
    practice name needed); `first_contact` marks the opening of an outreach or call.
    """
    practice = policy.practice
    names = (practice.name, practice.legal_name, practice.voicemail_alias)
    alias = practice.voicemail_alias
    own = _strip(text, (*names, practice.staff_contact_name))
    v: list[Violation] = []

    def add(rule: str, detail: str) -> None:
        v.append(Violation(rule, detail))

    if m := _COLLECTION.search(_strip(text, (practice.staff_contact_name,))):
        add("collection_language", f"'{m.group()}' sounds like a collection agency (rule 1).")

    outreach = not reply and (first_contact or channel in ("sms", "voicemail", "email"))
    uses_alias = alias is not None and (channel == "voicemail" or (channel == "sms" and first_contact))
    if channel == "voicemail" or (outreach and channel != "voice") or (channel == "voice" and first_contact):
        wanted = [alias] if uses_alias else [n for n in names if n]
        if not any(_contains(text, n) for n in wanted):
            add(
                "missing_practice_name",
                f"Name the practice ('{wanted[0]}') so the patient knows who it is (rule 2).",
            )
    if uses_alias and alias and not _contains(alias, practice.name) and _contains(text, practice.name):
        add(
            "real_name_in_alias_only", "Use only the voicemail alias in voicemails and first texts (rule 32)."
        )

    if channel == "sms" and outreach and not _OPT_OUT_SMS.search(text):
        add("missing_opt_out", "Outreach texts must say 'Reply STOP to opt out' (rule 26).")
    if channel == "email" and outreach and not _OPT_OUT_EMAIL.search(text):
        add("missing_opt_out", "Outreach e-mails must offer a way to unsubscribe (rule 26).")

    if channel == "voice" and first_contact:
        if policy.disclosures.ai_disclosure and not _AI.search(text):
            add("missing_ai_disclosure", "Say that this is an automated assistant (rule 3).")
        if policy.disclosures.recording_notice and not _RECORDING.search(text):
            add(
                "missing_recording_notice",
                "Say that the call may be recorded before recording starts (rule 43).",
            )
    state = (patient_state or "").upper()
    miranda = policy.disclosures.mini_miranda or state in policy.disclosures.mini_miranda_states
    if (
        miranda
        and first_contact
        and verified
        and channel in ("voice", "sms")
        and not _MINI_MIRANDA.search(text)
    ):
        add(
            "missing_mini_miranda",
            "This state/practice gives the mini-Miranda in the first communication (rule 4).",
        )

    if channel == "voicemail":
        v.extend(_voicemail(text, own, policy, patient_names))
    elif not verified:
        v.extend(_before_verification(text, own, policy))
    return v


def _before_verification(text: str, own: str, policy: PracticePolicy) -> list[Violation]:
    out: list[Violation] = []
    if m := _AMOUNT.search(own):
        out.append(Violation("debt_before_verification", f"'{m.group()}' looks like an amount (rule 28)."))
    if m := _DEBT_WORDS.search(own):
        out.append(Violation("debt_before_verification", f"'{m.group()}' mentions the debt (rule 28)."))
    if _payment_link(text, policy):
        out.append(
            Violation("debt_before_verification", "Payment links go only to verified patients (rule 31).")
        )
    if m := _CLINICAL.search(own):
        out.append(
            Violation("clinical_before_verification", f"'{m.group()}' is clinical information (rule 28).")
        )
    return out


def _payment_link(text: str, policy: PracticePolicy) -> bool:
    portal = policy.practice.portal_url
    if portal and portal.casefold().rstrip("/") in text.casefold():
        return True
    return any(_PAY_URL.search(m.group()) for m in _URL.finditer(text))


def _voicemail(text: str, own: str, policy: PracticePolicy, patient_names: Iterable[str]) -> list[Violation]:
    out: list[Violation] = []
    practice = policy.practice
    pat = _names_pattern(tuple(patient_names))
    if pat and (m := pat.search(own)):
        out.append(Violation("patient_name_in_voicemail", f"'{m.group()}' names the patient (rule 30)."))
    if (m := _AMOUNT.search(own)) or _payment_link(text, policy):
        what = f"'{m.group()}'" if m else "A payment link"
        out.append(Violation("amount_in_voicemail", f"{what} does not belong in a voicemail (rule 30)."))
    if m := _DEBT_WORDS.search(own):
        out.append(Violation("debt_words_in_voicemail", f"'{m.group()}' reveals the debt (rule 30)."))
    if m := _CLINICAL.search(own):
        out.append(Violation("clinical_in_voicemail", f"'{m.group()}' is clinical information (rule 30)."))
    if not _has_number(text, practice.callback_number):
        out.append(Violation("missing_callback_number", "Give the callback number (rules 2, 30)."))
    if not _contains(text, practice.staff_contact_name):
        out.append(
            Violation(
                "missing_contact_person",
                f"Name a person to ask for ('{practice.staff_contact_name}', rule 30).",
            )
        )
    return out

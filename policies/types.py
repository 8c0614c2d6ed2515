"""Inputs and outputs of the pure policy functions.

`compliance.check(action, patient, account, history, policy, now) -> Decision`
`plans.options(balance, policy, today, *, history=None) -> list[PlanTerms]`
`scoring.prioritise(account, history, policy, today) -> Priority`
`messages.lint(text, *, verified, policy, channel, ...) -> list[Violation]`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Literal

Channel = Literal["voice", "sms", "email"]
Purpose = Literal[
    "balance",
    "plan_reminder",
    "promise_reminder",
    "receipt",
    "reply",
    "voicemail",
    "callback",
    "opt_out_confirmation",  # the single confirmation after an opt-out (rule 22): never blocked
    "help",  # the HELP/INFO reply (rule 40): never blocked
]


@dataclass(frozen=True, slots=True)
class ContactAction:
    """One contact BalanceLine wants to make (or a reply it wants to send)."""

    channel: Channel
    to: str  # E.164 phone or email address
    purpose: Purpose = "balance"
    # "reply" = answering a message the patient just sent us (no new contact; window/caps don't apply,
    # but suppression and flags still do for anything but opt-out confirmations and HELP replies).
    initiated_by: Literal["agent", "patient_reply", "staff"] = "agent"
    line_type: Literal["mobile", "landline", "unknown"] = "mobile"
    automated: bool = True  # artificial voice / automated text
    # When the patient directly asked for this contact (e.g. "call me back Thursday"). Within 7 days it
    # exempts the call from the 7-in-7 cap and the post-conversation cooldown (Reg F 1006.14(b)(3)).
    requested_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A past contact attempt (ours) or conversation, from the record store."""

    channel: Channel
    at: datetime
    to: str
    direction: Literal["outbound", "inbound"] = "outbound"
    conversation: bool = False  # a real two-way conversation about the debt happened
    counted: bool = True  # counts toward frequency caps
    with_consent: bool = False  # placed with direct prior consent within 7 days (rule 11)


class SuppressionScope(StrEnum):
    ALL = "all"
    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Suppression:
    scope: SuppressionScope
    value: str | None  # a specific phone/email, or None = the whole person
    at: datetime
    reason: str = "opt_out"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    channel: Channel
    value: str
    basis: Literal[
        "provided_number_for_account",
        "express_verbal",
        "written",
        "sms_opt_in",
        "healthcare_exemption",
        "none",
    ]
    at: datetime


@dataclass(frozen=True, slots=True)
class InconvenientTime:
    """Patient-designated: e.g. not before 12:00, or not on this number.

    Times are patient-local. Only `not_before` → allowed from then; only `not_after` → allowed until
    then; both with not_before < not_after → allowed only between them; both with not_before >
    not_after → a blackout between not_after and not_before ("not during work hours 9-5" is
    `not_after=09:00, not_before=17:00`). With no times, `value`/`channel` is never to be used.
    `value` and `channel`, when set, narrow the record to that number/address or medium.
    """

    not_before: time | None = None
    not_after: time | None = None
    value: str | None = None  # a number/address they asked us not to use
    channel: Channel | None = None


@dataclass(frozen=True, slots=True)
class ContactHistory:
    attempts: tuple[Attempt, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    consents: tuple[ConsentRecord, ...] = ()
    inconvenient: tuple[InconvenientTime, ...] = ()
    # flags set by BalanceLine (dispute opened by the agent, pause…)
    extra_flags: frozenset[str] = frozenset()
    reassigned_numbers: frozenset[str] = frozenset()
    upcoming_appointment_at: datetime | None = None
    last_payment_at: datetime | None = None
    broken_promises: int = 0
    kept_promises: int = 0
    active_plan_current: bool = False  # on an active plan that is not past due
    last_response_at: datetime | None = None  # last time the patient answered us


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str  # machine-readable code, e.g. "ok", "outside_window", "suppressed", "flag:dispute"
    next_allowed_at: datetime | None = None
    detail: str = ""  # one human sentence for staff
    blocked_by: tuple[str, ...] = ()  # every failing check's code, in check order (reason is the first)


@dataclass(frozen=True, slots=True)
class PlanTerms:
    plan_key: str  # stable id of this option within an offer, e.g. "m6"
    total: Decimal
    down_payment: Decimal
    installment_amount: Decimal
    installments: int
    frequency: Literal["weekly", "every_other_week", "monthly"]
    first_due: date
    needs_staff_approval: bool = False
    last_installment_amount: Decimal | None = None  # rounding remainder lands on the last one

    @property
    def months(self) -> int:
        per_year = {"weekly": 52, "every_other_week": 26, "monthly": 12}[self.frequency]
        return max(1, round(self.installments * 12 / per_year))


class Tier(StrEnum):
    IMMEDIATE_CALL = "immediate_call"
    PLAN_CANDIDATE = "plan_candidate"
    SOFT_REMINDER = "soft_reminder"
    INSURANCE_FOLLOW_UP = "insurance_follow_up"
    HUMAN_REVIEW = "human_review"
    DO_NOT_CONTACT = "do_not_contact"


@dataclass(frozen=True, slots=True)
class Priority:
    tier: Tier
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # e.g. "missing_practice_name", "missing_opt_out", "debt_before_verification"
    detail: str

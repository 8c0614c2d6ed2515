"""Data types every PMS adapter speaks.

Money is `Decimal`, datetimes are timezone-aware, phone numbers are E.164. An *account* is a
guarantor's family account: the guarantor is the person who owes; `patient_id` of an account is
the guarantor's own patient id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, Literal, TypeVar

ZERO = Decimal("0.00")

SmsConsent = Literal["yes", "no", "unknown"]
PhoneKind = Literal["mobile", "home", "work", "landline"]
PreferredContact = Literal["none", "mobile", "home", "work", "text", "email", "mail", "do_not_call"]


class Flag(StrEnum):
    """Account/patient flags that change what BalanceLine may do."""

    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    ATTORNEY = "attorney"  # attorney representation or bankruptcy: do not contact
    DECEASED = "deceased"
    AGENCY = "agency"  # placed with an outside collection agency
    WRONG_NUMBER = "wrong_number"
    INSURANCE_PENDING = "insurance_pending"  # the whole balance waits on insurance
    CREDIT_BALANCE = "credit_balance"  # practice owes the patient: never dun
    PAUSED = "paused"  # staff paused outreach


@dataclass(frozen=True, slots=True)
class ContactPoint:
    channel: Literal["phone", "email"]
    value: str  # E.164 for phones, lower-cased address for email
    kind: PhoneKind | Literal["email"] = "mobile"
    sms_consent: SmsConsent = "unknown"
    is_preferred: bool = False
    raw: str | None = None  # as the PMS stored it (messy formats), for display only


@dataclass(frozen=True, slots=True)
class Patient:
    patient_id: str
    guarantor_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    contacts: tuple[ContactPoint, ...] = ()
    timezone: str | None = None  # IANA name; None = unknown
    language: str = "en"  # ISO 639-1
    status: Literal["active", "inactive", "deceased"] = "active"
    preferred_contact: PreferredContact = "none"
    postal_code: str | None = None
    state: str | None = None  # two-letter US state of the address, for state compliance profiles
    flags: frozenset[str] = frozenset()
    note: str = ""  # staff note / FamFinUrgNote; may hold "attorney", "bankruptcy" text

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def phones(self) -> tuple[ContactPoint, ...]:
        return tuple(c for c in self.contacts if c.channel == "phone")

    @property
    def emails(self) -> tuple[ContactPoint, ...]:
        return tuple(c for c in self.contacts if c.channel == "email")


@dataclass(frozen=True, slots=True)
class Aging:
    bal_0_30: Decimal = ZERO
    bal_31_60: Decimal = ZERO
    bal_61_90: Decimal = ZERO
    bal_over_90: Decimal = ZERO
    total: Decimal = ZERO  # family total incl. the insurance-estimated part
    insurance_estimate: Decimal = ZERO
    writeoff_estimate: Decimal = ZERO
    patient_balance: Decimal = ZERO  # what the guarantor owes now: total - insurance - write-off
    payplan_due: Decimal = ZERO
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    guarantor: Patient
    aging: Aging
    last_payment_date: date | None = None
    last_payment_amount: Decimal | None = None
    last_statement_date: date | None = None
    balance_since: date | None = None  # date the oldest unpaid patient charge posted
    flags: frozenset[str] = frozenset()
    open_claims: int = 0

    @property
    def patient_id(self) -> str:
        return self.guarantor.patient_id


LedgerKind = Literal[
    "charge", "patient_payment", "insurance_payment", "writeoff", "adjustment", "payplan_charge", "refund"
]


@dataclass(frozen=True, slots=True)
class LedgerLine:
    line_id: str
    patient_id: str  # the family member the line belongs to
    kind: LedgerKind
    posted_date: date
    amount: Decimal  # positive = increases what is owed (charges); negative = credits
    description: str = ""
    code: str | None = None  # CDT/CPT code for charges, e.g. "D2740"
    service_date: date | None = None
    tooth: str | None = None
    claim_id: str | None = None
    insurance_pending: bool = False


ClaimStatus = Literal["unsent", "hold", "waiting", "sent", "received", "in_process", "denied"]


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    patient_id: str
    carrier: str
    status: ClaimStatus
    service_date: date
    fee: Decimal
    ins_pay_estimate: Decimal
    ins_paid: Decimal = ZERO
    writeoff: Decimal = ZERO
    date_sent: date | None = None
    reason_underpaid: str = ""


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    guarantor_id: str
    amount: Decimal
    paid_on: date
    method: Literal["card", "check", "cash", "portal", "ach", "other"] = "card"
    processor_ref: str | None = None
    note: str = ""
    posted_at: datetime | None = None


PlanFrequency = Literal["weekly", "every_other_week", "monthly", "quarterly"]


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    plan_id: str
    guarantor_id: str
    status: Literal["active", "past_due", "completed", "cancelled", "pending_approval"]
    total: Decimal
    installment_amount: Decimal
    installments: int
    frequency: PlanFrequency
    first_due: date
    down_payment: Decimal = ZERO
    paid_to_date: Decimal = ZERO
    note: str = ""


@dataclass(frozen=True, slots=True)
class Promise:
    promise_id: str
    guarantor_id: str
    amount: Decimal
    due_on: date
    status: Literal["open", "kept", "partly_kept", "broken", "cancelled"] = "open"
    created_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Appointment:
    appointment_id: str
    patient_id: str
    start: datetime
    status: Literal["scheduled", "complete", "broken", "cancelled"] = "scheduled"


@dataclass(frozen=True, slots=True)
class CommEntry:
    comm_id: str
    patient_id: str
    at: datetime
    mode: Literal["phone", "text", "email", "mail", "in_person", "none"]
    direction: Literal["sent", "received", "neither"]
    note: str


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int | None
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Accounts whose balance or contact data changed since a cursor."""

    guarantor_ids: list[str]
    cursor: str


# ---- write-backs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommLogWrite:
    idempotency_key: str
    patient_id: str
    at: datetime
    mode: Literal["phone", "text", "email", "none"]
    direction: Literal["sent", "received", "neither"]
    note: str


@dataclass(frozen=True, slots=True)
class PromiseWrite:
    idempotency_key: str
    guarantor_id: str
    amount: Decimal
    due_on: date
    note: str = ""


@dataclass(frozen=True, slots=True)
class PaymentWrite:
    idempotency_key: str
    guarantor_id: str
    amount: Decimal
    paid_on: date
    method: Literal["card", "check", "cash", "portal", "ach", "other"]
    processor_ref: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class PaymentPlanWrite:
    idempotency_key: str
    guarantor_id: str
    total: Decimal
    down_payment: Decimal
    installment_amount: Decimal
    installments: int
    frequency: PlanFrequency
    first_due: date
    note: str = ""


@dataclass(frozen=True, slots=True)
class ContactPreferenceWrite:
    idempotency_key: str
    patient_id: str
    sms_ok: bool | None = None
    do_not_call: bool | None = None
    email_ok: bool | None = None
    note: str = ""


WriteStatus = Literal["created", "already_exists", "queued_manual", "unsupported", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    status: WriteStatus
    external_id: str | None = None
    message: str = ""

    @property
    def done(self) -> bool:
        """True when the PMS holds (or staff were handed) the record and no retry is needed."""
        return self.status in ("created", "already_exists", "queued_manual", "unsupported")


WriteMode = Literal["direct", "manual", "none"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this PMS connection can record itself ("direct"), hands to staff ("manual"), or not at all."""

    comm_log: WriteMode = "direct"
    promise: WriteMode = "direct"
    payment: WriteMode = "direct"
    payment_plan: WriteMode = "direct"
    contact_preferences: WriteMode = "direct"
    changes_since: bool = True


@dataclass(frozen=True, slots=True)
class PmsHealth:
    reachable: bool
    detail: str = ""
    last_aging_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PracticeInfo:
    practice_id: str
    name: str
    timezone: str
    phone: str | None = None


__all__ = [
    "ZERO",
    "AccountSummary",
    "Aging",
    "Appointment",
    "Capabilities",
    "ChangeSet",
    "Claim",
    "CommEntry",
    "CommLogWrite",
    "ContactPoint",
    "ContactPreferenceWrite",
    "Flag",
    "LedgerLine",
    "Page",
    "Patient",
    "Payment",
    "PaymentPlan",
    "PaymentPlanWrite",
    "PaymentWrite",
    "PmsHealth",
    "PracticeInfo",
    "Promise",
    "PromiseWrite",
    "WriteResult",
]

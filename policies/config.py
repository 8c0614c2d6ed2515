"""The practice policy: one validated YAML document per practice.

Every knob a practice can turn lives here; the bundled demo policy (`policies/demo_policy.yaml`)
documents each one. Loading fails with a message naming the offending key path.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies.cadence import CadenceRules

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
AutomationMode = Literal["recommend", "assisted", "autonomous"]
Channel = Literal["voice", "sms", "email"]
E164 = r"^\+[1-9][0-9]{7,14}$"
PlanFrequency = Literal["weekly", "every_other_week", "monthly"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PracticeIdentity(_Strict):
    practice_id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=2, description="The name patients know; used in every message.")
    legal_name: str | None = None
    voicemail_alias: str | None = Field(
        default=None,
        description="Name used in voicemails and first texts when the practice name reveals a condition.",
    )
    timezone: str = "America/Chicago"
    callback_number: str = Field(pattern=E164, description="E.164 number patients call back on.")
    staff_contact_name: str = Field(description="A natural person to ask for (limited-content voicemail).")
    portal_url: str | None = Field(
        default=None, description="Payment portal link used when Stripe is not configured."
    )
    website: str | None = None
    office_hours: str = "Monday to Friday, 8 a.m. to 5 p.m."

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v

    @property
    def outreach_name(self) -> str:
        return self.voicemail_alias or self.name


class Disclosures(_Strict):
    ai_disclosure: bool = True
    recording_notice: bool = True
    mini_miranda: bool = False
    mini_miranda_states: list[str] = Field(
        default_factory=list, description="States where it is given anyway."
    )


class Verification(_Strict):
    method: Literal["name_dob"] = "name_dob"
    max_attempts: int = Field(default=3, ge=1, le=5)
    consented_number_is_enough_for_sms: bool = Field(
        default=False,
        description="If true, a text from a number on file with SMS consent counts as verified for SMS.",
    )


def _no_yaml_sexagesimal(v: object) -> object:
    """YAML 1.1 reads an unquoted `21:00` as the integer 1260; refuse it rather than guess."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise ValueError('write times as quoted "HH:MM" strings (YAML reads unquoted 21:00 as a number)')
    return v


class StateProfile(_Strict):
    """Extra limits for patients in one US state (address state, and optionally the phone's area code)."""

    enabled: bool = True
    match_area_code: bool = Field(
        default=False, description="Also apply when the dialled number's area code is here."
    )
    max_contacts_per_7_days: int | None = Field(
        default=None, ge=0, description="Calls+texts+voicemails (e.g. MA: 2)."
    )
    max_contacts_per_30_days_other_numbers: int | None = Field(
        default=None,
        ge=0,
        description="Contacts to numbers that are not personal (work), per 30 days (MA: 2).",
    )
    call_window_start: time | None = None
    call_window_end: time | None = None
    max_calls_per_24h: int | None = Field(default=None, ge=0)

    _times = field_validator("call_window_start", "call_window_end", mode="before")(_no_yaml_sexagesimal)

    @model_validator(mode="after")
    def _window(self) -> StateProfile:
        s, e = self.call_window_start, self.call_window_end
        if s is not None and e is not None and s >= e:
            raise ValueError("call_window_start must be before call_window_end")
        return self


class Compliance(_Strict):
    window_start: time = time(8, 0)
    window_end: time = time(21, 0)
    max_call_attempts_per_7_days: int = Field(default=7, ge=0, le=7)
    conversation_cooldown_days: int = Field(default=7, ge=0)
    max_sms_per_day: int = Field(default=1, ge=0)
    max_sms_per_7_days: int = Field(default=3, ge=0)
    max_email_per_7_days: int = Field(default=3, ge=0)
    landline_no_consent_max_calls_per_30_days: int = Field(default=3, ge=0)
    no_contact_on_holidays: bool = True
    no_contact_on_sundays: bool = False
    state_profiles: dict[str, StateProfile] = Field(
        default_factory=lambda: {
            "MA": StateProfile(max_contacts_per_7_days=2, max_contacts_per_30_days_other_numbers=2)
        }
    )
    blocking_flags: list[str] = Field(
        default_factory=lambda: [
            "dispute",
            "hardship",
            "attorney",
            "deceased",
            "agency",
            "wrong_number",
            "insurance_pending",
            "credit_balance",
            "paused",
        ]
    )
    appointment_pause_hours: int = Field(default=48, ge=0)
    recent_payment_pause_days: int = Field(
        default=3, ge=0, description="Pause balance outreach after a payment."
    )
    unknown_timezone: Literal["block", "us_intersection"] = "block"
    holiday_country: str = Field(default="US", description="Country code for the `holidays` calendar.")
    window_applies_to_email: bool = True
    note_flag_words: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "attorney": ["attorney", "lawyer", "bankruptcy", "bankrupt", "cease and desist"],
            "deceased": ["deceased", "passed away"],
        },
        description="Words in the PMS staff note that raise a flag (flag -> words).",
    )

    _times = field_validator("window_start", "window_end", mode="before")(_no_yaml_sexagesimal)

    @field_validator("holiday_country")
    @classmethod
    def _country(cls, v: str) -> str:
        import holidays

        try:
            holidays.country_holidays(v)
        except NotImplementedError as exc:
            raise ValueError(f"unknown holiday calendar {v!r}") from exc
        return v

    @field_validator("state_profiles")
    @classmethod
    def _states(cls, v: dict[str, StateProfile]) -> dict[str, StateProfile]:
        bad = [k for k in v if not (len(k) == 2 and k.isalpha() and k.isupper())]
        if bad:
            raise ValueError(f"state profile keys must be two-letter upper-case state codes, got {bad}")
        return v

    @model_validator(mode="after")
    def _window(self) -> Compliance:
        if self.window_start >= self.window_end:
            raise ValueError("window_start must be before window_end")
        if self.window_start < time(8, 0) or self.window_end > time(21, 0):
            raise ValueError("the contact window may not extend outside 08:00-21:00 patient-local time")
        return self


class BalanceBand(_Strict):
    up_to: Money | None = Field(
        default=None, description="Upper bound of the band (inclusive); null = no bound."
    )
    max_months: int = Field(ge=1, le=60)


class PlanRules(_Strict):
    enabled: bool = True
    min_balance_for_plan: Money = Decimal("100.00")
    min_monthly: Money = Decimal("50.00")
    bands: list[BalanceBand] = Field(
        default_factory=lambda: [
            BalanceBand(up_to=Decimal("500.00"), max_months=3),
            BalanceBand(up_to=Decimal("1500.00"), max_months=6),
            BalanceBand(up_to=Decimal("5000.00"), max_months=12),
            BalanceBand(up_to=None, max_months=18),
        ]
    )
    down_payment_percent: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    down_payment_min: Money = Decimal("0.00")
    staff_approval_above: Money = Decimal("3000.00")
    frequencies: list[PlanFrequency] = Field(
        default_factory=lambda: list[PlanFrequency](["monthly"]), min_length=1
    )
    max_options_offered: int = Field(default=3, ge=1, le=5)
    first_due_min_days: int = Field(default=7, ge=0, le=60)
    first_due_max_days: int = Field(default=30, ge=3, le=90)
    staff_approval_after_broken_promises: int | None = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _bands(self) -> PlanRules:
        if self.first_due_max_days - self.first_due_min_days < 3:
            raise ValueError("first_due_max_days must be at least 3 days after first_due_min_days")
        if not self.bands:
            raise ValueError("at least one balance band is required")
        uppers = [b.up_to for b in self.bands]
        if uppers[-1] is not None:
            raise ValueError("the last band must have up_to: null (no upper bound)")
        bounded = [u for u in uppers[:-1] if u is not None]
        if len(bounded) != len(uppers) - 1 or bounded != sorted(bounded):
            raise ValueError("band up_to values must be increasing and only the last may be null")
        return self


class PaymentRules(_Strict):
    min_partial_payment: Money = Decimal("25.00")
    link_expiry_minutes: int = Field(default=60 * 24, ge=30, le=60 * 24)
    promise_max_days_out: int = Field(default=30, ge=1, le=120)
    # card payments on a call (Twilio <Pay>) and self-charging plans (docs/payments.md)
    pay_connector: str = Field(default="Default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    installment_reminder_days: int = Field(default=3, ge=0, le=14)
    installment_retry_hours: int = Field(default=48, ge=1, le=24 * 14)
    promise_grace_days: int = Field(default=3, ge=0, le=30)
    receipts_by_sms: bool = True


class ScoringWeights(_Strict):
    balance: float = Field(default=1.0, ge=0)
    age: float = Field(default=1.0, ge=0)
    payer_history: float = Field(default=1.0, ge=0)
    broken_promises: float = Field(default=0.5, ge=0)
    contactability: float = Field(default=0.5, ge=0)
    immediate_call_min_balance: Money = Decimal("1000.00")
    immediate_call_min_days: int = Field(default=31, ge=0)
    plan_candidate_min_balance: Money = Decimal("500.00")
    insurance_follow_up_ratio: Decimal = Field(default=Decimal("1.0"), gt=0)
    human_review_days: int = Field(default=120, ge=30)
    human_review_broken_promises: int = Field(default=3, ge=1)
    do_not_contact_flags: list[str] = Field(
        default_factory=lambda: ["attorney", "deceased", "agency", "credit_balance", "paused"]
    )
    human_review_flags: list[str] = Field(default_factory=lambda: ["dispute", "hardship", "wrong_number"])


class Transfer(_Strict):
    staff_number: str | None = Field(default=None, pattern=E164)
    ring_timeout_seconds: int = Field(default=25, ge=5, le=60)


class Sms(_Strict):
    help_text: str | None = None
    session_idle_days: int = Field(default=7, ge=1, le=30)


class PracticePolicy(_Strict):
    """The whole policy document."""

    version: Literal[1] = 1
    practice: PracticeIdentity
    disclosures: Disclosures = Disclosures()
    verification: Verification = Verification()
    compliance: Compliance = Compliance()
    plans: PlanRules = PlanRules()
    payments: PaymentRules = PaymentRules()
    scoring: ScoringWeights = ScoringWeights()
    transfer: Transfer = Transfer()
    sms: Sms = Sms()
    automation_mode: AutomationMode = "recommend"
    cadence: CadenceRules = CadenceRules()


class PolicyError(ValueError):
    """A policy file is missing, unreadable or invalid; the message names the key path."""


DEMO_POLICY_PATH = Path(__file__).with_name("demo_policy.yaml")


def load_policy(path: str | Path | None = None) -> PracticePolicy:
    """Load and validate a policy YAML (the bundled demo policy when `path` is None)."""
    p = Path(path) if path else DEMO_POLICY_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {p}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {p} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"policy file {p} must be a mapping at the top level")
    try:
        return PracticePolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"invalid policy {p}: {problems}") from exc

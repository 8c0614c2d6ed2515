"""Outreach cadences as data: which contact an account gets next, on which day, and why.

`next_step(state, rules) -> Step` is pure. The practice's `cadence:` policy section
(`CadenceRules`) lists the steps of one collection *cycle* (a cycle starts when BalanceLine first
sees a balance on a clear account); the seeds' dunning model is the default:

- balance below `small_balance_below` -> a text on day 0 (within 24 h of the balance appearing);
  at or above -> a plan offer on day 0;
- no response in 7 days -> the other digital channel (e-mail or SMS, by preference);
- no response by day 15 -> a call; day 30 -> a second call;
- `human_review_after_unanswered` contacts without a response, or a cycle older than
  `human_review_after_days` -> human review (a staff task), never more automated contact.

Promises come first: a reminder `promise_reminder_days_before` the due day, and a follow-up
`broken_promise_followup_days` after a promise is broken; while a promise is open the balance
steps wait. A response (reply, conversation, payment) pauses the cycle `pause_after_response_days`.
Accounts that are never contacted (do-not-contact, insurance follow-up, current plans) and human
review are decided here too, from the priority tier. Every `Step` carries its reasons.

Which channel is actually used is the compliance gate's call: a step lists candidate channels in
order of preference and the planner takes the first the gate does not block for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.types import Channel, Tier

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
ChannelSpec = Literal["preferred_digital", "other_digital", "voice"]
Segment = Literal["small", "large", "any"]
StepKind = Literal["contact", "review", "wait", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(v: object) -> object:
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise ValueError('write times as quoted "HH:MM" strings (YAML reads unquoted 10:00 as a number)')
    return v


class CadenceStep(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable id of the step within a cycle.")
    segment: Segment = "any"
    day: int = Field(ge=0, le=365, description="Days after the cycle starts.")
    channel: ChannelSpec
    purpose: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Template key of the message or call.")


def _default_steps() -> list[CadenceStep]:
    return [
        CadenceStep(key="small_text", segment="small", day=0, channel="preferred_digital",
                    purpose="balance_reminder"),
        CadenceStep(key="plan_offer", segment="large", day=0, channel="preferred_digital", purpose="plan_offer"),
        CadenceStep(key="digital_follow_up", day=7, channel="other_digital", purpose="balance_reminder"),
        CadenceStep(key="first_call", day=15, channel="voice", purpose="balance_call"),
        CadenceStep(key="second_call", day=30, channel="voice", purpose="balance_call"),
    ]  # fmt: skip


class AutomationRules(_Strict):
    """What `automation_mode` lets go out without a staff approval."""

    assisted_auto_purposes: list[str] = Field(
        default_factory=lambda: ["balance_reminder", "promise_reminder"]
    )
    assisted_auto_channels: list[Channel] = Field(default_factory=lambda: list[Channel](["sms", "email"]))
    assisted_max_balance: Money = Decimal("500.00")
    autonomous_max_balance: Money = Decimal("5000.00")
    autonomous_max_broken_promises: int = Field(default=1, ge=0)


_SEND_TIMES: dict[Channel, time] = {"sms": time(10, 0), "email": time(9, 0), "voice": time(17, 30)}


class CadenceRules(_Strict):
    enabled: bool = True
    small_balance_below: Money = Decimal("100.00")
    steps: list[CadenceStep] = Field(default_factory=_default_steps)
    promise_reminder_days_before: int = Field(default=1, ge=0, le=14)
    broken_promise_followup_days: int = Field(default=1, ge=0, le=30)
    pause_after_response_days: int = Field(default=7, ge=0, le=60)
    human_review_after_days: int = Field(default=90, ge=1)
    human_review_after_unanswered: int = Field(default=4, ge=1)
    send_times: dict[Channel, time] = Field(default_factory=lambda: _SEND_TIMES.copy())
    min_hours_between_contacts: int = Field(default=20, ge=0, le=168)
    max_dispatch_tries: int = Field(default=4, ge=1, le=10)
    retry_backoff_seconds: int = Field(default=300, ge=1)
    automation: AutomationRules = AutomationRules()

    @field_validator("send_times", mode="before")
    @classmethod
    def _times(cls, v: object) -> object:
        if isinstance(v, dict):
            for t in v.values():
                _hhmm(t)
        return v

    @model_validator(mode="after")
    def _steps(self) -> CadenceRules:
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError(f"cadence step keys must be unique, got {keys}")
        days = [s.day for s in self.steps]
        if days != sorted(days):
            raise ValueError("cadence steps must be listed in order of day")
        return self


# ---- the state of one account and the answer ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromiseView:
    promise_id: str
    due_on: date
    broken: bool  # marked broken, or due and unpaid
    open: bool  # still waiting for its due day


@dataclass(slots=True)  # not frozen: built once per account per plan (hot path), never shared
class CadenceState:
    today: date  # the patient's (or practice's) local date
    tier: Tier
    tier_reasons: tuple[str, ...]
    balance: Decimal
    cycle_started_on: date
    done: tuple[tuple[str, date], ...] = ()  # step keys sent (or settled) in this cycle, with the day
    last_digital: Channel | None = None  # channel of the last digital step sent in this cycle
    unanswered: int = 0  # contacts sent in this cycle since the patient last responded
    last_response_on: date | None = None
    promises: tuple[PromiseView, ...] = ()
    on_current_plan: bool = False
    preferred_digital: Channel = "sms"
    has_sms: bool = True  # a mobile number on file
    has_email: bool = False
    has_phone: bool = True
    balance_age_days: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    key: str = ""
    channels: tuple[Channel, ...] = ()  # candidates, best first
    purpose: str = ""
    due_on: date | None = None
    reasons: tuple[str, ...] = ()


_SILENT_TIERS = {
    Tier.DO_NOT_CONTACT: "never contacted",
    Tier.INSURANCE_FOLLOW_UP: "waits on insurance; no patient contact",
}


def next_step(state: CadenceState, rules: CadenceRules) -> Step:
    """The next thing to do for one account (see the module docstring for the order)."""
    s = state
    if not rules.enabled:
        return Step("none", reasons=("cadence disabled by policy",))
    tier = s.tier
    if tier is Tier.DO_NOT_CONTACT or tier is Tier.INSURANCE_FOLLOW_UP:  # identity: Enum hashing is slow
        return Step("none", reasons=(_SILENT_TIERS[tier], *s.tier_reasons))
    if s.on_current_plan:
        return Step("none", reasons=("on a current, on-time payment plan: not dunned",))
    if tier is Tier.HUMAN_REVIEW:
        return Step("review", "human_review", (), "human_review", s.today, s.tier_reasons)
    done = dict(s.done)
    digital = _digital(s)

    promise = _promise_step(s, rules, done, digital)
    if promise is not None:
        return promise

    if s.last_response_on is not None and s.last_response_on >= s.cycle_started_on:
        resume = s.last_response_on + timedelta(days=rules.pause_after_response_days)
        if s.today < resume:
            return Step(
                "wait",
                due_on=resume,
                reasons=(f"patient responded on {s.last_response_on.isoformat()}; cadence resumes then",),
            )
    day = (s.today - s.cycle_started_on).days
    if s.unanswered >= rules.human_review_after_unanswered:
        return _review(s, f"{s.unanswered} contacts without a response")
    if day >= rules.human_review_after_days:
        return _review(s, f"cycle open {day} days (>= {rules.human_review_after_days})")

    segment = "small" if s.balance < rules.small_balance_below else "large"
    prev: tuple[int, date] | None = None  # (day of the rule, date it was sent)
    skipped: list[str] = []
    for rule in rules.steps:
        if rule.segment not in ("any", segment):
            continue
        if rule.key in done:
            prev = (rule.day, done[rule.key])
            continue
        channels = _channels(rule.channel, s, digital)
        if not channels:
            skipped.append(f"{rule.key} skipped: no {rule.channel.replace('_', ' ')} channel on file")
            continue
        due = s.cycle_started_on + timedelta(days=rule.day)
        if prev is not None:
            due = max(due, prev[1] + timedelta(days=rule.day - prev[0]))
        if s.last_response_on is not None and s.last_response_on >= s.cycle_started_on:
            due = max(due, s.last_response_on + timedelta(days=rules.pause_after_response_days))
        why = [_why(rule.key, rule.day, rule.purpose, segment, rules.small_balance_below)]
        if skipped:
            why += skipped
        kind: StepKind = "contact" if due <= s.today else "wait"
        return Step(kind, rule.key, channels, rule.purpose, due, (*why, *s.tier_reasons))
    if s.balance_age_days >= rules.human_review_after_days:
        return _review(s, f"cadence complete and the balance is {s.balance_age_days} days old")
    return Step("none", reasons=("cadence complete for this cycle", *skipped))


def _review(s: CadenceState, why: str) -> Step:
    return Step("review", "human_review", (), "human_review", s.today, (why, *s.tier_reasons))


def _digital(s: CadenceState) -> tuple[Channel, ...]:
    order: list[Channel] = [s.preferred_digital, "email" if s.preferred_digital == "sms" else "sms"]
    have = {"sms": s.has_sms, "email": s.has_email}
    return tuple(c for c in order if have.get(c))


def _channels(spec: ChannelSpec, s: CadenceState, digital: tuple[Channel, ...]) -> tuple[Channel, ...]:
    if spec == "voice":
        return ("voice",) if s.has_phone else ()
    if spec == "other_digital" and s.last_digital is not None:
        others = tuple(c for c in digital if c != s.last_digital)
        return others + tuple(c for c in digital if c == s.last_digital)
    return digital


@lru_cache(maxsize=256)
def _why(key: str, day: int, purpose: str, segment: str, limit: Decimal) -> str:
    seg = f"balance below ${limit:,.2f}" if segment == "small" else f"balance ${limit:,.2f} or more"
    if day == 0:
        return f"{key}: {seg}, first contact of the cycle ({purpose})"
    return f"{key}: no response {day} days into the cycle ({purpose})"


def _promise_step(
    s: CadenceState, rules: CadenceRules, done: dict[str, date], digital: tuple[Channel, ...]
) -> Step | None:
    for p in sorted(s.promises, key=lambda p: p.due_on):
        if p.broken:
            key = f"broken_promise:{p.promise_id}"
            # Only promises broken around this cycle get a follow-up (not one from a year ago).
            stale = p.due_on < s.cycle_started_on - timedelta(days=30)
            if key in done or not digital or stale:
                continue
            due = p.due_on + timedelta(days=rules.broken_promise_followup_days)
            kind: StepKind = "contact" if due <= s.today else "wait"
            why = f"promise due {p.due_on.isoformat()} was not kept: follow up"
            return Step(kind, key, digital, "broken_promise_followup", due, (why,))
        if p.open:
            key = f"promise_reminder:{p.promise_id}"
            remind = p.due_on - timedelta(days=rules.promise_reminder_days_before)
            if key not in done and digital and s.today <= p.due_on:
                kind = "contact" if remind <= s.today else "wait"
                why = f"promise due {p.due_on.isoformat()}: reminder {rules.promise_reminder_days_before} day(s) before"
                return Step(kind, key, digital, "promise_reminder", max(remind, s.today), (why,))
            return Step(
                "wait",
                due_on=p.due_on + timedelta(days=1),
                reasons=(f"open promise due {p.due_on.isoformat()}: balance steps wait",),
            )
    return None

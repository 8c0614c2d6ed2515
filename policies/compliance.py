"""The compliance gate: may BalanceLine make this contact now, and if not, when?

`check(action, patient, account, history, policy, now) -> Decision` is pure: the clock is `now`.
Checks run in this order; `Decision.reason` is the first that fails, `blocked_by` lists all.

0. `invalid_contact`: no destination. Purposes `opt_out_confirmation` and `help` are then always
   allowed (rules 22, 40): they answer the patient and must reach even a suppressed number.
Standing blocks (no `next_allowed_at`; something must change first):
1. `suppressed`: the shared ledger (scope ALL blocks every medium; VOICE/SMS/EMAIL one medium;
   a value-specific entry only that number/address), PMS "do not call" and SMS consent "no"
   (rules 19-25, 37). A later `sms_opt_in` consent lifts SMS opt-outs (not voice; rule 38).
2. `reassigned_number` (rule 18).
3. `flag:<name>`: policy `blocking_flags` found on the account, patient, BalanceLine's own flags
   or the staff note; a deceased patient always (rules 4a, 27).
4. `patient_restriction`: the patient said never this number or medium (rules 7, 33).
   -- A reply to the patient's own message (`initiated_by="patient_reply"`) stops here: allowed.
5. `no_consent` / `invalid_consent_basis`: an automated call to a mobile (or unknown line) or an
   automated text needs a recorded basis; `healthcare_exemption` never counts (rules 15-17).
6. `unknown_timezone` / `no_common_window` (rule 6).
Temporal blocks (`next_allowed_at` = the earliest instant at which *every* check passes):
7. `payment_pause`, `appointment_pause` (balance outreach only).
8. `conversation_cooldown` (rule 10); 9. `call_cap_7_days` (rules 9, 11); 10. `landline_cap_30_days`
   (rule 14); 11. `state_calls_24h:<ST>`, `state_cap:<ST>` (rules 8, 13); 12. `sms_cap_day`,
   `sms_cap_7_days` (rule 12), `email_cap_7_days`.
13. `holiday`, `sunday`; 14. `outside_window` (rules 5, 6, 8), `inconvenient_time` (rule 7): the
   window is applied in every candidate zone, with the patient's local wall clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from pms.types import AccountSummary, Patient
from policies.caps import Block, Caps
from policies.config import PracticePolicy, StateProfile
from policies.timezones import ZoneResolution, distinct_zones, phone_state, resolve_phone, resolve_zones, zone
from policies.types import ContactAction, ContactHistory, Decision, Purpose, SuppressionScope
from policies.windows import DAY, WindowSpec, clock, intersect, next_open, restriction, seconds

__all__ = ["EXEMPT_PURPOSES", "Purpose", "active_flags", "check", "explain", "has_consent"]

EXEMPT_PURPOSES = frozenset({"opt_out_confirmation", "help"})
VOICE_BASES = frozenset({"provided_number_for_account", "express_verbal", "written"})
SMS_BASES = VOICE_BASES | {"sms_opt_in"}
# Suppression reasons a later SMS opt-in (START/UNSTOP/YES) lifts for SMS only (rule 38).
LIFTED_BY_SMS_OPT_IN = frozenset({"opt_out", "stop", "sms_stop", "twilio_21610"})
_SCOPE = {"voice": SuppressionScope.VOICE, "sms": SuppressionScope.SMS, "email": SuppressionScope.EMAIL}


@dataclass(frozen=True, slots=True)
class _Rules:
    """What `check` needs from a policy, derived once per policy object (the hot path reuses it)."""

    base: tuple[int, int]  # the general window, seconds of the day
    blocking: tuple[str, ...]  # "deceased" first
    note_words: tuple[tuple[str, tuple[str, ...]], ...]
    profiles: tuple[tuple[str, StateProfile], ...]  # enabled ones
    by_area_code: bool
    window_for_email: bool
    no_sundays: bool
    holiday_country: str | None


_RULES: dict[int, tuple[PracticePolicy, _Rules]] = {}


def _rules(policy: PracticePolicy) -> _Rules:
    hit = _RULES.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    c = policy.compliance
    profiles = tuple((k, p) for k, p in c.state_profiles.items() if p.enabled)
    rules = _Rules(
        base=(seconds(c.window_start), seconds(c.window_end)),
        blocking=tuple(dict.fromkeys(("deceased", *c.blocking_flags))),
        note_words=tuple((k, tuple(v)) for k, v in c.note_flag_words.items()),
        profiles=profiles,
        by_area_code=any(p.match_area_code for _, p in profiles),
        window_for_email=c.window_applies_to_email,
        no_sundays=c.no_contact_on_sundays,
        holiday_country=c.holiday_country if c.no_contact_on_holidays else None,
    )
    if len(_RULES) >= 64:
        _RULES.clear()
    _RULES[id(policy)] = (policy, rules)
    return rules


def _norm(channel: str, to: str) -> str:
    return to.strip().casefold() if channel == "email" else to.strip()


@lru_cache(maxsize=64)
def _note_pattern(words: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, re.Pattern[str]]]:
    return [
        (flag, re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ws) + r")\b", re.IGNORECASE))
        for flag, ws in words
        if ws
    ]


def active_flags(
    patient: Patient, account: AccountSummary | None, history: ContactHistory, policy: PracticePolicy
) -> set[str]:
    """Every flag on the person: account, patient, BalanceLine's own, deceased status, note words."""
    flags = set(patient.flags) | set(history.extra_flags)
    if account is not None:
        flags |= account.flags | account.guarantor.flags
    if patient.status == "deceased":
        flags.add("deceased")
    if patient.note:
        key = _rules(policy).note_words
        flags.update(flag for flag, pat in _note_pattern(key) if pat.search(patient.note))
    return flags


def _suppressed(action: ContactAction, to: str, patient: Patient, history: ContactHistory) -> Block | None:
    ch = action.channel
    scope = _SCOPE[ch]
    for s in history.suppressions:
        if s.scope not in (SuppressionScope.ALL, scope):
            continue
        if s.value is not None and _norm(ch, s.value) != to:
            continue
        if (
            ch == "sms"
            and s.reason in LIFTED_BY_SMS_OPT_IN
            and any(
                c.channel == "sms" and c.basis == "sms_opt_in" and c.value == to and s.at < c.at
                for c in history.consents
            )
        ):
            continue
        where = "this number" if s.value else "every number"
        medium = "any contact" if s.scope == SuppressionScope.ALL else f"{s.scope.value} contact"
        return Block(
            "suppressed", f"The patient opted out of {medium} at {where} ({s.reason}, {s.at:%Y-%m-%d})."
        )
    if ch == "voice" and patient.preferred_contact == "do_not_call":
        return Block("suppressed", "The PMS marks the patient 'do not call'.")
    if ch == "sms" and any(c.value == to and c.sms_consent == "no" for c in patient.phones):
        return Block("suppressed", "The PMS records that the patient does not accept texts at this number.")
    return None


def has_consent(channel: str, to: str, patient: Patient, history: ContactHistory, now: datetime) -> bool:
    """A recorded prior-express-consent basis for automated contact at `to` (PMS text opt-in counts)."""
    valid = VOICE_BASES if channel == "voice" else SMS_BASES
    for c in history.consents:
        if c.channel == channel and c.value == to and c.at <= now and c.basis in valid:
            return True
    return channel == "sms" and any(c.value == to and c.sms_consent == "yes" for c in patient.phones)


def _consent(action: ContactAction, to: str, history: ContactHistory, consented: bool) -> Block | None:
    """None when consent is on file or not needed; a Block otherwise (rules 14-17)."""
    ch = action.channel
    if (
        consented
        or not action.automated
        or ch == "email"
        or (ch == "voice" and action.line_type == "landline")
    ):
        return None
    if any(c.basis == "healthcare_exemption" and c.channel == ch and c.value == to for c in history.consents):
        return Block(
            "invalid_consent_basis",
            "The only consent on file is the healthcare-message exemption, "
            "which never covers billing (rule 16).",
        )
    kind = "an AI-voice call to a mobile" if ch == "voice" else "an automated text"
    return Block("no_consent", f"No recorded prior express consent for {kind} at this number (TCPA).")


def _profiles(patient: Patient, to: str, channel: str, rules: _Rules) -> list[tuple[str, StateProfile]]:
    if channel == "email" or not rules.profiles:
        return []
    st = (patient.state or "").upper()
    area = phone_state(to) if rules.by_area_code else None
    return [(code, p) for code, p in rules.profiles if code == st or (p.match_area_code and area == code)]


def _restrictions(
    action: ContactAction, to: str, history: ContactHistory
) -> tuple[Block | None, tuple[tuple[int, int], ...]]:
    allowed: tuple[tuple[int, int], ...] = ((0, DAY),)
    never: Block | None = None
    for r in history.inconvenient:
        if (r.value is not None and r.value != to) or (r.channel is not None and r.channel != action.channel):
            continue
        if r.not_before is None and r.not_after is None:
            if never is None and (r.value is not None or r.channel is not None):
                what = "this number" if r.value is not None else f"{action.channel} contact"
                never = Block("patient_restriction", f"The patient asked us not to use {what}.")
            continue
        allowed = intersect(allowed, restriction(r.not_before, r.not_after))
    return never, allowed


@lru_cache(maxsize=1024)
def _spec(
    base: tuple[int, int],
    patient_iv: tuple[tuple[int, int], ...],
    no_sundays: bool,
    holiday_country: str | None,
) -> WindowSpec:
    allowed = intersect((base,), patient_iv) if base[0] < base[1] else ()
    return WindowSpec(allowed, no_sundays=no_sundays, holiday_country=holiday_country)


def _where(
    patient: Patient, phone: str | None, policy: PracticePolicy
) -> tuple[ZoneResolution, ZoneInfo, tuple[ZoneInfo, ...]]:
    """(candidate zones, the primary zone for calendar days, the distinct zones to evaluate)."""
    if phone:
        unknown = policy.compliance.unknown_timezone
        return _where_phone(patient.timezone, patient.state, phone, unknown, policy.practice.timezone)
    res = resolve_zones(patient, None, policy)
    return res, zone(res.primary or policy.practice.timezone), distinct_zones(res.zones)


@lru_cache(maxsize=262_144)
def _where_phone(
    tz: str | None, state: str | None, phone: str, unknown: str, practice_tz: str
) -> tuple[ZoneResolution, ZoneInfo, tuple[ZoneInfo, ...]]:
    res = resolve_phone(tz, state, phone, unknown)
    return res, zone(res.primary or practice_tz), distinct_zones(res.zones)


@lru_cache(maxsize=16_384)
def _window_blocks(base: tuple[int, int], patient_iv: tuple[tuple[int, int], ...], no_sundays: bool,
                   holiday_country: str | None, zones: tuple[ZoneInfo, ...], now: datetime,
                   note: str) -> tuple[Block, ...]:  # fmt: skip
    """The calendar/window blocks at `now` (UTC), () when the window is open in every zone.

    Memoised: a pure function of its arguments, which thousands of accounts share in one plan
    (same zones, same instant, usually no patient restriction)."""
    spec = _spec(base, patient_iv, no_sundays, holiday_country)
    if spec.allowed(zones, now):
        return ()
    found: dict[str, Block] = {}
    for z in zones:
        loc = now.astimezone(z)
        ex = spec.excluded(loc.date())
        if ex and ex not in found:
            what = "Sunday" if ex == "sunday" else "a public holiday"
            found[ex] = Block(ex, f"{loc:%a %b} {loc.day} is {what} in {z.key}; no contact that day.")
        sec = loc.hour * 3600 + loc.minute * 60 + loc.second
        if not base[0] <= sec < base[1] and "outside_window" not in found:
            found["outside_window"] = Block(
                "outside_window",
                f"It is {clock(sec)} in {z.key}; contact may start {clock(base[0])}-{clock(base[1])} "
                f"patient-local{note}.",
            )
        if not any(s <= sec < e for s, e in patient_iv) and "inconvenient_time" not in found:
            spans = ", ".join(f"{clock(s)}-{clock(e)}" for s, e in patient_iv)
            found["inconvenient_time"] = Block(
                "inconvenient_time",
                f"It is {clock(sec)} in {z.key}; the patient asked to be contacted {spans}.",
            )
    return tuple(found[k] for k in ("holiday", "sunday", "outside_window", "inconvenient_time") if k in found)


def check(
    action: ContactAction,
    patient: Patient,
    account: AccountSummary | None,
    history: ContactHistory,
    policy: PracticePolicy,
    now: datetime,
) -> Decision:
    """Decide one proposed contact. `now` must be timezone-aware."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)  # compare instants, never wall clocks that share a tzinfo
    rules = _rules(policy)
    to = _norm(action.channel, action.to)
    if not to:
        return Decision(
            False, "invalid_contact", None, "The contact has no destination.", ("invalid_contact",)
        )
    if action.purpose in EXEMPT_PURPOSES:
        return Decision(True, "ok", None, "Opt-out confirmations and HELP replies are always sent.")

    standing: list[Block] = []
    sup = _suppressed(action, to, patient, history)
    if sup:
        standing.append(sup)
    if to in history.reassigned_numbers:
        standing.append(
            Block("reassigned_number", "The Reassigned Numbers Database says this number changed hands.")
        )
    flags = active_flags(patient, account, history, policy)
    standing += [Block(f"flag:{f}", f"The account is flagged '{f}'.") for f in rules.blocking if f in flags]
    never, patient_iv = _restrictions(action, to, history)
    if never:
        standing.append(never)
    if action.initiated_by == "patient_reply":
        if standing:
            return _decide(standing, [], None)
        return Decision(
            True, "ok", None, "A reply to the patient's own message: window and caps do not apply."
        )

    consented = has_consent(action.channel, to, patient, history, now)
    consent = _consent(action, to, history, consented)
    if consent:
        standing.append(consent)
    phone = to if action.channel != "email" else None
    res, primary, candidates = _where(patient, phone, policy)
    profiles = _profiles(patient, to, action.channel, rules)

    windowed = action.channel != "email" or rules.window_for_email
    spec: WindowSpec | None = None
    zones: tuple[ZoneInfo, ...] = ()
    window: tuple[Block, ...] = ()
    if windowed:
        base = rules.base
        note = ""
        for st, p in profiles:
            if p.call_window_start or p.call_window_end:
                base = (
                    max(base[0], seconds(p.call_window_start or time(0))),
                    min(base[1], seconds(p.call_window_end or time.max)),
                )
                note += f" ({st} profile)"
        if base[0] >= base[1]:
            base = (0, 0)
        spec = _spec(base, patient_iv, rules.no_sundays, rules.holiday_country)
        zones = candidates
        if not zones:
            standing.append(
                Block("unknown_timezone", "No time zone can be derived for the patient (rule 6).")
            )
        elif not spec.intervals:
            standing.append(
                Block("no_common_window", "The patient's restrictions leave no time to contact them.")
            )
        else:
            window = _window_blocks(
                base, patient_iv, rules.no_sundays, rules.holiday_country, zones, now, note
            )

    caps = Caps(action, to, patient, account, history, policy, now, primary, profiles, consented)
    temporal = caps.blocks()
    if standing or not (temporal or window):
        return _decide(standing, [*temporal, *window], None)
    at = _next_allowed(now, temporal, caps.future, spec, zones)
    if at is None and spec is not None and all(b.until for b in temporal):
        standing.append(
            Block("no_common_window", f"The contact windows in {', '.join(res.zones)} never overlap.")
        )
    return _decide(standing, [*temporal, *window], at.astimezone(primary) if at else None)


def _next_allowed(now: datetime, temporal: list[Block], future: list[tuple[datetime, datetime]],
                  spec: WindowSpec | None, zones: tuple[ZoneInfo, ...]) -> datetime | None:  # fmt: skip
    t = now
    for b in temporal:
        if b.until is None:
            return None
        t = max(t, b.until)
    for _ in range(32):
        if spec is not None:
            nxt = next_open(spec, zones, t)
            if nxt is None:
                return None
            t = nxt
        moved = False
        for start, end in future:
            if start <= t < end:
                t, moved = end, True
        if not moved:
            return t
    return None


def _decide(standing: list[Block], temporal: list[Block], at: datetime | None) -> Decision:
    blocks = standing + temporal
    if not blocks:
        return Decision(True, "ok", None, "All compliance checks passed.")
    first = blocks[0]
    return Decision(
        False,
        first.code,
        None if standing else at,
        first.detail,
        tuple(dict.fromkeys(b.code for b in blocks)),
    )


def explain(decision: Decision) -> str:
    """One or two plain sentences for staff, e.g. on the worklist."""
    if decision.allowed:
        return f"Allowed. {decision.detail}".strip()
    text = f"Blocked ({decision.reason}). {decision.detail}".strip()
    if decision.next_allowed_at is not None:
        at = decision.next_allowed_at
        text += f" Next allowed {at:%a %b} {at.day} at {at:%H:%M %Z}."
    else:
        text += " No automatic retry: this needs a change on the account or the patient's say-so."
    others = [c for c in decision.blocked_by if c != decision.reason]
    if others:
        text += f" Also: {', '.join(others)}."
    return text

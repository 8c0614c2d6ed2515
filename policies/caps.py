"""Frequency caps and pauses: the temporal blocks that expire on their own.

Each check returns a `Block` whose `until` is the instant it stops binding, assuming no further
contact is made (caps only loosen as time passes). "Days" are calendar days in the patient's
primary zone: Reg F's "seven consecutive days" counts the day of a call or conversation as day 1,
so a cap releases at local midnight, never at a rolling 168-hour mark. The Florida/Oklahoma
profile's "per 24 hours" is the one rolling-instant cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pms.types import AccountSummary, Patient
from policies.config import PracticePolicy, StateProfile
from policies.types import Attempt, ContactAction, ContactHistory
from policies.windows import local_instant

# Purposes that are "balance outreach": payments and appointments pause these. Reminders about a
# plan or promise the patient agreed to, receipts and callbacks they asked for are not paused.
BALANCE_OUTREACH = frozenset({"balance", "voicemail"})


@dataclass(frozen=True, slots=True)
class Block:
    code: str
    detail: str
    until: datetime | None = None  # when it stops binding; None = not by itself (standing)


def _fmt_day(d: date) -> str:
    return f"{d:%a %b} {d.day}"


def day_cap(days: Iterable[date], cap: int, span: int, today: date) -> tuple[bool, date | None]:
    """(blocked, first day it no longer binds) for "at most `cap` in any `span` consecutive days".

    The window ending today is [today-span+1, today]. With the cap reached, the first free day D
    is the one whose window excludes the cap-th most recent contact: D = that day + span.
    """
    recent = sorted((d for d in days if 0 <= (today - d).days < span), reverse=True)
    if len(recent) < cap:
        return False, None
    if cap == 0:
        return True, None
    return True, recent[cap - 1] + timedelta(days=span)


class Caps:
    """Temporal checks for one proposed contact; `blocks()` in the documented order."""

    def __init__(
        self,
        action: ContactAction,
        to: str,
        patient: Patient,
        account: AccountSummary | None,
        history: ContactHistory,
        policy: PracticePolicy,
        now: datetime,
        primary: ZoneInfo,
        profiles: list[tuple[str, StateProfile]],
        consented: bool,
    ) -> None:
        self.action, self.to, self.patient, self.account = action, to, patient, account
        self.history, self.c, self.now, self.primary = history, policy.compliance, now, primary
        self.profiles, self.consented = profiles, consented
        self.today = now.astimezone(primary).date()
        self.past: list[Attempt] = [a for a in history.attempts if a.at <= now]
        self.future: list[tuple[datetime, datetime]] = []  # pauses that start later (for the search)
        self._days: dict[int, date] = {}

    def _day(self, a: Attempt) -> date:
        d = self._days.get(id(a))
        if d is None:
            d = self._days[id(a)] = a.at.astimezone(self.primary).date()
        return d

    def _midnight(self, d: date) -> datetime:
        return local_instant(d, 0, self.primary)

    def _cap(self, code: str, what: str, attempts: list[Attempt], cap: int, span: int) -> Block | None:
        if len(attempts) < cap:
            return None  # cannot bind whatever the days
        blocked, release = day_cap((self._day(a) for a in attempts), cap, span, self.today)
        if not blocked:
            return None
        if release is None:
            return Block(code, f"{what}: the policy allows none.")
        days = "today" if span == 1 else f"in {span} consecutive days"
        return Block(
            code,
            f"{what}: {cap} already {days} (the cap); next on {_fmt_day(release)}.",
            self._midnight(release),
        )

    def blocks(self) -> list[Block]:
        out: list[Block | None] = [*self._pauses()]
        ch = self.action.channel
        if ch == "voice":
            out += self._voice()
        if ch in ("voice", "sms"):
            out += self._state_caps()
        if ch == "sms":
            sms = [a for a in self.past if a.channel == "sms" and a.direction == "outbound" and a.counted]
            out.append(self._cap("sms_cap_day", "Texts today", sms, self.c.max_sms_per_day, 1))
            out.append(self._cap("sms_cap_7_days", "Texts", sms, self.c.max_sms_per_7_days, 7))
        if ch == "email":
            em = [a for a in self.past if a.channel == "email" and a.direction == "outbound" and a.counted]
            out.append(self._cap("email_cap_7_days", "E-mails", em, self.c.max_email_per_7_days, 7))
        return [b for b in out if b is not None]

    def _pauses(self) -> list[Block]:
        if self.action.purpose not in BALANCE_OUTREACH:
            return []
        out: list[Block] = []
        days = self.c.recent_payment_pause_days
        if days:
            ends: list[datetime] = []
            paid = self.history.last_payment_at
            if paid is not None and paid <= self.now:
                ends.append(paid.astimezone(UTC) + timedelta(days=days))
            if self.account is not None and self.account.last_payment_date is not None:
                ends.append(self._midnight(self.account.last_payment_date + timedelta(days=days)))
            end = max(ends, default=None)
            if end is not None and self.now < end:
                out.append(
                    Block(
                        "payment_pause",
                        f"A payment posted recently; balance outreach pauses {days} days.",
                        end,
                    )
                )
        appt, hours = self.history.upcoming_appointment_at, self.c.appointment_pause_hours
        if appt is not None and hours:
            appt = appt.astimezone(UTC)
            start = appt - timedelta(hours=hours)
            end = self._midnight(appt.astimezone(self.primary).date() + timedelta(days=1))
            if start <= self.now < end:
                out.append(
                    Block(
                        "appointment_pause",
                        f"An appointment on {_fmt_day(appt.astimezone(self.primary).date())} pauses balance "
                        "outreach until the day after the visit.",
                        end,
                    )
                )
            elif self.now < start:
                self.future.append((start, end))
        return out

    def _voice(self) -> list[Block | None]:
        out: list[Block | None] = []
        a = self.action
        requested = a.requested_at is not None and timedelta(0) <= self.now - a.requested_at <= timedelta(
            days=7
        )
        if not requested:
            convs = [self._day(x) for x in self.past if x.conversation and x.channel == "voice"]
            cool = self.c.conversation_cooldown_days
            if convs and cool:
                last = max(convs)
                release = last + timedelta(days=cool)
                if self.today < release:
                    out.append(
                        Block(
                            "conversation_cooldown",
                            f"A phone conversation on {_fmt_day(last)} (day 1 of {cool}) means no call "
                            f"before {_fmt_day(release)}.",
                            self._midnight(release),
                        )
                    )
            calls = [
                x
                for x in self.past
                if x.channel == "voice" and x.direction == "outbound" and x.counted and not x.with_consent
            ]
            out.append(
                self._cap("call_cap_7_days", "Call attempts", calls, self.c.max_call_attempts_per_7_days, 7)
            )
        if a.line_type == "landline" and a.automated and not self.consented:
            to_line = [
                x
                for x in self.past
                if x.channel == "voice" and x.direction == "outbound" and x.counted and x.to == self.to
            ]
            cap = self.c.landline_no_consent_max_calls_per_30_days
            out.append(
                self._cap("landline_cap_30_days", "Calls to this landline without consent", to_line, cap, 30)
            )
        for st, prof in self.profiles:
            if prof.max_calls_per_24h is None:
                continue
            times = sorted(
                (
                    x.at
                    for x in self.past
                    if x.channel == "voice"
                    and x.direction == "outbound"
                    and x.counted
                    and self.now - x.at < timedelta(hours=24)
                ),
                reverse=True,
            )
            cap = prof.max_calls_per_24h
            if len(times) >= cap:
                until = times[cap - 1] + timedelta(hours=24) if cap else None
                out.append(
                    Block(f"state_calls_24h:{st}", f"{st} profile: at most {cap} calls in 24 hours.", until)
                )
        return out

    def _state_caps(self) -> list[Block | None]:
        out: list[Block | None] = []
        if not self.profiles:
            return out  # no state profile applies (most patients)
        kinds = {c.value: c.kind for c in self.patient.contacts}
        work = kinds.get(self.to) == "work"
        contacts = [
            x for x in self.past if x.channel in ("voice", "sms") and x.direction == "outbound" and x.counted
        ]
        for st, prof in self.profiles:
            if work and prof.max_contacts_per_30_days_other_numbers is not None:
                other = [x for x in contacts if kinds.get(x.to) == "work"]
                what = f"{st} profile: contacts to non-personal numbers"
                out.append(
                    self._cap(f"state_cap:{st}", what, other, prof.max_contacts_per_30_days_other_numbers, 30)
                )
            elif not work and prof.max_contacts_per_7_days is not None:
                personal = [x for x in contacts if kinds.get(x.to) != "work"]
                what = f"{st} profile: calls, texts and voicemails"
                out.append(self._cap(f"state_cap:{st}", what, personal, prof.max_contacts_per_7_days, 7))
        return out

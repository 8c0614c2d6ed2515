"""An independent compliance checker over the outreach attempt log.

It shares no code with the gate (`policies.compliance`, `policies.caps`, `policies.windows`,
`policies.timezones`): its rules are restated here, simply, from docs/rules-and-protocols (§B-F)
and the demo policy's numbers, and applied to what actually happened: the contact attempts in the
record store, the outreach jobs that went out, the suppression ledger and the practice's data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.store.models import ConsentEntryRow, ContactAttemptRow
from agent.store.models_outreach import OutreachJobRow
from pms.snapshot import PracticeSnapshot
from pms.types import Payment

# The demo policy's numbers, restated.
WINDOW = (8, 21)  # contact may start at [08:00, 21:00) local, in every plausible zone
HOLIDAYS = {date(2026, 11, 11), date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)}
MAX_SMS_DAY, MAX_SMS_7, MAX_EMAIL_7, MAX_CALLS_7 = 1, 3, 3, 7
NEVER_FLAGS = {"dispute", "hardship", "attorney", "deceased", "agency", "wrong_number", "insurance_pending",
               "credit_balance", "paused"}  # fmt: skip
NOTE_WORDS = ("attorney", "lawyer", "bankruptcy", "bankrupt", "deceased", "passed away")
PAYMENT_PAUSE = timedelta(days=3)
APPOINTMENT_PAUSE = timedelta(hours=48)
MIN_GAP = timedelta(hours=20)
CHI, HNL, PHX = ZoneInfo("America/Chicago"), ZoneInfo("Pacific/Honolulu"), ZoneInfo("America/Phoenix")
STATE_ZONE = {"MN": CHI, "HI": HNL, "AZ": PHX}
AREA_ZONE = {"763": CHI, "612": CHI, "320": CHI, "952": CHI, "218": CHI, "651": CHI, "808": HNL, "480": PHX}


@dataclass(frozen=True)
class Contact:
    guarantor_id: str
    channel: str
    to: str
    at: datetime
    purpose: str


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    attempts: int = 0

    def add(self, c: Contact, rule: str) -> None:
        self.violations.append(
            f"{rule}: account {c.guarantor_id} {c.channel} at {c.at.isoformat()} ({c.purpose})"
        )


def _zones(snapshot: PracticeSnapshot, gid: str, to: str, channel: str) -> list[ZoneInfo]:
    g = next(a.guarantor for a in snapshot.accounts if a.patient_id == gid)
    zones = [ZoneInfo(g.timezone)] if g.timezone else []
    if g.state in STATE_ZONE:
        zones.append(STATE_ZONE[g.state])
    numbers = [to] if channel != "email" else [c.value for c in g.phones]
    for n in numbers:
        area = n[2:5]
        if area not in AREA_ZONE:
            raise AssertionError(f"checker has no zone for area code {area}: extend AREA_ZONE")
        zones.append(AREA_ZONE[area])
    if not zones:
        raise AssertionError(f"account {gid} was contacted with no derivable time zone")
    return zones


def never_contact(snapshot: PracticeSnapshot) -> set[str]:
    """Accounts the rules say are left alone for the whole run (as of the start)."""
    active_plans = {p.guarantor_id for p in snapshot.plans if p.status == "active"}
    out: set[str] = set()
    for a in snapshot.accounts:
        g = a.guarantor
        flags = set(a.flags) | set(g.flags)
        note = g.note.casefold()
        if (
            flags & NEVER_FLAGS
            or g.status == "deceased"
            or any(w in note for w in NOTE_WORDS)
            or a.aging.patient_balance <= 0
            or a.patient_id in active_plans
        ):
            out.add(a.patient_id)
    return out


async def load_contacts(engine: AsyncEngine) -> tuple[list[Contact], int]:
    async with engine.connect() as conn:
        jobs = (await conn.execute(select(OutreachJobRow).where(OutreachJobRow.state == "sent"))).all()
        attempts = (
            await conn.execute(
                select(ContactAttemptRow).where(
                    ContactAttemptRow.direction == "outbound", ContactAttemptRow.counted.is_(True)
                )
            )
        ).all()
    contacts = [Contact(j.guarantor_id, j.channel, j.to, j.sent_at, j.purpose) for j in jobs]
    return contacts, len(attempts)


async def check(
    engine: AsyncEngine, snapshot: PracticeSnapshot, payments: dict[str, list[Payment]]
) -> Report:
    contacts, attempts = await load_contacts(engine)
    report = Report(contacts=contacts, attempts=attempts)
    if attempts != len(contacts):
        report.violations.append(f"count: {attempts} counted attempts for {len(contacts)} contacts sent")
    async with engine.connect() as conn:
        opt_outs = (
            await conn.execute(select(ConsentEntryRow).where(ConsentEntryRow.action == "opt_out"))
        ).all()
    left_alone = never_contact(snapshot)
    family = {p.patient_id: p.guarantor_id for p in snapshot.patients}
    appts: dict[str, list[datetime]] = defaultdict(list)
    for ap in snapshot.appointments:
        if ap.status == "scheduled" and ap.patient_id in family:
            appts[family[ap.patient_id]].append(ap.start)
    by_account: dict[str, list[Contact]] = defaultdict(list)
    for c in sorted(contacts, key=lambda c: c.at):
        by_account[c.guarantor_id].append(c)
        _single(c, report, snapshot, left_alone, opt_outs, appts, payments)
    for cs in by_account.values():
        _frequency(cs, report, snapshot)
    return report


def _single(c: Contact, report: Report, snapshot: PracticeSnapshot, left_alone: set[str], opt_outs: Sequence[Any],
            appts: dict[str, list[datetime]], payments: dict[str, list[Payment]]) -> None:  # fmt: skip
    if c.guarantor_id in left_alone:
        report.add(c, "contacted an account that must be left alone")
    for z in _zones(snapshot, c.guarantor_id, c.to, c.channel):
        local = c.at.astimezone(z)
        if not WINDOW[0] <= local.hour < WINDOW[1]:
            report.add(c, f"outside 08:00-21:00 in {z.key} ({local:%H:%M})")
        if local.date() in HOLIDAYS:
            report.add(c, f"public holiday {local.date()}")
    for o in opt_outs:
        who = o.value.casefold() == c.to.casefold() if o.value else o.patient_id == c.guarantor_id
        if who and o.scope in ("all", c.channel) and o.at <= c.at:
            report.add(c, f"contact after an opt-out ({o.scope}) at {o.at.isoformat()}")
    g = next(a.guarantor for a in snapshot.accounts if a.patient_id == c.guarantor_id)
    if c.channel == "sms":
        phone = next((p for p in g.phones if p.value == c.to), None)
        if phone is None or phone.kind != "mobile" or phone.sms_consent != "yes":
            report.add(c, "text to a number without SMS consent on file")
    for start in appts.get(c.guarantor_id, []):
        end = datetime.combine(start.astimezone(CHI).date() + timedelta(days=1), datetime.min.time(), CHI)
        if start - APPOINTMENT_PAUSE <= c.at < end:
            report.add(c, f"contact in the appointment pause ({start.isoformat()})")
    if c.purpose != "promise_reminder":
        for p in payments.get(c.guarantor_id, []):
            posted = p.posted_at or datetime.combine(p.paid_on, datetime.min.time(), CHI)
            if posted <= c.at < posted + PAYMENT_PAUSE:
                report.add(c, f"balance contact within 3 days of a payment ({posted.isoformat()})")


def _frequency(cs: list[Contact], report: Report, snapshot: PracticeSnapshot) -> None:
    for i, c in enumerate(cs):
        if i and c.at - cs[i - 1].at < MIN_GAP:
            report.add(c, "two outreach contacts of one account within 20 hours")
        day = c.at.astimezone(CHI).date()

        def within(days: int, channel: str, upto: int = i, day: date = day) -> int:
            return sum(
                1 for x in cs[: upto + 1]
                if x.channel == channel and 0 <= (day - x.at.astimezone(CHI).date()).days < days
            )  # fmt: skip

        if c.channel == "sms" and (within(1, "sms") > MAX_SMS_DAY or within(7, "sms") > MAX_SMS_7):
            report.add(c, "text cap exceeded")
        if c.channel == "email" and within(7, "email") > MAX_EMAIL_7:
            report.add(c, "e-mail cap exceeded")
        if c.channel == "voice" and within(7, "voice") > MAX_CALLS_7:
            report.add(c, "7 calls in 7 days exceeded")

"""Appointments, communication history, statements and promise history of one family account."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from pms.demo.postings import AccountLedger, Archetype
from pms.types import Appointment, CommEntry, Flag, Patient, Payment, Promise

CommMode = Literal["phone", "text", "email", "mail", "in_person", "none"]
CommDirection = Literal["sent", "received", "neither"]


class ActivityIds:
    def __init__(self) -> None:
        self.appointment = itertools.count(1)
        self.comm = itertools.count(1)
        self.promise = itertools.count(1)


@dataclass
class FamilyActivity:
    appointments: list[Appointment] = field(default_factory=list)
    comms: list[CommEntry] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    last_statement: date | None = None


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


class ActivityBuilder:
    def __init__(self, rng: random.Random, ids: ActivityIds, as_of: date, tz: ZoneInfo) -> None:
        self.rng, self.ids, self.as_of, self.tz = rng, ids, as_of, tz
        self.out = FamilyActivity()

    def _at(self, day: date, start: int = 8, end: int = 17) -> datetime:
        return datetime.combine(
            day, time(self.rng.randint(start, end - 1), self.rng.randrange(0, 60, 5)), self.tz
        )

    def _comm(
        self, patient: Patient, at: datetime, mode: CommMode, direction: CommDirection, note: str
    ) -> None:
        self.out.comms.append(
            CommEntry(str(next(self.ids.comm)), patient.patient_id, at, mode, direction, note)
        )

    def build(
        self,
        members: list[Patient],
        ledger: AccountLedger,
        archetype: Archetype,
        patient_balance: Decimal,
        flags: frozenset[str],
        extras: dict[str, object],
        inactive: bool,
    ) -> FamilyActivity:
        rng, as_of = self.rng, self.as_of
        g = members[0]
        by_id = {m.patient_id: m for m in members}
        for pid, d in ledger.visits:
            self.out.appointments.append(
                Appointment(str(next(self.ids.appointment)), pid, self._at(d, 8, 16), "complete")
            )
        for m in members:
            if rng.random() < 0.04:
                d = as_of - timedelta(days=rng.randint(30, 700))
                self.out.appointments.append(
                    Appointment(str(next(self.ids.appointment)), m.patient_id, self._at(d, 8, 16), "broken")
                )
                self._comm(
                    m, self._at(d), "phone", "sent", "Broken appointment; left voicemail to reschedule"
                )
            if not inactive and m.status == "active" and rng.random() < 0.35:
                d = as_of + timedelta(days=rng.randint(2, 180))
                self.out.appointments.append(
                    Appointment(
                        str(next(self.ids.appointment)), m.patient_id, self._at(d, 8, 16), "scheduled"
                    )
                )
            if Flag.WRONG_NUMBER.value in m.flags:
                self._comm(
                    m,
                    self._at(as_of - timedelta(days=rng.randint(5, 200))),
                    "phone",
                    "sent",
                    "Called cell on file: wrong number, the person who answered does not know the patient",
                )
        tomorrow = extras.get("appointment_tomorrow")
        if isinstance(tomorrow, time):
            self.out.appointments.append(
                Appointment(
                    str(next(self.ids.appointment)),
                    g.patient_id,
                    datetime.combine(as_of + timedelta(days=1), tomorrow, self.tz),
                )
            )
            self._comm(
                g, self._at(as_of - timedelta(days=3)), "text", "sent", "Appointment reminder text sent"
            )
        opt_out = extras.get("sms_opt_out_days_ago")
        if isinstance(opt_out, int):
            self._comm(
                g,
                self._at(as_of - timedelta(days=opt_out)),
                "text",
                "received",
                "Patient replied STOP to a payment reminder text; text messages opted out",
            )
        if patient_balance > 0 and ledger.aging and ledger.aging.balance_since:
            self._statements(g, ledger.aging.balance_since, extras.get("statement_days_ago"))
            self._collections(g, archetype, patient_balance, ledger.aging.balance_since, flags)
        if archetype != "prompt":
            self._promises(g, ledger.payments, patient_balance, by_id)
        return self.out

    def _statements(self, g: Patient, since: date, days_ago: object) -> None:
        rng, as_of = self.rng, self.as_of
        if isinstance(days_ago, int):
            last = as_of - timedelta(days=days_ago)
        else:
            last = as_of - timedelta(days=rng.randint(2, 31))
        emailed = g.preferred_contact == "email" and bool(g.emails)
        dates = [
            d for d in (last - relativedelta(months=k) for k in range(4)) if d >= since + timedelta(days=5)
        ]
        if isinstance(days_ago, int) and not dates:
            dates = [last]
        for d in reversed(dates):
            self._comm(
                g,
                self._at(d, 6, 8),
                "email" if emailed else "mail",
                "sent",
                "Billing statement emailed" if emailed else "Billing statement mailed",
            )
        self.out.last_statement = dates[0] if dates else None

    def _collections(
        self, g: Patient, arch: Archetype, balance: Decimal, since: date, flags: frozenset[str]
    ) -> None:
        rng, as_of = self.rng, self.as_of
        age = (as_of - since).days
        if age < 31 or flags & {Flag.ATTORNEY.value, Flag.DECEASED.value}:
            return
        n = {
            "prompt": 0,
            "slow": 1,
            "partial": rng.randint(1, 2),
            "disputer": 2,
            "unresponsive": rng.randint(2, 3),
        }[arch]
        has_text = any(c.kind == "mobile" and c.sms_consent == "yes" for c in g.phones)
        for _ in range(n):
            d = as_of - timedelta(days=rng.randint(2, min(age, 120)))
            x = rng.random()
            if has_text and x < 0.35:
                self._comm(
                    g, self._at(d, 9, 19), "text", "sent", f"Payment reminder text sent ({_usd(balance)} due)"
                )
            elif x < 0.8 or arch == "unresponsive":
                self._comm(g, self._at(d, 9, 19), "phone", "sent", "Called about balance; left voicemail")
            else:
                self._comm(
                    g,
                    self._at(d, 9, 17),
                    "phone",
                    "received",
                    "Patient called with a question about the statement",
                )
        if Flag.DISPUTE.value in flags:
            self._comm(
                g,
                self._at(as_of - timedelta(days=rng.randint(5, 30))),
                "phone",
                "received",
                "Patient disputes the balance: says insurance should have paid. Reviewing the EOB.",
            )

    def _promises(
        self, g: Patient, payments: list[Payment], balance: Decimal, by_id: dict[str, Patient]
    ) -> None:
        rng, as_of = self.rng, self.as_of
        later = [p for p in payments if "at visit" not in p.note and p.paid_on < as_of]
        if later and rng.random() < 0.5:
            for p in rng.sample(later, min(len(later), rng.randint(1, 2))):
                x = rng.random()
                if x < 0.60:
                    self._promise(
                        g, p.amount, p.paid_on + timedelta(days=rng.randint(0, 3)), "kept", p.paid_on
                    )
                elif x < 0.75:
                    amount = (p.amount * Decimal(rng.choice(("1.5", "2", "2.5"))) / 5).quantize(
                        Decimal(1)
                    ) * 5
                    self._promise(g, amount, p.paid_on, "partly_kept", p.paid_on)
                else:
                    paid_days = {q.paid_on for q in payments}
                    due = p.paid_on - timedelta(days=rng.randint(20, 40))
                    if not any(due - timedelta(days=3) <= d <= due + timedelta(days=14) for d in paid_days):
                        self._promise(g, Decimal(rng.randrange(50, 300, 25)), due, "broken", due)
        if balance > 0 and rng.random() < 0.06:
            amount = min(balance, Decimal(rng.randrange(50, 300, 25)))
            self._promise(g, amount, as_of + timedelta(days=rng.randint(1, 14)), "open", as_of)

    def _promise(self, g: Patient, amount: Decimal, due: date, status: str, near: date) -> None:
        rng = self.rng
        created = self._at(min(near, self.as_of) - timedelta(days=rng.randint(3, 14)), 9, 17)
        amount = amount.quantize(Decimal("0.01"))
        note = f"Promised {_usd(amount)} by {due:%m/%d/%Y}"
        self.out.promises.append(
            Promise(
                str(next(self.ids.promise)),
                g.patient_id,
                amount,
                due,
                status,  # type: ignore[arg-type]
                created,
                note,
            )
        )
        self._comm(
            g, created, "phone", "received", f"Patient promised to pay {_usd(amount)} by {due:%m/%d/%Y}"
        )

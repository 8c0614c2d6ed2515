"""Weekly reconciliation: promises to pay the agent recorded vs payments the PMS actually posted.

The seeds' governance review: for every promise made in the week, what was paid between the moment
it was made and its due day plus the policy's grace days, and whether it was kept, partly kept,
broken or is still pending. Money is `Decimal`; the CSV is for staff (it names accounts by id).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from agent.outreach.facts import payment_instant
from agent.store.outreach import OutreachStore, promises_made
from pms.protocol import PmsAdapter
from pms.types import Payment
from policies.config import PracticePolicy

Outcome = Literal["kept", "partly_kept", "broken", "pending"]
CSV_FIELDS = ("promise_id", "patient_id", "made_at", "channel", "amount", "due_on", "paid_amount",
              "last_paid_on", "outcome")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PromiseLine:
    promise_id: str
    patient_id: str
    made_at: datetime
    channel: str
    amount: Decimal
    due_on: date
    paid_amount: Decimal
    last_paid_on: date | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class PromiseReport:
    week: str  # ISO week, e.g. 2026-W45
    start: date
    end: date  # exclusive
    lines: tuple[PromiseLine, ...]

    def total(self, what: Literal["amount", "paid_amount"]) -> Decimal:
        return sum((getattr(x, what) for x in self.lines), start=Decimal("0.00"))

    def count(self, outcome: Outcome) -> int:
        return sum(1 for x in self.lines if x.outcome == outcome)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_FIELDS)
        for x in self.lines:
            w.writerow([x.promise_id, x.patient_id, x.made_at.isoformat(), x.channel, f"{x.amount:.2f}",
                        x.due_on.isoformat(), f"{x.paid_amount:.2f}",
                        x.last_paid_on.isoformat() if x.last_paid_on else "", x.outcome])  # fmt: skip
        return buf.getvalue()


def parse_week(value: str) -> tuple[str, date]:
    """ "2026-W45" or any date in the week ("2026-11-04") -> (ISO week label, its Monday)."""
    v = value.strip()
    try:
        if "W" in v.upper():
            year, _, week = v.upper().partition("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
        else:
            d = date.fromisoformat(v)
            monday = d - timedelta(days=d.weekday())
    except ValueError as exc:
        raise ValueError(f"week must look like 2026-W45 or 2026-11-04, got {value!r}") from exc
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}", monday


def _outcome(amount: Decimal, paid: Decimal, due_on: date, grace: int, today: date) -> Outcome:
    if paid >= amount:
        return "kept"
    if today <= due_on + timedelta(days=grace):
        return "pending"
    return "partly_kept" if paid > 0 else "broken"


async def promise_report(
    store: OutreachStore, pms: PmsAdapter, policy: PracticePolicy, week: str, now: datetime
) -> PromiseReport:
    label, monday = parse_week(week)
    tz = ZoneInfo(policy.practice.timezone)
    start = datetime.combine(monday, time(0), tz)
    made = await promises_made(store, start, start + timedelta(days=7))
    grace = policy.payments.promise_grace_days
    today = now.astimezone(tz).date()
    payments: dict[str, list[Payment]] = {}
    lines: list[PromiseLine] = []
    for p in made:
        if p.guarantor_id not in payments:
            payments[p.guarantor_id] = await pms.get_payments(p.guarantor_id)
        until = datetime.combine(p.due_on + timedelta(days=grace + 1), time(0), tz)
        counted = [x for x in payments[p.guarantor_id] if p.created_at <= payment_instant(x, tz) < until]
        paid = sum((x.amount for x in counted), start=Decimal("0.00"))
        last = max((x.paid_on for x in counted), default=None)
        lines.append(PromiseLine(p.promise_id, p.guarantor_id, p.created_at, p.channel, p.amount, p.due_on, paid,
                                 last, _outcome(p.amount, paid, p.due_on, grace, today)))  # fmt: skip
    return PromiseReport(label, monday, monday + timedelta(days=7), tuple(lines))

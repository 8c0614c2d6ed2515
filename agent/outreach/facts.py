"""Everything the gate and the cadence need about one account, read fresh from the PMS and the store.

`ContactHistory` from the record store (attempts, conversations, consent ledger, our flags,
promise counts) is merged with the PMS facts the store does not hold: the next appointment, the
last payment posted, whether a payment plan is current, and the PMS's own promises.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from pms.types import AccountSummary, Payment, Promise
from policies.types import ContactHistory

LineType = Literal["mobile", "landline", "unknown"]


@dataclass(frozen=True, slots=True)
class AccountFacts:
    account: AccountSummary
    history: ContactHistory
    promises: tuple[Promise, ...]
    payments: tuple[Payment, ...]

    @property
    def guarantor_id(self) -> str:
        return self.account.patient_id


def payment_instant(p: Payment, tz: ZoneInfo) -> datetime:
    """When a payment posted: `posted_at`, else local midnight of `paid_on` (conservative: earlier)."""
    return p.posted_at if p.posted_at is not None else datetime.combine(p.paid_on, time(0), tz)


async def store_facts(records: SqlRecords, account: AccountSummary, now: datetime) -> AccountFacts:
    """Only what the record store knows (enough to rule out do-not-contact accounts cheaply)."""
    values = [c.value for c in account.guarantor.contacts]
    history = await records.contact_history(account.patient_id, now=now, values=values)
    return AccountFacts(account, history, (), ())


async def gather(
    pms: PmsAdapter,
    records: SqlRecords,
    account: AccountSummary,
    now: datetime,
    tz: ZoneInfo,
    known: AccountFacts | None = None,
) -> AccountFacts:
    gid = account.patient_id
    history = (known or await store_facts(records, account, now)).history
    today = now.astimezone(tz).date()
    appts = await pms.get_appointments(gid, from_date=today)
    upcoming = min((a.start for a in appts if a.status == "scheduled" and a.start >= now), default=None)
    payments = tuple(await pms.get_payments(gid))
    posted = [payment_instant(p, tz) for p in payments]
    last_paid = max((t for t in posted if t <= now), default=None)
    plans = await pms.get_payment_plans(gid)
    current_plan = any(p.status == "active" for p in plans)
    mine = await records.list_promises(gid)
    seen = {p.promise_id for p in mine}
    promises = tuple(mine) + tuple(p for p in await pms.get_promises(gid) if p.promise_id not in seen)
    if history.last_payment_at is not None and last_paid is not None:
        last_paid = max(last_paid, history.last_payment_at)
    history = replace(
        history,
        upcoming_appointment_at=upcoming,
        last_payment_at=last_paid or history.last_payment_at,
        active_plan_current=current_plan,
    )
    return AccountFacts(account, history, promises, payments)


def paid_since(payments: tuple[Payment, ...], since: datetime, tz: ZoneInfo) -> bool:
    return any(payment_instant(p, tz) >= since for p in payments)


def promise_is_broken(p: Promise, payments: tuple[Payment, ...], today: date, tz: ZoneInfo) -> bool:
    """Marked broken, or past its day with less than the promised amount paid since it was made."""
    if p.status == "broken":
        return True
    if p.status != "open" or p.due_on >= today:
        return False
    made = p.created_at or datetime.combine(p.due_on - timedelta(days=30), time(0), UTC)
    paid = sum((x.amount for x in payments if payment_instant(x, tz) >= made), start=type(p.amount)(0))
    return paid < p.amount


def line_type(kind: str) -> LineType:
    return "mobile" if kind == "mobile" else "landline" if kind in ("home", "landline") else "unknown"

"""The results dashboard: is the agent working? Numbers from the record store (what BalanceLine
did) and, for days in A/R, the local PMS ledger. Definitions are printed under each chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from agent.console import charts
from agent.console.auth import Staff, require_staff
from agent.console.templating import render
from agent.runtime import Runtime
from agent.store.models import ConsentEntryRow, ContactAttemptRow, PaymentRow, PromiseRow

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(require_staff)])
StaffDep = Annotated[Staff, Depends(require_staff)]
ZERO = Decimal("0")
KEPT = ("kept", "partly_kept")


@dataclass
class Results:
    days: int
    promises: int = 0
    promises_kept: int = 0
    promises_due: int = 0
    collected: Decimal = ZERO
    payments: int = 0
    patient_ar: Decimal = ZERO
    contact: dict[str, tuple[int, int]] = field(default_factory=dict)  # channel → (attempts, reached)
    opt_outs: dict[str, int] = field(default_factory=dict)  # source → count
    collected_by_week: list[tuple[str, float]] = field(default_factory=list)
    dar_trend: list[tuple[str, float]] = field(default_factory=list)

    @property
    def collection_rate(self) -> float | None:
        base = self.collected + self.patient_ar
        return float(self.collected / base * 100) if base > 0 else None

    @property
    def keep_rate(self) -> float | None:
        return self.promises_kept / self.promises_due * 100 if self.promises_due else None


def _weeks(today: date, n: int) -> list[date]:
    """The last `n` week ends (Sundays), oldest first, the last one being today."""
    return [today - timedelta(days=7 * i) for i in range(n - 1, -1, -1)]


async def results(rt: Runtime, days: int) -> Results:
    tz = ZoneInfo(rt.policy.practice.timezone)
    now = rt.clock()
    today = now.astimezone(tz).date()
    since = now - timedelta(days=days)
    out = Results(days=days)
    async with rt.sessions() as s:
        out.promises = int(
            await s.scalar(sa.select(sa.func.count()).where(PromiseRow.created_at >= since)) or 0
        )
        due = sa.and_(PromiseRow.due_on <= today, PromiseRow.created_at >= since)
        out.promises_due = int(await s.scalar(sa.select(sa.func.count()).where(due)) or 0)
        out.promises_kept = int(
            await s.scalar(sa.select(sa.func.count()).where(due, PromiseRow.status.in_(KEPT))) or 0
        )
        paid = (
            await s.execute(sa.select(PaymentRow.amount, PaymentRow.refunded_amount, PaymentRow.paid_at))
        ).all()
        for amount, refunded, paid_at in paid:
            if paid_at is not None and paid_at >= since:
                out.collected += amount - (refunded or ZERO)
                out.payments += 1
        weeks = _weeks(today, 8)
        for end in weeks:
            start_at = datetime.combine(end - timedelta(days=6), time.min, tz)
            end_at = datetime.combine(end + timedelta(days=1), time.min, tz)
            total = sum(
                (a - (r or ZERO) for a, r, p in paid if p is not None and start_at <= p < end_at), ZERO
            )
            out.collected_by_week.append((end.strftime("%b %d"), float(total)))
        rows = (
            await s.execute(
                sa.select(ContactAttemptRow.channel, ContactAttemptRow.conversation, sa.func.count())
                .where(
                    ContactAttemptRow.at >= since,
                    ContactAttemptRow.direction == "outbound",
                    ContactAttemptRow.counted,
                )
                .group_by(ContactAttemptRow.channel, ContactAttemptRow.conversation)
            )
        ).all()
        for channel, reached, n in rows:
            attempts, got = out.contact.get(channel, (0, 0))
            out.contact[channel] = (attempts + int(n), got + (int(n) if reached else 0))
        for source, n in (
            await s.execute(
                sa.select(ConsentEntryRow.source, sa.func.count())
                .where(ConsentEntryRow.action == "opt_out", ConsentEntryRow.at >= since)
                .group_by(ConsentEntryRow.source)
            )
        ).all():
            out.opt_outs[source] = int(n)
    if rt.local_pms is not None:
        out.patient_ar, out.dar_trend = await _pms_ar(rt, today)
    return out


async def _pms_ar(rt: Runtime, today: date) -> tuple[Decimal, list[tuple[str, float]]]:
    """Patient A/R now, and days in A/R (A/R ÷ average daily charges of the prior 90 days) at
    each of the last 8 week ends, from the local PMS's ledger."""
    from pms.local.models import accounts, ledger_lines

    practice = rt.policy.practice.practice_id
    trend = []
    async with rt.db.connect() as conn:
        ar_now = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(accounts.c.patient_balance), 0)).where(
                accounts.c.practice_id == practice, accounts.c.patient_balance > 0
            )
        )
        for end in _weeks(today, 8):
            ar = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(ledger_lines.c.amount), 0)).where(
                    ledger_lines.c.practice_id == practice, ledger_lines.c.posted_date <= end
                )
            )
            charged = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(ledger_lines.c.amount), 0)).where(
                    ledger_lines.c.practice_id == practice,
                    ledger_lines.c.kind == "charge",
                    ledger_lines.c.posted_date > end - timedelta(days=90),
                    ledger_lines.c.posted_date <= end,
                )
            )
            if charged and Decimal(charged) > 0:
                trend.append((end.strftime("%b %d"), float(Decimal(ar or 0) / (Decimal(charged) / 90))))
    return Decimal(ar_now or 0), trend


@router.get("/dashboard")
async def dashboard_page(
    request: Request, staff: StaffDep, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> Response:
    r = await results(request.app.state.runtime, days)
    contact_rates = [
        (ch, reached / attempts * 100) for ch, (attempts, reached) in sorted(r.contact.items()) if attempts
    ]
    svg = {
        "collected": Markup(charts.bars(r.collected_by_week, unit="$", title="Dollars collected per week")),
        "contact": Markup(charts.bars(contact_rates, unit="%", title="Contact rate by channel")),
        "opt_outs": Markup(charts.bars(sorted(r.opt_outs.items()), title="Opt-outs by source")),
        "dar": Markup(charts.line(r.dar_trend, title="Days in A/R")),
        "promises": Markup(
            charts.bars(
                [
                    ("secured", float(r.promises)),
                    ("due", float(r.promises_due)),
                    ("kept", float(r.promises_kept)),
                ],
                title="Promises to pay",
                alt={"due"},
            )
        ),
    }
    return render(request, "dashboard.html", staff, r=r, svg=svg, contact=r.contact)

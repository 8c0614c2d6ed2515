"""Low-level postings into one family's ledger, in integer cents: charges' companions (claims,
insurance payments, write-offs) and patient payments, with the snapshot-wide id sequences."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pms.demo.aging import CentsAging
from pms.types import Claim, ClaimStatus, LedgerKind, LedgerLine, Patient, Payment, PaymentPlan

Archetype = Literal["prompt", "slow", "partial", "disputer", "unresponsive"]
Method = Literal["card", "check", "cash", "portal"]
# Payment methods card 65% / check 15% / cash 10% / portal 10%, as cumulative thresholds.
_METHODS: tuple[tuple[Method, float], ...] = (
    ("card", 0.65),
    ("check", 0.80),
    ("cash", 0.90),
    ("portal", 1.0),
)
_METHOD_LABEL = {"card": "Visa", "check": "Check", "cash": "Cash", "portal": "Patient portal"}


def _pick_method(x: float) -> Method:
    return next(name for name, upto in _METHODS if x < upto)


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@dataclass(frozen=True, slots=True)
class Coverage:
    carrier: str
    writeoff_pct: int  # PPO contractual write-off, 15..35 % of the fee


@dataclass(slots=True)
class AccountLedger:
    lines: list[LedgerLine] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    plans: list[PaymentPlan] = field(default_factory=list)
    visits: list[tuple[str, date]] = field(default_factory=list)  # (patient_id, service date)
    ins_est: int = 0
    wo_est: int = 0
    payplan_due: int = 0
    aging: CentsAging | None = None


class Counters:
    """Snapshot-wide id sequences (numeric strings, like PMS primary keys)."""

    def __init__(self) -> None:
        self.line = itertools.count(1)
        self.claim = itertools.count(1)
        self.payment = itertools.count(1)
        self.plan = itertools.count(1)


class Postings:
    """Writes ledger lines, claims and payments for one family account."""

    def __init__(
        self,
        rng: random.Random,
        ids: Counters,
        as_of: date,
        tz: ZoneInfo,
        guarantor: Patient,
        archetype: Archetype,
        coverage: Coverage | None,
    ) -> None:
        self.rng, self.ids, self.as_of, self.tz = rng, ids, as_of, tz
        self.guarantor, self.archetype, self.coverage = guarantor, archetype, coverage
        self.out = AccountLedger()
        self.max_used: dict[tuple[str, int], int] = {}  # (patient, year) -> insurance benefits used
        self.last_day = as_of - timedelta(days=1)
        self._cents: list[tuple[date, int]] = []

    def _patient_pays(self, member: Patient, visit: date, ready: date, cents: int) -> None:
        """Spread `cents` of patient payments after `ready` according to the payer archetype."""
        if cents <= 0:
            return
        rng, arch = self.rng, self.archetype
        if arch == "prompt":
            offsets = [rng.randint(0, 14)]
        elif arch == "slow":
            offsets = sorted(rng.randint(25, 75) for _ in range(rng.randint(1, 2)))
        elif arch == "partial":
            first = rng.randint(10, 30)
            offsets = [first + 30 * k for k in range(rng.randint(2, 4))]
        elif arch == "disputer":
            offsets = sorted(rng.randint(40, 120) for _ in range(rng.randint(1, 2)))
        else:
            offsets = [rng.randint(90, 200)]
        n = len(offsets)
        if cents < 100 * n:
            offsets, n = offsets[:1], 1
        share = cents // n // 500 * 500 or cents // n
        left = cents
        for i, off in enumerate(offsets):
            amount = left if i == n - 1 else share
            day = min(max(ready + timedelta(days=off), visit), self.last_day)
            self._payment(member, day, amount, "Payment - thank you")
            left -= amount

    def _payment(
        self,
        member: Patient,
        day: date,
        cents: int,
        note: str,
        *,
        method: Method | None = None,
        at: datetime | None = None,
    ) -> None:
        rng = self.rng
        m: Method = method if method is not None else _pick_method(rng.random())
        pid = str(next(self.ids.payment))
        ref = None
        if m in ("card", "portal"):
            ref = f"ch_{rng.getrandbits(96):024x}"
        elif m == "check":
            note = f"{note} (check #{rng.randint(1001, 9999)})"
        if at is None:
            hour = rng.randint(7, 21) if m == "portal" else rng.randint(8, 16)
            at = datetime.combine(day, time(hour, rng.randrange(60)), self.tz)
        self.out.payments.append(
            Payment(
                payment_id=pid,
                guarantor_id=self.guarantor.patient_id,
                amount=money(cents),
                paid_on=day,
                method=m,
                processor_ref=ref,
                note=note,
                posted_at=at,
            )
        )
        self._line(member, "patient_payment", day, -cents, f"{_METHOD_LABEL[m]} payment - {note}")

    def _insurance(self, member: Patient, day: date, ins_paid: int, wo: int, claim_id: str) -> None:
        self._line(
            member,
            "insurance_payment",
            day,
            -ins_paid,
            f"Insurance payment ({self.coverage.carrier})"  # type: ignore[union-attr]
            if ins_paid
            else "Insurance payment: claim denied, $0.00",
            claim_id=claim_id,
        )
        if wo:
            self._line(member, "writeoff", day, -wo, "PPO contractual write-off", claim_id=claim_id)

    def _claim(
        self,
        member: Patient,
        d: date,
        fee: int,
        est: int,
        paid: int,
        wo: int,
        status: ClaimStatus,
        reason: str,
        sent: date | None,
        wo_est: int = 0,
    ) -> str:
        cid = str(next(self.ids.claim))
        key = (member.patient_id, d.year)
        self.max_used[key] = self.max_used.get(key, 0) + max(est, paid)
        self.out.claims.append(
            Claim(
                claim_id=cid,
                patient_id=member.patient_id,
                carrier=self.coverage.carrier,  # type: ignore[union-attr]
                status=status,
                service_date=d,
                fee=money(fee),
                ins_pay_estimate=money(est),
                ins_paid=money(paid),
                writeoff=money(wo or wo_est),
                date_sent=sent,
                reason_underpaid=reason,
            )
        )
        return cid

    def _line(
        self,
        member: Patient,
        kind: LedgerKind,
        day: date,
        cents: int,
        desc: str,
        *,
        code: str | None = None,
        service_date: date | None = None,
        tooth: str | None = None,
        claim_id: str | None = None,
        pending: bool = False,
    ) -> None:
        self._cents.append((day, cents))
        self.out.lines.append(
            LedgerLine(
                line_id=str(next(self.ids.line)),
                patient_id=member.patient_id,
                kind=kind,
                posted_date=day,
                amount=money(cents),
                description=desc,
                code=code,
                service_date=service_date or day,
                tooth=tooth,
                claim_id=claim_id,
                insurance_pending=pending,
            )
        )

"""Ledger history of one family account that balances to the cent.

The builder works in integer cents. It lays down settled visits (charge → insurance payment and
PPO write-off → patient payments) over the last 24 months, then the *open* visits that explain what
is still owed, each with a target patient amount, and ages the result first-in-first-out. By
construction: sum(ledger) = aging total, buckets sum to the total, and
patient balance = total − pending insurance estimate − pending write-off estimate.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from pms.demo import catalog
from pms.demo.aging import age_ledger
from pms.demo.catalog import PROCEDURES, Procedure
from pms.demo.postings import AccountLedger, Archetype, Counters, Coverage, Postings, money
from pms.types import ClaimStatus, Patient, PaymentPlan

ClaimOutcome = Literal["received", "pending", "denied"]
PENDING_STATUSES: tuple[tuple[ClaimStatus, float], ...] = (
    ("sent", 55),
    ("waiting", 8),
    ("unsent", 5),
    ("hold", 5),
)


@dataclass(slots=True)
class OpenItem:
    """A visit that still carries `patient_cents` of patient responsibility at as_of."""

    age_days: int
    patient_cents: int
    outcome: ClaimOutcome = "received"  # ignored for uninsured families
    pending_status: ClaimStatus = "sent"
    member: int = 0  # index into the family's members
    codes: tuple[str, ...] | None = None


@dataclass(slots=True)
class PlanSpec:
    codes: tuple[str, ...]
    installment_cents: int
    down_cents: int
    months_due: int  # installments that have fallen due by as_of
    behind: int = 0  # of those, how many are unpaid
    member: int = 0


@dataclass(slots=True)
class AccountPlan:
    archetype: Archetype
    coverage: Coverage | None
    open_items: list[OpenItem] = field(default_factory=list)
    credit_cents: int = 0
    plan: PlanSpec | None = None
    history: bool = True
    inactive: bool = False
    payoff_at: time | None = None  # the guarantor pays the whole patient balance on as_of at this time


@dataclass(slots=True)
class _Proc:
    proc: Procedure
    tooth: str | None


class LedgerBuilder(Postings):
    """Builds one family's ledger; create one per family (it holds that family's annual-max usage)."""

    def __init__(
        self,
        rng: random.Random,
        ids: Counters,
        as_of: date,
        tz: ZoneInfo,
        guarantor: Patient,
        members: list[Patient],
        plan: AccountPlan,
    ) -> None:
        super().__init__(rng, ids, as_of, tz, guarantor, plan.archetype, plan.coverage)
        self.members, self.plan = members, plan

    # ---- public -------------------------------------------------------------------------------
    def build(self) -> AccountLedger:
        p, rng = self.plan, self.rng
        events: list[tuple[date, int, OpenItem | PlanSpec | tuple[str, int]]] = []
        opens = [(self.as_of - timedelta(days=max(1, it.age_days)), it) for it in p.open_items]
        plan_dates = self._plan_dates(p.plan) if p.plan else None
        oldest = min([d for d, _ in opens] + ([plan_dates[0]] if plan_dates else []), default=None)
        end = oldest - timedelta(days=31) if oldest else self.as_of - timedelta(days=61)
        if p.inactive:
            end = min(end, self.as_of - timedelta(days=540))
        seq = itertools.count()
        if p.history:
            for idx, m in enumerate(self.members):
                born = m.date_of_birth + timedelta(days=400) if m.date_of_birth else None
                for d in self._history_dates(end):
                    if born is None or d >= born:
                        events.append((d, next(seq), ("settled", idx)))
        if p.credit_cents > 0:
            d = self.as_of - timedelta(days=rng.randint(20, 120))
            events.append((d, next(seq), ("credit", 0)))
        for d, it in opens:
            events.append((d, next(seq), it))
        if p.plan and plan_dates:
            events.append((plan_dates[0], next(seq), p.plan))
        events.sort(key=lambda e: (e[0], e[1]))
        for d, _, ev in events:
            if isinstance(ev, OpenItem):
                self._open_visit(d, ev)
            elif isinstance(ev, PlanSpec):
                assert plan_dates is not None
                self._plan_visit(ev, *plan_dates)
            else:
                kind, idx = ev
                self._settled_visit(self.members[idx], d, p.credit_cents if kind == "credit" else 0)
        if p.payoff_at is not None:
            owed = sum(c for _, c in self._cents) - self.out.ins_est - self.out.wo_est
            if owed > 0:
                at = datetime.combine(self.as_of, p.payoff_at, self.tz)
                self._payment(self.guarantor, self.as_of, owed, "Paid in full", method="portal", at=at)
        self.out.aging = age_ledger(self._cents, self.as_of)
        return self.out

    # ---- scheduling -----------------------------------------------------------------------------
    def _history_dates(self, end: date) -> list[date]:
        rng = self.rng
        start = self.as_of - timedelta(days=729)
        if end <= start:
            return []
        span = (end - start).days
        x = rng.random()
        if x < 0.6:  # six-month recall
            d = start + timedelta(days=rng.randrange(min(182, span)))
            out = []
            while d <= end:
                out.append(d)
                d += timedelta(days=182 + rng.randint(-20, 25))
            return out
        if x < 0.9:
            return sorted(start + timedelta(days=rng.randrange(span)) for _ in range(rng.randint(1, 2)))
        return []

    def _plan_dates(self, spec: PlanSpec) -> tuple[date, date, date]:
        """(service date, plan start, first installment due) so that `months_due` are due by as_of."""
        first_due = (
            self.as_of - relativedelta(months=spec.months_due - 1) - timedelta(days=self.rng.randint(1, 25))
        )
        start = first_due - relativedelta(months=1)
        return start - timedelta(days=self.rng.randint(5, 20)), start, first_due

    # ---- visits ---------------------------------------------------------------------------------
    def _procs(self, codes: tuple[str, ...]) -> list[_Proc]:
        rng = self.rng
        out: list[_Proc] = []
        tooth: str | None = None
        used: set[str] = set()
        for code in codes:
            proc = PROCEDURES[code]
            if proc.site == "none":
                out.append(_Proc(proc, None))
                continue
            if proc.site == "quadrant":
                left = [q for q in catalog.QUADRANTS if q not in used] or list(catalog.QUADRANTS)
                q = rng.choice(left)
                used.add(q)
                out.append(_Proc(proc, q))
                continue
            fresh = code in {p.proc.code for p in out} or tooth is None
            if proc.site == "anterior":
                t = str(rng.choice(catalog.ANTERIOR_TEETH))
            elif fresh:
                t = str(rng.choice(catalog.POSTERIOR_TEETH))
            else:
                t = tooth  # type: ignore[assignment]
            tooth = t
            out.append(_Proc(proc, t))
        return out

    def _price(self, member: Patient, d: date, procs: list[_Proc]) -> tuple[int, int, int]:
        """(fee, PPO write-off, insurance estimate) in cents for one visit."""
        fee = sum(p.proc.fee_cents for p in procs)
        cov = self.plan.coverage
        if cov is None:
            return fee, 0, 0
        wo = ins = 0
        for p in procs:
            w = p.proc.fee_cents * cov.writeoff_pct // 100
            wo += w
            ins += (p.proc.fee_cents - w) * catalog.COVERAGE_PCT[p.proc.category] // 100
        left = catalog.ANNUAL_MAX_CENTS - self.max_used.get((member.patient_id, d.year), 0)
        return fee, wo, max(0, min(ins, left))

    def _charges(
        self, member: Patient, d: date, procs: list[_Proc], pending: bool, claim_id: str | None
    ) -> None:
        for p in procs:
            where = f" #{p.tooth}" if p.tooth and p.tooth.isdigit() else f" ({p.tooth})" if p.tooth else ""
            surf = f"-{p.proc.surfaces}" if p.proc.surfaces else ""
            self._line(
                member,
                "charge",
                d,
                p.proc.fee_cents,
                f"{p.proc.code}: {p.proc.description}{where}{surf}",
                code=p.proc.code,
                service_date=d,
                tooth=p.tooth,
                claim_id=claim_id,
                pending=pending,
            )

    def _settled_visit(self, member: Patient, d: date, overpay: int = 0) -> None:
        rng = self.rng
        adult = member.date_of_birth is None or (d - member.date_of_birth).days >= 13 * 365
        table = catalog.SETTLED_TEMPLATES if adult else catalog.CHILD_TEMPLATES
        codes = rng.choices([c for c, _ in table], [w for _, w in table])[0]
        procs = self._procs(codes)
        fee, wo, ins_est = self._price(member, d, procs)
        self.out.visits.append((member.patient_id, d))
        if self.plan.coverage is None:
            self._charges(member, d, procs, False, None)
            portion = fee
            if self.plan.archetype == "prompt" and fee >= 20000 and rng.random() < 0.25:
                disc = fee * 5 // 100
                self._line(member, "adjustment", d, -disc, "Courtesy discount 5% (paid in full at visit)")
                portion -= disc
            if overpay:
                self._payment(
                    member,
                    d + timedelta(days=rng.randint(0, 3)),
                    overpay,
                    "Duplicate payment (front desk and portal) - refund due",
                )
            self._patient_pays(member, d, d, portion)
            return
        outcome = rng.random()
        ins_paid, reason = ins_est, ""
        status: ClaimStatus = "received"
        if outcome < 0.03 and ins_est > 0:
            status, ins_paid, reason = "denied", 0, rng.choice(catalog.DENIAL_REASONS)
        elif outcome < 0.06 and ins_est > 0:
            ins_paid = ins_est * rng.randint(50, 85) // 100
            reason = rng.choice(catalog.UNDERPAID_REASONS)
        est_shown = ins_est
        if overpay and ins_paid >= overpay:
            est_shown = ins_paid - overpay  # the estimate was low: the patient paid too much at the visit
        paid_on = min(d + timedelta(days=rng.randint(12, 35)), self.last_day)
        claim_id = self._claim(member, d, fee, est_shown, ins_paid, wo, status, reason, d + timedelta(days=1))
        self._charges(member, d, procs, False, claim_id)
        self._insurance(member, paid_on, ins_paid, wo, claim_id)
        portion = fee - wo - ins_paid
        if overpay:
            if ins_paid >= overpay:  # paid the (too high) estimated portion; insurance then paid more
                self._payment(member, d, portion + overpay, "Estimated patient portion paid at visit")
            else:
                self._payment(member, d, portion, "Estimated patient portion paid at visit")
                self._payment(
                    member,
                    d + timedelta(days=2),
                    overpay,
                    "Duplicate payment (front desk and portal) - refund due",
                )
            return
        if self.plan.archetype == "prompt":
            at_visit = min(portion, fee - wo - est_shown)
            self._payment(member, d, at_visit, "Estimated patient portion paid at visit")
            self._patient_pays(member, d, paid_on, portion - at_visit)
        else:
            self._patient_pays(member, d, paid_on, portion)

    def _open_visit(self, d: date, it: OpenItem) -> None:
        rng = self.rng
        member = self.members[min(it.member, len(self.members) - 1)]
        insured = self.plan.coverage is not None
        outcome: ClaimOutcome = it.outcome if insured else "received"
        if insured and (d >= self.last_day - timedelta(days=1)) and outcome == "received":
            outcome = "pending"
        adult = member.date_of_birth is None or (d - member.date_of_birth).days >= 13 * 365
        codes = it.codes or self._open_codes(it.patient_cents, adult)
        procs = self._procs(codes)
        top_up = itertools.cycle(catalog.TOP_UP_CODES)
        while True:
            fee, wo, ins_est = self._price(member, d, procs)
            owed = fee - wo - (0 if outcome == "denied" else ins_est) if insured else fee
            if owed >= it.patient_cents:
                break
            procs += self._procs((next(top_up),))
        self.out.visits.append((member.patient_id, d))
        paid = owed - it.patient_cents
        if not insured:
            self._charges(member, d, procs, False, None)
        elif outcome == "pending":
            st = it.pending_status
            sent = d + timedelta(days=1) if st in ("sent", "waiting", "in_process") else None
            claim_id = self._claim(member, d, fee, ins_est, 0, 0, st, "", sent, wo_est=wo)
            self._charges(member, d, procs, True, claim_id)
            self.out.ins_est += ins_est
            self.out.wo_est += wo
        else:
            ins_paid = 0 if outcome == "denied" else ins_est
            reason = rng.choice(catalog.DENIAL_REASONS) if outcome == "denied" else ""
            status: ClaimStatus = "denied" if outcome == "denied" else "received"
            claim_id = self._claim(
                member, d, fee, ins_est, ins_paid, wo, status, reason, d + timedelta(days=1)
            )
            self._charges(member, d, procs, False, claim_id)
            self._insurance(
                member, min(d + timedelta(days=rng.randint(7, 30)), self.last_day), ins_paid, wo, claim_id
            )
        if paid > 0:
            if outcome == "pending" or not insured or rng.random() < 0.5:
                self._payment(member, d, paid, "Estimated patient portion paid at visit")
            else:
                self._payment(
                    member,
                    min(d + timedelta(days=rng.randint(10, 40)), self.last_day),
                    paid,
                    "Payment on statement",
                )

    def _open_codes(self, cents: int, adult: bool) -> tuple[str, ...]:
        if not adult and cents <= 45000:
            return self.rng.choice(catalog.OPEN_CHILD_TEMPLATES)
        for limit, options in catalog.OPEN_TEMPLATES:
            if cents <= limit * 100:
                return self.rng.choice(options)
        return catalog.OPEN_TEMPLATES[-1][1][0]

    def _plan_visit(self, spec: PlanSpec, d: date, start: date, first_due: date) -> None:
        rng = self.rng
        member = self.members[min(spec.member, len(self.members) - 1)]
        procs = self._procs(spec.codes)
        fee, wo, ins = self._price(member, d, procs)
        self.out.visits.append((member.patient_id, d))
        if self.plan.coverage is not None:
            claim_id = self._claim(member, d, fee, ins, ins, wo, "received", "", d + timedelta(days=1))
            self._charges(member, d, procs, False, claim_id)
            self._insurance(
                member, min(d + timedelta(days=rng.randint(12, 28)), self.last_day), ins, wo, claim_id
            )
            portion = fee - wo - ins
        else:
            self._charges(member, d, procs, False, None)
            portion = fee
        down = min(spec.down_cents, portion // 4)
        inst = spec.installment_cents
        if math.ceil((portion - down) / inst) < spec.months_due + 2:  # keep the plan running past as_of
            inst = max(2500, (portion - down) // (spec.months_due + 2) // 500 * 500)
        n = math.ceil((portion - down) / inst)
        if down:
            self._payment(self.guarantor, start, down, "Payment plan down payment")
        paid = down
        for k in range(spec.months_due - spec.behind):
            due = first_due + relativedelta(months=k)
            amount = min(inst, portion - paid)
            if amount <= 0:
                break
            self._payment(
                self.guarantor,
                max(start, due - timedelta(days=rng.randint(0, 3))),
                amount,
                "Payment plan installment",
            )
            paid += amount
        self.out.payplan_due += min(spec.behind * inst, max(0, portion - paid))
        self.out.plans.append(
            PaymentPlan(
                plan_id=str(next(self.ids.plan)),
                guarantor_id=self.guarantor.patient_id,
                status="past_due" if spec.behind else "active",
                total=money(portion),
                installment_amount=money(inst),
                installments=n,
                frequency="monthly",
                first_due=first_due,
                down_payment=money(down),
                paid_to_date=money(paid),
                note=f"{', '.join(spec.codes)} treatment financed in-house",
            )
        )


__all__ = [
    "PENDING_STATUSES",
    "AccountLedger",
    "AccountPlan",
    "Archetype",
    "Counters",
    "Coverage",
    "LedgerBuilder",
    "OpenItem",
    "PlanSpec",
    "money",
]

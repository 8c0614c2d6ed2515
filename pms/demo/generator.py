"""The deterministic demo practice: `generate(seed, patients, as_of) -> PracticeSnapshot`.

Personas (pms.demo.personas) come first with fixed ids 1-25; the random population follows from
`random.Random(seed)`. Nothing reads the wall clock or the global random state, so equal arguments
give equal snapshots. Cost is linear in `patients`.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from pms.demo import catalog
from pms.demo.accounts import (
    PENDING_STATUSES,
    AccountLedger,
    AccountPlan,
    Archetype,
    Counters,
    Coverage,
    LedgerBuilder,
    OpenItem,
    PlanSpec,
    money,
)
from pms.demo.activity import ActivityBuilder, ActivityIds
from pms.demo.names import PRACTICE_TZ
from pms.demo.people import Family, PopulationBuilder, pick
from pms.demo.persona_accounts import persona_families
from pms.demo.personas import LAST_PERSONA_ID
from pms.snapshot import PracticeSnapshot
from pms.types import AccountSummary, Aging, Flag, Patient, PracticeInfo

PRACTICE = PracticeInfo(
    practice_id="maple-grove-family-dental",
    name="Maple Grove Family Dental",
    timezone=PRACTICE_TZ,
    phone="+17635550100",
)
DEFAULT_AS_OF = date(2026, 11, 2)

BALANCE_SHARE = 0.28
_ARCHETYPES: tuple[tuple[Archetype, float], ...] = (
    ("prompt", 40),
    ("slow", 30),
    ("partial", 15),
    ("disputer", 5),
    ("unresponsive", 10),
)
# Probability of each aging bucket for an open visit, by payer archetype (tuned for ~55/15/10/20 dollars).
_BUCKETS: dict[str, tuple[float, float, float, float]] = {
    "prompt": (0.70, 0.08, 0.13, 0.09),
    "slow": (0.30, 0.12, 0.28, 0.30),
    "partial": (0.27, 0.10, 0.28, 0.35),
    "disputer": (0.10, 0.10, 0.25, 0.55),
    "unresponsive": (0.03, 0.03, 0.12, 0.82),
}
AGING_TARGET = (0.55, 0.15, 0.10, 0.20)  # share of balance dollars 0-30 / 31-60 / 61-90 / over 90


class _AgingSteer:
    """Nudges each open visit's bucket toward the target dollar mix given the accounts built so far."""

    def __init__(self) -> None:
        self.dollars = [0, 0, 0, 0]

    def add(self, aging: Aging) -> None:
        if aging.total > 0:
            for i, b in enumerate((aging.bal_0_30, aging.bal_31_60, aging.bal_61_90, aging.bal_over_90)):
                self.dollars[i] += int(b * 100)

    def pick(self, rng: random.Random, arch: Archetype, cents: int) -> int:
        so_far = sum(self.dollars)
        weights = []
        for i, p in enumerate(_BUCKETS[arch]):
            target = AGING_TARGET[i]
            share = self.dollars[i] / so_far if so_far else target
            # Deficit after placing this balance here: large balances go where dollars are missing.
            after = (self.dollars[i] + cents) / (so_far + cents)
            weights.append(p * max(0.02, 1 + 6 * (target - (share + after) / 2) / target))
        return rng.choices(range(4), weights)[0]


_PLAN_CODES = (("D2740", "D2950"), ("D6010",), ("D3330", "D2950", "D2740"), ("D4341",) * 4, ("D5110",))
# Drawn median $165 / p90 $950: with plans and multi-visit families the result is ~$180 / ~$1,000.
_MU, _SIGMA = math.log(16500), (math.log(95000) - math.log(16500)) / 1.2816


def generate(seed: int = 7, patients: int = 1500, as_of: date = DEFAULT_AS_OF) -> PracticeSnapshot:
    """Maple Grove Family Dental as of `as_of`: personas plus random families up to `patients` people.

    The personas always exist (25 people), so fewer than 25 requested patients still yields 25.
    """
    tz = ZoneInfo(PRACTICE_TZ)
    snap = PracticeSnapshot(practice=PRACTICE, as_of=as_of)
    ids, act_ids = Counters(), ActivityIds()
    steer = _AgingSteer()

    def add(
        rng: random.Random,
        members: list[Patient],
        plan: AccountPlan,
        flags: frozenset[str],
        extras: dict[str, object],
    ) -> None:
        ledger = LedgerBuilder(rng, ids, as_of, tz, members[0], members, plan).build()
        account = _summary(members[0], ledger, flags, as_of)
        activity = ActivityBuilder(rng, act_ids, as_of, tz).build(
            members,
            ledger,
            plan.archetype,
            account.aging.patient_balance,
            account.flags,
            extras,
            plan.inactive,
        )
        if activity.last_statement:
            account = replace(account, last_statement_date=activity.last_statement)
        snap.patients.extend(members)
        snap.accounts.append(account)
        steer.add(account.aging)
        snap.ledger.extend(ledger.lines)
        snap.claims.extend(ledger.claims)
        snap.payments.extend(ledger.payments)
        snap.plans.extend(ledger.plans)
        snap.promises.extend(activity.promises)
        snap.appointments.extend(activity.appointments)
        snap.comms.extend(activity.comms)

    persona_balances = 0
    for pf in persona_families():
        add(random.Random(f"persona:{pf.key}"), pf.members, pf.plan, pf.flags, pf.extras)
        persona_balances += snap.accounts[-1].aging.total != 0

    rng = random.Random(seed)
    pop = PopulationBuilder(rng, as_of, LAST_PERSONA_ID + 1)
    count = len(snap.patients)
    expected = max(1.0, (patients - count) / 1.95)  # people per guarantor account
    p_balance = max(
        0.05, min(0.6, (BALANCE_SHARE * (expected + len(snap.accounts)) - persona_balances) / expected)
    )
    while count < patients:
        for fam in pop.household(patients - count):
            plan, flags, members = _random_account(rng, fam, as_of, p_balance, steer)
            add(rng, members, plan, flags, {})
            count += len(members)
    return snap


def _summary(g: Patient, ledger: AccountLedger, flags: frozenset[str], as_of: date) -> AccountSummary:
    ag = ledger.aging
    assert ag is not None
    patient = ag.total - ledger.ins_est - ledger.wo_est
    computed = set(flags)
    if ag.total < 0:
        computed.add(Flag.CREDIT_BALANCE.value)
    if ag.total > 0 and patient <= 0 and ledger.ins_est > 0:
        computed.add(Flag.INSURANCE_PENDING.value)
    last = max(ledger.payments, key=lambda p: (p.paid_on, p.posted_at or as_of), default=None)
    return AccountSummary(
        guarantor=g,
        aging=Aging(
            money(ag.bal_0_30),
            money(ag.bal_31_60),
            money(ag.bal_61_90),
            money(ag.bal_over_90),
            money(ag.total),
            money(ledger.ins_est),
            money(ledger.wo_est),
            money(patient),
            money(ledger.payplan_due),
            as_of,
        ),
        last_payment_date=last.paid_on if last else None,
        last_payment_amount=last.amount if last else None,
        balance_since=ag.balance_since if patient > 0 else None,
        flags=frozenset(computed),
        open_claims=sum(c.status not in ("received", "denied") for c in ledger.claims),
    )


def _random_account(
    rng: random.Random, fam: Family, as_of: date, p_balance: float, steer: _AgingSteer
) -> tuple[AccountPlan, frozenset[str], list[Patient]]:
    arch: Archetype = pick(rng, _ARCHETYPES)  # type: ignore[assignment]
    coverage = None
    if rng.random() < 0.55:
        carrier = pick(rng, tuple((c.name, c.weight) for c in catalog.CARRIERS))
        coverage = Coverage(str(carrier), rng.randint(15, 35))
    plan = AccountPlan(archetype=arch, coverage=coverage)
    members = fam.members
    flags: set[str] = set()
    eligible = [
        i
        for i, m in enumerate(members)
        if m.date_of_birth is None or (as_of - m.date_of_birth).days > 3 * 365
    ]
    if Flag.WRONG_NUMBER.value in members[0].flags:
        flags.add(Flag.WRONG_NUMBER.value)
    if rng.random() >= p_balance:
        if rng.random() < 0.10:
            plan.inactive = True
            members = [replace(m, status="inactive") for m in members]
        return plan, frozenset(flags), members
    x = rng.random()
    if x < 0.05:
        plan.credit_cents = int(math.exp(rng.gauss(math.log(6000), 0.8))) // 5 * 5 + 500
    elif x < 0.05 + 0.10 / 0.55 and coverage:  # ~10% of all balances wait on insurance only
        for _ in range(rng.randint(1, 2)):
            status = pick(rng, PENDING_STATUSES)
            plan.open_items.append(OpenItem(rng.randint(2, 45), 0, "pending", status, rng.choice(eligible)))  # type: ignore[arg-type]
    elif rng.random() < 0.065:
        behind = rng.choice((1, 1, 2)) if rng.random() < 0.25 else 0
        plan.plan = PlanSpec(
            rng.choice(_PLAN_CODES),
            rng.randrange(5000, 25001, 500),
            rng.choice((0, 0, 10000, 20000)),
            rng.randint(max(2, behind + 1), 8),
            behind,
            rng.choice(eligible),
        )
    else:
        total = min(600000, max(500, int(math.exp(rng.gauss(_MU, _SIGMA)))))
        n = 1 if total < 20000 else rng.choice((1, 1, 1, 2, 2, 3))
        cuts = sorted(rng.randint(1, total - 1) for _ in range(n - 1))
        amounts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        for amount in amounts:
            b = steer.pick(rng, arch, amount)
            age = {
                0: rng.randint(2, 30),
                1: rng.randint(31, 60),
                2: rng.randint(61, 90),
                3: min(700, 91 + int(rng.expovariate(1 / 110))),
            }[b]
            outcome = "received"
            status = "sent"
            if coverage and age <= 60 and rng.random() < 0.73:
                outcome, status = "pending", pick(rng, PENDING_STATUSES)
            elif coverage and arch == "disputer" and rng.random() < 0.4:
                outcome = "denied"
            plan.open_items.append(OpenItem(age, amount, outcome, status, rng.choice(eligible)))  # type: ignore[arg-type]
        oldest = max(it.age_days for it in plan.open_items)
        if arch == "disputer" and rng.random() < 0.6:
            flags.add(Flag.DISPUTE.value)
            members[0] = _noted(members[0], "Disputes the balance: says insurance should have paid")
        if arch == "unresponsive" and oldest > 150 and rng.random() < 0.2:
            flags.add(Flag.AGENCY.value)
            members[0] = _noted(members[0], "Placed with Northstar Recovery Services (collection agency)")
        if rng.random() < 0.004:
            flags.add(Flag.ATTORNEY.value)
            members[0] = replace(
                _noted(members[0], "Bankruptcy filed; attorney representation - do not contact"),
                flags=members[0].flags | {Flag.ATTORNEY.value},
            )
        if arch == "partial" and rng.random() < 0.08:
            flags.add(Flag.HARDSHIP.value)
            members[0] = _noted(members[0], "Financial hardship: lost job, asked for smaller payments")
    if (
        rng.random() < 0.004
        and members[0].date_of_birth
        and (as_of - members[0].date_of_birth).days > 65 * 365
    ):
        flags.add(Flag.DECEASED.value)
        members[0] = replace(
            _noted(members[0], "Deceased"), status="deceased", flags=members[0].flags | {Flag.DECEASED.value}
        )
    return plan, frozenset(flags), members


def _noted(p: Patient, text: str) -> Patient:
    return replace(p, note="; ".join(filter(None, (p.note, text))))

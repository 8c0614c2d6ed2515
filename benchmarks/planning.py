"""Planning 100,000 accounts: `scoring.prioritise` + the cadence step + `compliance.check` for every
account, one process.

Target (the issue): prioritising, computing the next cadence step and compliance-checking 100,000
accounts in <= 10 s.

Accounts: the demo generator (`pms.demo.generate`) is the source of realism, but generating the
~195,000 patients behind 100,000 accounts takes minutes; so a base practice is generated
(`base_patients`, default 10,000 people, ~5,100 accounts) and tiled up to `accounts` with new ids,
new subscriber numbers (same area codes, so the same time zones), balances scaled by 0.5-1.5 and
balance dates moved by up to +-30 days. `source="demo"` generates all of them instead (slow).

Histories (`ContactHistory`) are synthesised per account from a seeded RNG, shaped like what
`SqlRecords.contact_history` returns for an active practice: 0-10 attempts in the last 30 days
(texts, calls, e-mails; inbound and outbound; some conversations), opt-outs (~4%: SMS, voice, all,
number-specific), consent records (~70%, some healthcare-exemption only), patient time
restrictions (~6%), BalanceLine flags, reassigned numbers, recent payments, upcoming
appointments, kept/broken promises, plans, last responses.

Cycles: each account's collection cycle started 0-40 days before the run, with the cadence steps
whose day has come marked done (80% each, in order), as the outreach store would hold them.

Timed: for every account, `prioritise(account, history, policy, today)`, the planner's cadence state
(`agent.outreach.planner.cadence_state`) and `cadence.next_step`, and, when the account has
a way to reach the guarantor, `check(action, guarantor, account, history, policy, now)` for its
best channel (a consented mobile -> SMS; another phone -> voice, landline or mobile; else e-mail).
Building the inputs is not timed. The first pass is cold (empty lru_caches); the table shows it.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from agent.outreach.facts import AccountFacts  # imported here: the agent stack loads outside the timing
from agent.outreach.planner import cadence_state
from agent.store.outreach import Cycle
from pms.types import AccountSummary, Aging, ContactPoint, Patient
from policies.config import PracticePolicy, load_policy
from policies.types import (
    Attempt,
    Channel,
    ConsentRecord,
    ContactAction,
    ContactHistory,
    InconvenientTime,
    Suppression,
    SuppressionScope,
)

AS_OF = date(2026, 11, 2)
TARGET_ACCOUNTS = 100_000
TARGET_SECONDS = 10.0
# Monday 2 Nov 2026, 10:00 in Chicago (inside every window) and 21:30 (closed in Central and Eastern time).
DAYTIME = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 3, 3, 30, tzinfo=UTC)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Case:
    account: AccountSummary
    history: ContactHistory
    action: ContactAction | None
    cycle_started_on: date = AS_OF
    done: tuple[tuple[str, date], ...] = ()


@dataclass
class PlanningResult:
    accounts: int
    at: str
    source: str
    population: str = "ar"
    seconds: float = 0.0  # first (cold) pass: prioritise + check for every account
    warm_seconds: float = 0.0  # median of the following passes
    prioritise_seconds: float = 0.0  # prioritise alone (warm)
    check_seconds: float = 0.0  # check alone (warm)
    cadence_seconds: float = 0.0  # cadence state + next_step alone (warm)
    checks: int = 0
    build_seconds: float = 0.0  # generating + tiling + histories (not part of the target)
    tiers: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.accounts / self.seconds if self.seconds else 0.0

    @property
    def meets_target(self) -> bool:
        return self.accounts >= TARGET_ACCOUNTS and self.seconds <= TARGET_SECONDS


# ---- the accounts -------------------------------------------------------------------------------


def _renumber(value: str, k: int, rng: random.Random) -> str:
    """Same country and area code (so the same time zones), another subscriber number."""
    if value.startswith("+1") and len(value) == 12:
        return f"{value[:5]}{rng.randrange(200, 999)}{rng.randrange(10_000):04d}"
    return value


def _scale(amount: Decimal, f: Decimal) -> Decimal:
    return (amount * f).quantize(_CENT)


def _copy(acc: AccountSummary, k: int, rng: random.Random) -> AccountSummary:
    g = acc.guarantor
    contacts = tuple(
        replace(c, value=_renumber(c.value, k, rng))
        if c.channel == "phone"
        else replace(c, value=c.value.replace("@", f"+{k}@", 1))
        for c in g.contacts
    )
    pid = f"{g.patient_id}-{k}"
    guarantor = replace(g, patient_id=pid, guarantor_id=pid, contacts=contacts)
    f = Decimal(str(round(rng.uniform(0.5, 1.5), 2)))
    a = acc.aging
    aging = Aging(
        _scale(a.bal_0_30, f), _scale(a.bal_31_60, f), _scale(a.bal_61_90, f), _scale(a.bal_over_90, f),
        _scale(a.total, f), _scale(a.insurance_estimate, f), _scale(a.writeoff_estimate, f),
        _scale(a.patient_balance, f), _scale(a.payplan_due, f), a.as_of,
    )  # fmt: skip
    shift = timedelta(days=rng.randint(-30, 30))
    since = acc.balance_since
    if since is not None:
        since = min(AS_OF, since + shift)
    return replace(acc, guarantor=guarantor, aging=aging, balance_since=since)


def _population(accounts: Sequence[AccountSummary], population: str) -> list[AccountSummary]:
    if population == "all":
        return list(accounts)
    return [a for a in accounts if a.aging.patient_balance > 0]


def make_accounts(
    n: int,
    *,
    base_patients: int = 10_000,
    source: Literal["tiled", "demo"] = "tiled",
    population: Literal["ar", "all"] = "ar",
    seed: int = 7,
) -> list[AccountSummary]:
    """`n` guarantor accounts shaped like the demo practice's (see the module docstring).

    `population="ar"`: accounts with a patient balance (the A/R worklist the planner walks, and
    the expensive path: a zero balance returns from `prioritise` at once); "all": every account."""
    from pms.demo import generate

    per_patient = 0.51 * (0.28 if population == "ar" else 1.0)  # accounts per generated patient
    if source == "demo":
        patients = max(50, int(n / per_patient))
        accounts: list[AccountSummary] = []
        while len(accounts) < n:
            accounts = _population(generate(seed=seed, patients=patients, as_of=AS_OF).accounts, population)
            patients = int(patients * 1.05) + 10
        return accounts[:n]
    size = min(base_patients, max(50, int(n / per_patient) + 50))
    base = _population(generate(seed=seed, patients=size, as_of=AS_OF).accounts, population)
    rng = random.Random(seed)
    out = list(base[:n])
    k = 1
    while len(out) < n:
        out.extend(_copy(a, k, rng) for a in base[: n - len(out)])
        k += 1
    return out


# ---- the histories ------------------------------------------------------------------------------


def _phones(p: Patient) -> list[ContactPoint]:
    return list(p.phones)


def best_action(g: Patient) -> ContactAction | None:
    """The guarantor's best channel: a consented mobile (SMS), another phone (voice), else e-mail."""
    phones = _phones(g)
    for c in sorted(phones, key=lambda c: not c.is_preferred):
        if c.kind == "mobile" and c.sms_consent == "yes":
            return ContactAction(channel="sms", to=c.value, purpose="balance")
    if phones:
        c = sorted(phones, key=lambda c: not c.is_preferred)[0]
        line: Literal["mobile", "landline", "unknown"] = (
            "mobile" if c.kind == "mobile" else "landline" if c.kind in ("home", "landline") else "unknown"
        )
        return ContactAction(channel="voice", to=c.value, purpose="balance", line_type=line)
    if g.emails:
        return ContactAction(channel="email", to=g.emails[0].value, purpose="balance")
    return None


def make_history(acc: AccountSummary, rng: random.Random, now: datetime) -> ContactHistory:
    g = acc.guarantor
    values = [c.value for c in g.contacts] or ["+15555550123"]
    phones = [c.value for c in g.phones]

    def when(days_back: float) -> datetime:
        return now - timedelta(days=days_back, minutes=rng.randint(0, 600))

    attempts: list[Attempt] = []
    for _ in range(min(10, int(rng.expovariate(1 / 2.2)))):
        ch: Channel = rng.choice(("sms", "sms", "voice", "voice", "email")) if phones else "email"
        to = rng.choice(phones) if ch != "email" and phones else values[0]
        inbound = rng.random() < 0.2
        attempts.append(
            Attempt(
                channel=ch,
                at=when(rng.uniform(0, 30)),
                to=to,
                direction="inbound" if inbound else "outbound",
                conversation=rng.random() < 0.15,
                counted=not inbound,
                with_consent=rng.random() < 0.05,
            )
        )
    suppressions: list[Suppression] = []
    if rng.random() < 0.04:
        scope = rng.choice(
            (SuppressionScope.SMS, SuppressionScope.VOICE, SuppressionScope.ALL, SuppressionScope.SMS)
        )
        suppressions.append(
            Suppression(
                scope,
                rng.choice((None, values[0])),
                when(rng.uniform(1, 300)),
                rng.choice(("stop", "opt_out")),
            )
        )
    consents: list[ConsentRecord] = []
    for v in phones:
        x = rng.random()
        if x < 0.45:
            consents.append(ConsentRecord("sms", v, "sms_opt_in", when(rng.uniform(30, 900))))
        elif x < 0.70:
            consents.append(
                ConsentRecord("voice", v, "provided_number_for_account", when(rng.uniform(30, 900)))
            )
            consents.append(
                ConsentRecord("sms", v, "provided_number_for_account", when(rng.uniform(30, 900)))
            )
        elif x < 0.75:
            consents.append(ConsentRecord("sms", v, "healthcare_exemption", when(rng.uniform(30, 900))))
    inconvenient: list[InconvenientTime] = []
    if rng.random() < 0.06:
        inconvenient.append(
            rng.choice(
                (
                    InconvenientTime(not_before=dtime(12, 0)),
                    InconvenientTime(not_after=dtime(17, 0)),
                    InconvenientTime(not_after=dtime(9, 0), not_before=dtime(17, 0)),
                    InconvenientTime(value=values[0]),
                    InconvenientTime(channel="voice"),
                )
            )
        )
    kept = int(rng.expovariate(1.5))
    broken = int(rng.expovariate(2.5))
    responses = [a.at for a in attempts if a.direction == "inbound"]
    return ContactHistory(
        attempts=tuple(sorted(attempts, key=lambda a: a.at)),
        suppressions=tuple(suppressions),
        consents=tuple(consents),
        inconvenient=tuple(inconvenient),
        extra_flags=frozenset({rng.choice(("dispute", "hardship", "paused"))}) if rng.random() < 0.02 else frozenset(),
        reassigned_numbers=frozenset({phones[0]}) if phones and rng.random() < 0.005 else frozenset(),
        upcoming_appointment_at=now + timedelta(hours=rng.uniform(1, 96)) if rng.random() < 0.05 else None,
        last_payment_at=when(rng.uniform(0, 20)) if rng.random() < 0.08 else None,
        broken_promises=broken,
        kept_promises=kept,
        active_plan_current=rng.random() < 0.05,
        last_response_at=max(responses) if responses else None,
    )  # fmt: skip


def _cycle(rng: random.Random, policy: PracticePolicy) -> tuple[date, tuple[tuple[str, date], ...]]:
    start = AS_OF - timedelta(days=rng.randint(0, 40))
    done: list[tuple[str, date]] = []
    for step in policy.cadence.steps:
        on = start + timedelta(days=step.day)
        if on >= AS_OF or rng.random() > 0.8:
            break
        done.append((step.key, on))
    return start, tuple(done)


def build_cases(accounts: Sequence[AccountSummary], now: datetime, seed: int = 7) -> list[Case]:
    rng = random.Random(seed + 1)
    policy = load_policy()
    return [
        Case(a, make_history(a, rng, now), best_action(a.guarantor), *_cycle(rng, policy)) for a in accounts
    ]


def next_steps(
    cases: Sequence[Case], policy: PracticePolicy, today: date, priorities: Sequence[Any]
) -> Counter[str]:
    """The planner's cadence work per account: its state, then `cadence.next_step`."""
    from policies import cadence

    steps: Counter[str] = Counter()
    rules = policy.cadence
    for c, p in zip(cases, priorities, strict=True):
        st = cadence_state(AccountFacts(c.account, c.history, (), ()), p, Cycle("c", c.cycle_started_on, None), [],
                           policy, today, done=c.done)  # fmt: skip
        step = cadence.next_step(st, rules)
        steps[step.kind] += 1
    return steps


# ---- the timed work -----------------------------------------------------------------------------


def plan_all(
    cases: Sequence[Case], policy: PracticePolicy, now: datetime
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """What the planner does per account: tier + score, the next cadence step, then the gate for
    the best channel (checked for every reachable account, whatever the step: the worst case)."""
    from policies import cadence, compliance, scoring

    prioritise, check, step_of = scoring.prioritise, compliance.check, cadence.next_step
    rules = policy.cadence
    today = now.astimezone(ZoneInfo(policy.practice.timezone)).date()
    tiers: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    for c in cases:
        p = prioritise(c.account, c.history, policy, today)
        tiers[p.tier.value] += 1
        st = cadence_state(AccountFacts(c.account, c.history, (), ()), p, Cycle("c", c.cycle_started_on, None), [],
                           policy, today, done=c.done)  # fmt: skip
        steps[step_of(st, rules).kind] += 1
        if c.action is not None:
            d = check(c.action, c.account.guarantor, c.account, c.history, policy, now)
            decisions[d.reason.split(":")[0]] += 1
    return tiers, decisions, steps


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _clear_caches() -> None:
    """Empty the policy modules' caches (lru_caches, per-policy rules, per-prefix phone memo) so the
    first pass is really cold: zone resolution, phone look-ups, holidays, window searches."""
    from policies import cadence, compliance, timezones, windows

    for mod in (compliance, timezones, windows, cadence):
        for obj in vars(mod).values():
            clear = getattr(obj, "cache_clear", None)
            if callable(clear):
                clear()
    compliance._RULES.clear()
    timezones._BY_PREFIX.clear()


def run_planning(
    *,
    accounts: int = TARGET_ACCOUNTS,
    at: datetime = DAYTIME,
    base_patients: int = 10_000,
    source: Literal["tiled", "demo"] = "tiled",
    population: Literal["ar", "all"] = "ar",
    repeats: int = 3,
    say: Callable[[str], None] = print,
    prepared: list[AccountSummary] | None = None,
) -> PlanningResult:
    """Build the inputs (untimed), then time `repeats` passes; the first is cold."""
    from policies import compliance, scoring

    policy = load_policy()
    result = PlanningResult(accounts=accounts, at=at.isoformat(), source=source, population=population)
    t = time.perf_counter()
    if prepared is None:
        say(f"[planning] building {accounts:,} accounts ({source}, {population}) and their histories")
    accs = (
        prepared
        if prepared is not None
        else make_accounts(accounts, base_patients=base_patients, source=source, population=population)
    )
    cases = build_cases(accs, at)
    result.build_seconds = time.perf_counter() - t
    result.channels = dict(Counter(c.action.channel if c.action else "none" for c in cases))
    result.checks = sum(1 for c in cases if c.action is not None)
    _clear_caches()
    gc.collect()
    say(f"[planning] timing prioritise + check over {accounts:,} accounts at {at:%Y-%m-%d %H:%M} UTC")
    tiers: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    steps: Counter[str] = Counter()

    def both() -> None:
        nonlocal tiers, decisions, steps
        tiers, decisions, steps = plan_all(cases, policy, at)

    result.seconds = _timed(both)
    result.tiers, result.decisions, result.steps = dict(tiers), dict(decisions), dict(steps)
    warm = [_timed(both) for _ in range(max(0, repeats - 1))]
    result.warm_seconds = statistics.median(warm) if warm else result.seconds
    today = at.astimezone(ZoneInfo(policy.practice.timezone)).date()
    result.prioritise_seconds = _timed(
        lambda: [scoring.prioritise(c.account, c.history, policy, today) for c in cases]
    )
    priorities = [scoring.prioritise(c.account, c.history, policy, today) for c in cases]
    result.cadence_seconds = _timed(lambda: next_steps(cases, policy, today, priorities))
    result.check_seconds = _timed(
        lambda: [
            compliance.check(c.action, c.account.guarantor, c.account, c.history, policy, at)
            for c in cases
            if c.action is not None
        ]
    )
    return result

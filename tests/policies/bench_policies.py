"""Throughput check (not a test: no timing assertions in the suite).

    .venv/bin/python -m tests.policies.bench_policies [N] [--procs P]

Builds N synthetic guarantor accounts with varied states, zones, phones and histories, then
prioritises and compliance-checks every one (the nightly worklist's hot path) and prints the CPU
time spent in the policy calls (per process; with --procs the slowest process) and the wall time.
"""

from __future__ import annotations

import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pms.types import AccountSummary, Aging, ContactPoint, Patient
from policies.compliance import check
from policies.config import load_policy
from policies.scoring import prioritise
from policies.types import (
    Attempt,
    ConsentRecord,
    ContactAction,
    ContactHistory,
    Suppression,
    SuppressionScope,
)

NOW = datetime(2025, 6, 10, 17, 30, tzinfo=UTC)
TODAY = date(2025, 6, 10)
AREA = {
    "IL": "312",
    "NY": "212",
    "CA": "415",
    "TX": "214",
    "FL": "305",
    "MA": "617",
    "AZ": "602",
    "CO": "303",
}
ZONES = {
    "IL": "America/Chicago",
    "NY": "America/New_York",
    "CA": "America/Los_Angeles",
    "TX": "America/Chicago",
    "FL": "America/New_York",
    "MA": "America/New_York",
    "AZ": "America/Phoenix",
    "CO": "America/Denver",
}


def build(n: int, seed: int = 7) -> list[tuple[AccountSummary, ContactHistory, ContactAction]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        st = rnd.choice(list(AREA))
        phone = f"+1{rnd.choice(list(AREA.values()))}555{i % 10000:04d}"
        g = Patient(
            f"p{i}",
            f"p{i}",
            "Pat",
            f"N{i}",
            None,
            contacts=(ContactPoint("phone", phone, sms_consent=rnd.choice(["yes", "unknown"])),),
            timezone=ZONES[st] if rnd.random() < 0.7 else None,
            state=st,
            flags=frozenset({"dispute"}) if rnd.random() < 0.03 else frozenset(),
        )
        bal = Decimal(rnd.randint(2_000, 600_000)) / 100
        aging = Aging(patient_balance=bal, insurance_estimate=Decimal(rnd.choice([0, 0, 0, 120])), total=bal)
        acct = AccountSummary(
            g,
            aging,
            balance_since=TODAY - timedelta(days=rnd.randint(0, 200)),
            open_claims=rnd.choice([0, 0, 1]),
        )
        attempts = tuple(
            Attempt(
                rnd.choice(["voice", "sms"]),
                NOW - timedelta(hours=rnd.randint(1, 24 * 20)),
                phone,
                conversation=rnd.random() < 0.1,
            )
            for _ in range(rnd.randint(0, 8))
        )
        supp = (
            (Suppression(SuppressionScope.SMS, phone, NOW - timedelta(days=30)),)
            if rnd.random() < 0.05
            else ()
        )
        hist = ContactHistory(
            attempts=attempts,
            suppressions=supp,
            consents=(
                ConsentRecord("voice", phone, "provided_number_for_account", NOW - timedelta(days=400)),
            ),
            broken_promises=rnd.choice([0, 0, 0, 1, 2, 3]),
        )
        out.append((acct, hist, ContactAction(rnd.choice(["voice", "sms"]), phone)))
    return out


def run(n: int, seed: int) -> tuple[float, dict[str, int]]:
    policy = load_policy()
    data = build(n, seed)
    reasons: dict[str, int] = {}
    t0 = time.process_time()
    for acct, hist, action in data:
        prioritise(acct, hist, policy, TODAY)
        d = check(action, acct.guarantor, acct, hist, policy, NOW)
        reasons[d.reason] = reasons.get(d.reason, 0) + 1
    return time.process_time() - t0, reasons


def main() -> None:
    args = sys.argv[1:]
    procs = int(args[args.index("--procs") + 1]) if "--procs" in args else 1
    n = int(args[0]) if args and args[0].isdigit() else 100_000
    t0 = time.perf_counter()
    if procs == 1:
        elapsed, reasons = run(n, 7)
    else:
        with ProcessPoolExecutor(procs) as pool:
            parts = list(pool.map(run, [n // procs] * procs, range(procs)))
        elapsed = max(p[0] for p in parts)
        reasons = {}
        for _, r in parts:
            for k, v in r.items():
                reasons[k] = reasons.get(k, 0) + v
    wall = time.perf_counter() - t0
    print(
        f"{n} accounts prioritised + checked: {elapsed:.2f} s CPU in the policy calls ({procs} process(es)); "
        f"{wall:.2f} s wall including data generation"
    )
    print(dict(sorted(reasons.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()

"""A whole practice's data as plain values: what the demo generator and the CSV importer produce
and what the local SQL PMS loads (`LocalPms.load_snapshot`).

Account rows carry aging explicitly: an imported aging export has balances but no ledger lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pms.types import (
    AccountSummary,
    Appointment,
    Claim,
    CommEntry,
    LedgerLine,
    Patient,
    Payment,
    PaymentPlan,
    PracticeInfo,
    Promise,
)


@dataclass
class PracticeSnapshot:
    practice: PracticeInfo
    as_of: date
    patients: list[Patient] = field(default_factory=list)
    accounts: list[AccountSummary] = field(default_factory=list)  # one per guarantor that has an account
    ledger: list[LedgerLine] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    plans: list[PaymentPlan] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    comms: list[CommEntry] = field(default_factory=list)

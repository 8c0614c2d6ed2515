"""Applying a patient payment to explicit aging buckets (pure arithmetic, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pms.types import ZERO


@dataclass(frozen=True, slots=True)
class Buckets:
    bal_0_30: Decimal
    bal_31_60: Decimal
    bal_61_90: Decimal
    bal_over_90: Decimal
    total: Decimal
    patient_balance: Decimal
    balance_since: date | None


def apply_payment(b: Buckets, amount: Decimal) -> Buckets:
    """Reduce the buckets oldest-first (90+, 61-90, 31-60, 0-30), then the totals.

    Buckets never go below zero: money beyond them leaves a credit, i.e. a negative patient
    balance. `balance_since` is cleared once nothing is owed; otherwise it is kept (the buckets
    alone cannot tell when the oldest remaining charge posted).
    """
    if amount <= 0:
        raise ValueError("a payment amount must be positive")
    remaining = amount
    reduced: list[Decimal] = []
    for bucket in (b.bal_over_90, b.bal_61_90, b.bal_31_60, b.bal_0_30):
        take = min(max(bucket, ZERO), remaining)
        reduced.append(bucket - take)
        remaining -= take
    over_90, d61_90, d31_60, d0_30 = reduced
    patient_balance = b.patient_balance - amount
    return Buckets(
        bal_0_30=d0_30,
        bal_31_60=d31_60,
        bal_61_90=d61_90,
        bal_over_90=over_90,
        total=b.total - amount,
        patient_balance=patient_balance,
        balance_since=b.balance_since if patient_balance > 0 else None,
    )

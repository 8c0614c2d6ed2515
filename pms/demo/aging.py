"""Aging of a family ledger the way practice-management systems do it (first in, first out).

All credits (payments, insurance, write-offs, adjustments) pay the oldest charges first; what is left
of each charge is aged by its posting date. A family in credit shows the credit in the 0-30 bucket,
so the buckets always sum to the family total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class CentsAging:
    bal_0_30: int
    bal_31_60: int
    bal_61_90: int
    bal_over_90: int
    total: int
    balance_since: date | None  # posting date of the oldest charge not yet paid off


def bucket_index(as_of: date, posted: date) -> int:
    days = (as_of - posted).days
    return 0 if days <= 30 else 1 if days <= 60 else 2 if days <= 90 else 3


def age_ledger(lines: Iterable[tuple[date, int]], as_of: date) -> CentsAging:
    """Age (posted_date, amount_cents) pairs; positive amounts are charges, negative are credits."""
    debits: list[tuple[date, int]] = []
    credit = 0
    total = 0
    for posted, cents in lines:
        total += cents
        if cents > 0:
            debits.append((posted, cents))
        else:
            credit -= cents
    if total <= 0:
        return CentsAging(total, 0, 0, 0, total, None)
    debits.sort(key=lambda x: x[0])
    buckets = [0, 0, 0, 0]
    since: date | None = None
    for posted, cents in debits:
        if credit >= cents:
            credit -= cents
            continue
        left = cents - credit
        credit = 0
        buckets[bucket_index(as_of, posted)] += left
        if since is None:
            since = posted
    return CentsAging(buckets[0], buckets[1], buckets[2], buckets[3], total, since)

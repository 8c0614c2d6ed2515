"""Promises to pay, settled against posted payments: kept, partly kept or broken.

A payment counts toward a promise when it belongs to the same guarantor and was paid between the day
the promise was made and its due date plus the policy's grace days (`payments.promise_grace_days`).
Payments are allocated oldest promise first, each payment once. A promise is *kept* as soon as the
payments allocated to it reach its amount; once its window has passed it is *partly kept* (something
was paid) or *broken* (nothing was). Payments come from the PMS (posted by anyone, any method) and
from our own processor records (confirmed but perhaps not yet posted), one per processor reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from agent.store.payments import PaymentStore
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from pms.types import Promise
from policies.config import PracticePolicy


@dataclass(frozen=True)
class PostedPayment:
    ref: str  # processor reference, or the PMS payment id
    amount: Decimal
    paid_on: date


def match_promises(
    promises: Sequence[Promise], payments: Iterable[PostedPayment], *, grace_days: int, today: date
) -> dict[str, str]:
    """New status per open promise id (only promises whose status changes are returned)."""
    remaining = sorted(payments, key=lambda p: (p.paid_on, p.ref))
    left = {p.ref: p.amount for p in remaining}
    changes: dict[str, str] = {}
    for promise in sorted(promises, key=lambda p: (p.due_on, p.promise_id)):
        if promise.status != "open":
            continue
        made_on = promise.created_at.date() if promise.created_at else date.min
        window_end = promise.due_on + timedelta(days=grace_days)
        need, got = promise.amount, Decimal("0")
        for p in remaining:
            if got >= need or not made_on <= p.paid_on <= window_end or left[p.ref] <= 0:
                continue
            take = min(left[p.ref], need - got)
            left[p.ref] -= take
            got += take
        if got >= need:
            changes[promise.promise_id] = "kept"
        elif today > window_end:
            changes[promise.promise_id] = "partly_kept" if got > 0 else "broken"
    return changes


async def settle_promises(
    records: SqlRecords,
    store: PaymentStore,
    policy: PracticePolicy,
    guarantor_id: str,
    *,
    today: date,
    pms: PmsAdapter,
) -> dict[str, str]:
    """Apply `match_promises` to one guarantor's open promises; returns the changes made."""
    promises = [p for p in await records.list_promises(guarantor_id) if p.status == "open"]
    if not promises:
        return {}
    tz = ZoneInfo(policy.practice.timezone)
    posted: dict[str, PostedPayment] = {}
    for row in await store.list_payments(guarantor_id):
        if row.paid_at is not None and row.status != "refunded":
            amount = row.amount - (row.refunded_amount or Decimal("0"))
            posted[row.processor_ref] = PostedPayment(
                row.processor_ref, amount, row.paid_at.astimezone(tz).date()
            )
    for pay in await pms.get_payments(guarantor_id):
        ref = pay.processor_ref or f"pms:{pay.payment_id}"
        posted.setdefault(ref, PostedPayment(ref, pay.amount, pay.paid_on))
    changes = match_promises(
        promises, posted.values(), grace_days=policy.payments.promise_grace_days, today=today
    )
    for promise_id, status in changes.items():
        await records.set_promise_status(promise_id, status)
    return changes

"""Today's worklist for the console, grouped by tier.

The outreach planner (`agent.outreach`, issue 5) owns next steps and compliance decisions; when it
is installed its worklist is shown as is. Until then the page shows the scoring tiers and reasons
from `policies.scoring` (the same numbers the API's account list uses) and says that next steps are
not planned yet.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.accounts import _priority, _today
from agent.runtime import Runtime
from policies.types import Tier

PAGE = 50
TIER_ORDER = [t.value for t in Tier]
TIER_WORDS = {
    "immediate_call": "Call today",
    "plan_candidate": "Offer a payment plan",
    "soft_reminder": "Friendly reminder",
    "insurance_follow_up": "Insurance follow-up",
    "human_review": "Needs a person",
    "do_not_contact": "Do not contact",
}


@dataclass
class WorkItem:
    patient_id: str
    name: str
    balance: Decimal
    tier: str
    score: float
    reasons: list[str]
    next_step: str | None = None
    decision: str | None = None
    allowed: bool | None = None


@dataclass
class WorklistView:
    groups: list[tuple[str, str, list[WorkItem]]]
    source: str  # "planner" | "scoring"
    total: int
    page: int
    pages: int
    notes: list[str] = field(default_factory=list)


def _planner() -> Any | None:
    """The outreach planner's console hook, when that module is installed."""
    try:
        return importlib.import_module("agent.outreach.worklist")
    except ImportError:
        return None


def _group(items: list[WorkItem]) -> list[tuple[str, str, list[WorkItem]]]:
    by_tier: dict[str, list[WorkItem]] = {}
    for item in items:
        by_tier.setdefault(item.tier, []).append(item)
    order = [*TIER_ORDER, *sorted(set(by_tier) - set(TIER_ORDER))]
    return [
        (t, TIER_WORDS.get(t, t.replace("_", " ")), sorted(by_tier[t], key=lambda i: -i.score))
        for t in order
        if t in by_tier
    ]


async def build(rt: Runtime, *, page: int = 1) -> WorklistView:
    planner = _planner()
    if planner is not None and hasattr(planner, "console_items"):
        items, total = await planner.console_items(rt, offset=(page - 1) * PAGE, limit=PAGE)
        return WorklistView(_group(items), "planner", total, page, max(1, -(-total // PAGE)))
    result = await rt.pms.list_accounts(has_balance=True, limit=PAGE, offset=(page - 1) * PAGE)
    today = _today(rt)
    items = []
    for account in result.items:
        p = await _priority(rt, account, today)
        items.append(
            WorkItem(
                patient_id=account.guarantor.patient_id,
                name=account.guarantor.name,
                balance=account.aging.patient_balance,
                tier=p.tier.value,
                score=p.score,
                reasons=list(p.reasons),
            )
        )
    total = result.total or len(items)
    return WorklistView(
        _group(items),
        "scoring",
        total,
        page,
        max(1, -(-total // PAGE)),
        notes=[
            "The outreach planner is not installed in this build: tiers and reasons are shown, next steps are not planned."
        ],
    )

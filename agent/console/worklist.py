"""Today's worklist for the console, grouped by tier.

The outreach planner owns next steps and compliance decisions and publishes them as
`GET /api/worklist` (CONTRACTS.md). When the app has that route, the page reads it in-process with
the staff member's own session (same access rules as a browser calling the API). Without it, the
page shows the scoring tiers and reasons from `policies.scoring` (the numbers the account list
uses) and says that next steps are not planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

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


def _has_worklist_api(app: Any) -> bool:
    from fastapi.routing import iter_route_contexts

    return any(r.path == "/api/worklist" for r in iter_route_contexts(app.routes))


def _next_step(item: dict[str, Any], tz: str) -> str | None:
    step = item.get("next_step") or {}
    if not step:
        return None
    what = step.get("template") or step.get("purpose") or ""
    words = " ".join(x for x in (str(step.get("channel") or ""), str(what).replace("_", " ")) if x)
    at = step.get("at")
    if not at:
        return words or None
    try:
        local = datetime.fromisoformat(str(at)).astimezone(ZoneInfo(tz))
    except ValueError:
        return words or None
    return f"{words}, {local:%a %b %d, %I:%M %p}"


def _decision(item: dict[str, Any]) -> tuple[str | None, bool | None]:
    d = item.get("decision") or {}
    if not d:
        return None, None
    allowed = bool(d.get("allowed"))
    if allowed:
        return "compliance check passed", True
    return str(d.get("detail") or d.get("reason") or "blocked").replace("_", " "), False


async def _from_api(
    rt: Runtime, app: Any, cookies: dict[str, str], page: int
) -> tuple[list[WorkItem], int] | None:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console.internal", cookies=cookies
    ) as client:
        resp = await client.get("/api/worklist", params={"limit": PAGE, "offset": (page - 1) * PAGE})
    if resp.status_code != 200:
        return None
    body = resp.json()
    raw = body.get("items", body) if isinstance(body, dict) else body
    total = int(body.get("total", len(raw))) if isinstance(body, dict) else len(raw)
    if not isinstance(raw, list):
        return None
    if len(raw) > PAGE:  # an API without paging: page here
        raw = raw[(page - 1) * PAGE : page * PAGE]
    items = []
    for item in raw:
        patient = await rt.pms.get_patient(str(item["patient_id"]))
        account = await rt.pms.get_account(patient.guarantor_id) if patient else None
        decision, allowed = _decision(item)
        items.append(
            WorkItem(
                patient_id=str(item["patient_id"]),
                name=patient.name if patient else f"#{item['patient_id']}",
                balance=account.aging.patient_balance if account else Decimal("0"),
                tier=str(item.get("tier", "")),
                score=float(item.get("score") or 0),
                reasons=[str(r) for r in item.get("reasons") or []],
                next_step=_next_step(item, rt.policy.practice.timezone),
                decision=decision,
                allowed=allowed,
            )
        )
    return items, total


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


async def build(
    rt: Runtime, *, page: int = 1, app: Any = None, cookies: dict[str, str] | None = None
) -> WorklistView:
    if app is not None and _has_worklist_api(app):
        planned = await _from_api(rt, app, cookies or {}, page)
        if planned is not None:
            items, total = planned
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
            "The outreach planner's worklist (/api/worklist) is not in this build: "
            "tiers and reasons are shown, next steps and compliance decisions are not."
        ],
    )

"""PMS health for `/readyz`, the staff console and `balanceline pms health`.

One dict: is the PMS reachable (asked with a short timeout so a hung Open Dental eConnector cannot
stall a readiness probe), when aging last ran, what the connection can record itself, and the
write-back outbox (backlog, per-state counts, the oldest write still waiting).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from agent.metrics import OUTBOX_BACKLOG
from agent.outbox import outbox_states
from agent.store.models import OutboxRow
from pms.types import PmsHealth

if TYPE_CHECKING:
    from agent.runtime import Runtime

OPEN_STATES = ("PENDING", "IN_FLIGHT", "UNKNOWN")


async def pms_health(runtime: Runtime, *, probe_seconds: float = 5.0) -> dict[str, Any]:
    try:
        health = await asyncio.wait_for(runtime.pms.health(), timeout=probe_seconds)
    except TimeoutError:
        health = PmsHealth(reachable=False, detail=f"no answer within {probe_seconds:g} s")
    except Exception as exc:  # a probe reports, it never raises
        health = PmsHealth(reachable=False, detail=f"health check failed: {type(exc).__name__}")
    states = await outbox_states(runtime.sessions)
    async with runtime.sessions() as s:
        oldest = await s.scalar(
            select(func.min(OutboxRow.created_at)).where(OutboxRow.state.in_(OPEN_STATES))
        )
    backlog = sum(n for state, n in states.items() if state in OPEN_STATES)
    OUTBOX_BACKLOG.set(backlog)
    caps = runtime.pms.capabilities()
    settings = runtime.settings
    return {
        "kind": settings.pms,
        "tier": settings.opendental_tier if settings.pms == "opendental" else None,
        "reachable": health.reachable,
        "detail": health.detail,
        "last_aging_at": health.last_aging_at.isoformat() if health.last_aging_at else None,
        "writes": {
            name: getattr(caps, name)
            for name in ("comm_log", "promise", "payment", "payment_plan", "contact_preferences")
        },
        "outbox": {
            "backlog": backlog,
            "states": states,
            "oldest_waiting_at": oldest.isoformat() if oldest else None,
        },
    }

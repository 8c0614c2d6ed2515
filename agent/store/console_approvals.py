"""The one record-store change a plan approval makes besides its audit event: the offer's status."""

from __future__ import annotations

from sqlalchemy import update

from agent.store.base import StoreBase
from agent.store.models import PlanOfferRow


class PlanDecisionStore(StoreBase):
    async def decide_offer(self, offer_id: str, *, approve: bool) -> bool:
        """pending_approval → approved | declined; False if the offer is not pending approval."""
        async with self._tx() as s:
            result = await s.execute(
                update(PlanOfferRow)
                .where(PlanOfferRow.id == offer_id, PlanOfferRow.status == "pending_approval")
                .values(status="approved" if approve else "declined", decided_at=self._now())
            )
        return bool(getattr(result, "rowcount", 0) == 1)

"""The payment side of the account API: self-charging plans and promise outcomes (agent/accounts.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agent.api_models import AutopayInstallmentOut, AutopayPlanOut
from agent.runtime import Runtime
from agent.store.plan_schedules import PlanScheduleStore


async def autopay_plans(rt: Runtime, guarantor_id: str) -> list[AutopayPlanOut]:
    out: list[AutopayPlanOut] = []
    for plan, installments in await PlanScheduleStore(rt.sessions, rt.clock).for_guarantor(guarantor_id):
        upcoming = [i for i in installments if i.status in ("scheduled", "retry")]
        nxt = upcoming[0] if upcoming else None
        terms = plan.terms
        out.append(
            AutopayPlanOut(
                autopay_id=plan.id,
                plan_key=plan.plan_key,
                status=plan.status,
                installment_amount=Decimal(str(terms.get("installment_amount", "0"))),
                installments=int(terms.get("installments", len(installments))),
                frequency=str(terms.get("frequency", "monthly")),
                next_due=nxt.due_on if nxt else None,
                next_amount=nxt.amount if nxt else None,
                paid_installments=int(terms.get("installments", 0))
                - len(upcoming)
                - sum(1 for i in installments if i.status == "failed"),
                remaining_installments=len(upcoming),
                failed_attempts=sum(i.attempts for i in installments),
                schedule=[
                    AutopayInstallmentOut(
                        seq=i.seq,
                        due_on=i.due_on,
                        amount=i.amount,
                        status=i.status,
                        attempts=i.attempts,
                        next_attempt_at=i.next_attempt_at if i.status in ("scheduled", "retry") else None,
                        processor_ref=i.processor_ref,
                    )
                    for i in installments
                ],
            )
        )
    return out


async def promise_outcomes(rt: Runtime, guarantor_id: str) -> dict[tuple[Decimal, date], str]:
    """Our settled promise statuses by (amount, due date), to show over the PMS's copy of a promise."""
    return {
        (p.amount, p.due_on): p.status
        for p in await rt.records.list_promises(guarantor_id)
        if p.status != "open"
    }

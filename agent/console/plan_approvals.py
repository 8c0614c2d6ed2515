"""Payment plans waiting for staff approval (plans on large balances or after broken promises, per
policy): the `plan_approval` staff tasks that `accept_plan` creates.

Approving re-checks the terms against the account's balance today (a payment may have posted since
the patient chose the plan), then queues the plan to the PMS through the outbox, marks the offer
approved, closes the task and audits it with the staff member as the actor. Rejecting marks the
offer declined. Either way a comm-log note tells the practice's record what was decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.accounts import _today
from agent.console.actions import ActionError
from agent.runtime import Runtime
from agent.store.console_approvals import PlanDecisionStore
from pms.types import CommLogWrite
from policies import plans
from tools.plans import describe_terms, plan_write, terms_from_dict

KIND = "plan_approval"
APPROVALS = "live:approvals"


@dataclass(frozen=True)
class PendingPlan:
    approval_id: str
    title: str
    created_at: datetime
    patient_id: str | None
    description: str
    reason: str


async def list_pending(rt: Runtime) -> list[PendingPlan]:
    tasks = await rt.records.list_staff_tasks(status="open", kind=KIND, patient_id=None)
    return [
        PendingPlan(
            approval_id=t["task_id"],
            title="Payment plan",
            created_at=t["created_at"],
            patient_id=t["patient_id"],
            description=t["summary"],
            reason="the practice's policy asks a person to approve this plan",
        )
        for t in tasks
    ]


async def decide(rt: Runtime, task_id: str, *, approve: bool, actor: str) -> str:
    """Returns what happened, in words for the page; raises ActionError when nothing can be done."""
    task = next(
        (t for t in await rt.records.list_staff_tasks(status="open", kind=KIND) if t["task_id"] == task_id),
        None,
    )
    if task is None:
        raise ActionError("that plan is no longer waiting for approval")
    ctx: dict[str, Any] = task["context"] or {}
    patient = await rt.pms.get_patient(str(task["patient_id"])) if task["patient_id"] else None
    if patient is None or not ctx.get("plan") or not ctx.get("offer_id"):
        raise ActionError("the plan's account or terms are missing; handle it in the PMS")
    terms = terms_from_dict(ctx["plan"])
    offer_id = str(ctx["offer_id"])
    practice = rt.policy.practice.practice_id
    if approve:
        account = await rt.pms.get_account(patient.guarantor_id)
        balance = account.aging.patient_balance if account else None
        history = await rt.records.contact_history(patient.guarantor_id, now=rt.clock())
        problems = (
            ["no account"]
            if balance is None
            else plans.validate(terms, balance, rt.policy, _today(rt), history=history)
        )
        if problems:
            raise ActionError(
                "the plan no longer fits this account (the balance may have changed): "
                + "; ".join(p.split(":", 1)[0] for p in problems)
                + ". Offer new terms."
            )
        await rt.records.enqueue_pms_write(
            plan_write(
                terms,
                idempotency_key=f"{practice}|{patient.guarantor_id}|plan-approval|{offer_id}",
                guarantor_id=patient.guarantor_id,
                note=f"Payment plan approved by {actor} (BalanceLine offer {offer_id}).",
            ),
            conversation_id=task["conversation_id"],
        )
    await PlanDecisionStore(rt.sessions, rt.clock).decide_offer(offer_id, approve=approve)
    await rt.records.close_staff_task(task_id, actor=actor)
    await rt.records.audit(
        "console.plan_approved" if approve else "console.plan_rejected",
        patient_id=patient.patient_id,
        conversation_id=task["conversation_id"],
        detail={"task_id": task_id, "offer_id": offer_id, "plan_key": terms.plan_key},
        actor=actor,
    )
    verdict = "approved" if approve else "not approved"
    await rt.records.enqueue_pms_write(
        CommLogWrite(
            idempotency_key=f"{practice}|{patient.patient_id}|plan-decision|{offer_id}",
            patient_id=patient.patient_id,
            at=rt.clock(),
            mode="none",
            direction="neither",
            note=f"BalanceLine: payment plan ({describe_terms(terms)}) {verdict} by {actor}.",
        ),
        conversation_id=task["conversation_id"],
    )
    await rt.state.publish(
        APPROVALS, json.dumps({"event": "decided", "approval_id": task_id, "at": rt.clock().isoformat()})
    )
    return f"Plan {verdict}." + (" It is on its way to the PMS." if approve else "")

"""flag_dispute and request_financial_assistance: hand the account to staff and pause outreach.

Both set an account flag that the compliance gate treats as blocking (policy
`compliance.blocking_flags`), so telling the patient "reminders will pause" is true.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from policies.redaction import redact
from tools.base import (
    Tool,
    ToolArgs,
    comm_note,
    effect_key,
    load_account,
    patient_balance,
    plain,
    remember,
    replay,
    set_outcome,
)
from tools.context import CallerState, ToolContext, ToolResult


def _offered(state: CallerState) -> list[str]:
    return [f"{p['plan_key']}: {p['installments']} x {p['installment_amount']}" for p in state.offered_plans]


async def _open_case(
    ctx: ToolContext, state: CallerState, *, flag: str, reason: str, priority: str, summary: str, note: str
) -> str:
    assert state.guarantor_id is not None
    balance = patient_balance(await load_account(ctx, state))
    await ctx.records.set_account_flag(guarantor_id=state.guarantor_id, flag=flag, on=True, reason=reason)
    context: dict[str, Any] = {
        "reason": reason,
        "patient_balance": plain(balance),
        "channel": state.channel,
        "offered": _offered(state),
        "disclosed_balance": plain(state.disclosed_balance),
    }
    task_id = await ctx.records.create_staff_task(
        kind=flag,
        patient_id=state.patient_id,
        conversation_id=state.conversation_id,
        summary=summary,
        context=context,
        priority=priority,  # type: ignore[arg-type]
    )
    await comm_note(ctx, state, flag, note)
    set_outcome(state, flag)
    return task_id


class FlagDisputeArgs(ToolArgs):
    reason: str = Field(
        min_length=1, max_length=500, description="What the patient disputes, in their words."
    )


class FlagDispute(Tool):
    name = "flag_dispute"
    description = (
        "The verified patient disputes the balance or a charge (wrong amount, insurance should have paid, "
        "service not received). Pauses reminders and sends the account to staff for review."
    )
    Args = FlagDisputeArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: FlagDisputeArgs) -> ToolResult:
        key = effect_key(ctx, state, "dispute")
        done = replay(state, key)
        if done is not None:
            return done
        reason = redact(args.reason)
        task_id = await _open_case(
            ctx,
            state,
            flag="dispute",
            reason=reason,
            priority="high",
            summary=f"Patient disputes their balance: {reason}",
            note=f"Patient disputed the balance ({reason}). Outreach paused pending staff review.",
        )
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=(
                    "I've noted your dispute and sent it to our billing team to review. We'll pause "
                    "reminders while they look into it, and they'll get back to you."
                ),
                data={"task_id": task_id, "flag": "dispute"},
            ),
        )


class RequestFinancialAssistanceArgs(ToolArgs):
    reason: str | None = Field(
        None, max_length=500, description="The hardship in the patient's words, if given."
    )


class RequestFinancialAssistance(Tool):
    name = "request_financial_assistance"
    description = (
        "The verified patient cannot afford to pay or a plan (job loss, illness, hardship). Asks staff to "
        "review financial assistance and pauses reminders."
    )
    Args = RequestFinancialAssistanceArgs

    async def run(
        self, ctx: ToolContext, state: CallerState, args: RequestFinancialAssistanceArgs
    ) -> ToolResult:
        key = effect_key(ctx, state, "hardship")
        done = replay(state, key)
        if done is not None:
            return done
        reason = redact(args.reason) if args.reason else "not given"
        task_id = await _open_case(
            ctx,
            state,
            flag="hardship",
            reason=reason,
            priority="normal",
            summary=f"Patient asked for financial assistance: {reason}",
            note="Patient asked for financial assistance. Outreach paused pending staff review.",
        )
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=(
                    "I've asked our billing team to review financial assistance options with you. "
                    "We'll pause reminders in the meantime, and someone will contact you."
                ),
                data={"task_id": task_id, "flag": "hardship"},
            ),
        )

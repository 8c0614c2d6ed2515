"""offer_plan and accept_plan: payment plans inside the practice's policy.

Terms only ever come from `policies.plans` over the balance read from the PMS. The model can only
accept a `plan_key` offered earlier in this conversation; it can never pass amounts or terms.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from pms.types import PaymentPlanWrite
from policies import plans
from policies.types import PlanTerms
from tools.base import (
    MoneyArg,
    Tool,
    ToolArgs,
    collection_blocked,
    comm_note,
    effect_key,
    load_account,
    money,
    patient_balance,
    plain,
    recorded_phrase,
    remember,
    replay,
    say_date,
    set_outcome,
    today,
    write_to_pms,
)
from tools.context import CallerState, ToolContext, ToolResult
from tools.payment import deliver_link, make_link


def terms_to_dict(t: PlanTerms, offer_id: str | None = None) -> dict[str, Any]:
    return {
        "plan_key": t.plan_key,
        "total": plain(t.total),
        "down_payment": plain(t.down_payment),
        "installment_amount": plain(t.installment_amount),
        "installments": t.installments,
        "frequency": t.frequency,
        "first_due": plain(t.first_due),
        "needs_staff_approval": t.needs_staff_approval,
        "last_installment_amount": plain(t.last_installment_amount),
        "months": t.months,
        **({"offer_id": offer_id} if offer_id else {}),
    }


def terms_from_dict(d: dict[str, Any]) -> PlanTerms:
    last = d.get("last_installment_amount")
    return PlanTerms(
        plan_key=d["plan_key"],
        total=Decimal(d["total"]),
        down_payment=Decimal(d["down_payment"]),
        installment_amount=Decimal(d["installment_amount"]),
        installments=int(d["installments"]),
        frequency=d["frequency"],
        first_due=date.fromisoformat(d["first_due"]),
        needs_staff_approval=bool(d["needs_staff_approval"]),
        last_installment_amount=Decimal(last) if last is not None else None,
    )


def plan_write(terms: PlanTerms, *, idempotency_key: str, guarantor_id: str, note: str) -> PaymentPlanWrite:
    """The PMS write-back of agreed plan terms."""
    return PaymentPlanWrite(
        idempotency_key=idempotency_key,
        guarantor_id=guarantor_id,
        total=terms.total,
        down_payment=terms.down_payment,
        installment_amount=terms.installment_amount,
        installments=terms.installments,
        frequency=terms.frequency,
        first_due=terms.first_due,
        note=note,
    )


def describe_terms(t: PlanTerms) -> str:
    every = {"monthly": "monthly", "weekly": "weekly", "every_other_week": "every-other-week"}[t.frequency]
    s = f"{t.installments} {every} payments of {money(t.installment_amount)}"
    if t.last_installment_amount is not None and t.last_installment_amount != t.installment_amount:
        s += f" (the last one {money(t.last_installment_amount)})"
    if t.down_payment > 0:
        s = f"{money(t.down_payment)} today, then " + s
    s += f" starting {say_date(t.first_due)}"
    if t.needs_staff_approval:
        s += ", which our office needs to approve"
    return s


class OfferPlanArgs(ToolArgs):
    monthly: MoneyArg | None = Field(
        None, description="Only if the patient proposed a monthly amount they can afford; otherwise omit."
    )


class OfferPlan(Tool):
    name = "offer_plan"
    description = (
        "Get the payment-plan options the practice allows for the verified patient's balance (each has "
        "a plan_key). If the patient proposed a monthly amount, pass it as `monthly` to check it "
        "against policy."
    )
    Args = OfferPlanArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: OfferPlanArgs) -> ToolResult:
        assert state.guarantor_id is not None
        rules = ctx.policy.plans
        if not rules.enabled:
            return ToolResult.refuse(
                "plans_disabled",
                "I'm not able to set up a payment plan myself; our billing team can help with that.",
            )
        account = await load_account(ctx, state)
        if blocked := collection_blocked(account):
            return blocked
        balance = patient_balance(account)
        if balance <= 0:
            return ToolResult.refuse("no_balance", "There's nothing due right now, so no plan is needed.")
        day = today(ctx)
        history = await ctx.records.contact_history(state.guarantor_id, now=ctx.clock())
        found = plans.offer(balance, ctx.policy, day, history=history)
        allowed = list(found.options)
        if not allowed:
            minimum = ctx.policy.payments.min_partial_payment
            return ToolResult.refuse(
                "no_plan_available",
                f"For a balance of {money(balance)} I'm not able to set up a plan, "
                f"but you can pay part of it now (at least {money(minimum)}) or choose a date to pay.",
                patient_balance=plain(balance),
                reason=found.reason,
            )
        offered = allowed
        counter = ""
        if args.monthly is not None:
            proposed = plans.terms_for_monthly(balance, args.monthly, ctx.policy, day, history=history)
            if proposed is None:
                return ToolResult.refuse(
                    "outside_policy",
                    f"I'm not able to set up {money(args.monthly)} a month for this balance. "
                    "Here are the options I can offer: "
                    + "; ".join(describe_terms(t) for t in allowed)
                    + ".",
                    options=[terms_to_dict(t) for t in allowed],
                    minimum_monthly=plain(min(t.installment_amount for t in allowed)),
                )
            if proposed.installment_amount > args.monthly:
                counter = (
                    f"I can't go as low as {money(args.monthly)} a month for this balance; the lowest "
                    f"payment I can offer is {money(proposed.installment_amount)}. "
                )
            offered = [proposed]
        option_dicts = [terms_to_dict(t) for t in offered]
        offer_id = self._same_offer(state, option_dicts)
        if offer_id is None:
            offer_id = await ctx.records.record_plan_offer(
                guarantor_id=state.guarantor_id,
                conversation_id=state.conversation_id,
                balance=balance,
                options=option_dicts,
            )
        keys = {d["plan_key"] for d in option_dicts}
        state.offered_plans = [p for p in state.offered_plans if p["plan_key"] not in keys] + [
            {**d, "offer_id": offer_id} for d in option_dicts
        ]
        state.offer_id = offer_id
        lines = [f"option {t.plan_key}: {describe_terms(t)}" for t in offered]
        msg = counter + f"For your balance of {money(balance)}, "
        msg += ("I can offer " if len(offered) > 1 else "I can do ") + "; ".join(lines) + "."
        data: dict[str, Any] = {
            "offer_id": offer_id,
            "patient_balance": plain(balance),
            "options": option_dicts,
        }
        if counter:
            data["requested_monthly"] = plain(args.monthly)
        return ToolResult(ok=True, message=msg, data=data)

    @staticmethod
    def _same_offer(state: CallerState, options: list[dict[str, Any]]) -> str | None:
        """Reuse the offer already recorded in this conversation when the terms are identical."""
        current = {p["plan_key"]: p for p in state.offered_plans}
        ids = set()
        for d in options:
            prior = current.get(d["plan_key"])
            if prior is None or {k: v for k, v in prior.items() if k != "offer_id"} != d:
                return None
            ids.add(prior.get("offer_id"))
        return ids.pop() if len(ids) == 1 else None


class AcceptPlanArgs(ToolArgs):
    plan_key: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="The plan_key of an option offered in this conversation.",
    )


class AcceptPlan(Tool):
    name = "accept_plan"
    description = (
        "Set up the payment plan the verified patient chose, by the plan_key of an option offered earlier in "
        "this conversation. Never invent a key or terms."
    )
    Args = AcceptPlanArgs

    def available(self, state: CallerState) -> bool:
        return state.verified and bool(state.offered_plans)

    def schema_overrides(self, state: CallerState) -> dict[str, dict[str, Any]]:
        keys = [p["plan_key"] for p in state.offered_plans]
        return {"plan_key": {"enum": keys}} if keys else {}

    async def run(self, ctx: ToolContext, state: CallerState, args: AcceptPlanArgs) -> ToolResult:
        assert state.guarantor_id is not None
        chosen = next((p for p in reversed(state.offered_plans) if p["plan_key"] == args.plan_key), None)
        if chosen is None:
            offered = ", ".join(p["plan_key"] for p in state.offered_plans) or "none yet"
            return ToolResult.refuse(
                "not_offered",
                "I can only set up one of the options I offered in this conversation "
                f"(offered: {offered}). Let me go over the options again.",
            )
        key = effect_key(ctx, state, "plan", args.plan_key)
        done = replay(state, key)
        if done is not None:
            return done
        if state.accepted_plan_key and state.accepted_plan_key != args.plan_key:
            return ToolResult.refuse(
                "already_accepted",
                "A plan was already set up in this conversation. "
                "If it needs to change, our billing team can do that.",
            )
        terms = terms_from_dict(chosen)
        account = await load_account(ctx, state)
        if blocked := collection_blocked(account):
            return blocked
        balance = patient_balance(account)
        history = await ctx.records.contact_history(state.guarantor_id, now=ctx.clock())
        problems = plans.validate(terms, balance, ctx.policy, today(ctx), history=history)
        if problems:
            return ToolResult.refuse(
                "outside_policy",
                "That option no longer fits your current balance. Let me get you updated options.",
                problems=problems,
            )
        offer_id = chosen.get("offer_id") or state.offer_id
        assert offer_id is not None
        plan = terms_to_dict(terms)
        state.accepted_plan_key = args.plan_key
        set_outcome(state, "plan")
        if terms.needs_staff_approval:
            await ctx.records.accept_plan_offer(
                offer_id=offer_id, plan_key=args.plan_key, status="pending_approval"
            )
            task_id = await ctx.records.create_staff_task(
                kind="plan_approval",
                patient_id=state.patient_id,
                conversation_id=state.conversation_id,
                summary=f"Approve payment plan: {describe_terms(terms)} for a balance of {money(balance)}.",
                context={"plan": plan, "offer_id": offer_id, "patient_balance": plain(balance)},
            )
            await comm_note(
                ctx,
                state,
                "plan",
                f"Patient requested a payment plan pending approval: {describe_terms(terms)}.",
                args.plan_key,
            )
            return remember(
                state,
                key,
                ToolResult(
                    ok=True,
                    message=(
                        "I've sent that plan to our office for approval. They'll confirm it with you, "
                        "and nothing changes until they do."
                    ),
                    data={"status": "pending_approval", "plan": plan, "task_id": task_id},
                ),
            )
        await ctx.records.accept_plan_offer(offer_id=offer_id, plan_key=args.plan_key, status="accepted")
        await write_to_pms(
            ctx,
            state,
            plan_write(
                terms,
                idempotency_key=key,
                guarantor_id=state.guarantor_id,
                note=f"Payment plan agreed by {state.channel} (BalanceLine offer {offer_id}).",
            ),
            "payment_plan",
        )
        await comm_note(ctx, state, "plan", f"Payment plan agreed: {describe_terms(terms)}.", args.plan_key)
        first = terms.down_payment if terms.down_payment > 0 else terms.installment_amount
        msg = f"You're set: {describe_terms(terms)}. {recorded_phrase(ctx, 'payment_plan')}"
        data: dict[str, Any] = {"status": "accepted", "plan": plan}
        link = await make_link(ctx, state, min(first, balance), purpose="plan_first_payment")
        if link is not None:
            sent_msg, link_data = await deliver_link(ctx, state, link, "your first plan payment")
            msg += " " + sent_msg
            data.update(link_data)
        return remember(state, key, ToolResult(ok=True, message=msg, data=data))

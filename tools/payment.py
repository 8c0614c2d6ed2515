"""send_payment_link, take_payment and log_promise: money the patient will pay, bounded by the ledger.

Amounts are computed here from the PMS balance, the accepted plan and the policy; the model can
only choose "full", "installment", or a partial amount the patient said, which must sit between
`payments.min_partial_payment` and the balance (rule 50). Links go by SMS only to the verified
patient's own number with text consent; on SMS the reply itself carries the link.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema

from pms.types import PromiseWrite
from tools.base import (
    MoneyArg,
    Tool,
    ToolArgs,
    collection_blocked,
    comm_note,
    effect_key,
    effects_of,
    load_account,
    money,
    money_value,
    patient_balance,
    plain,
    recorded_phrase,
    remember,
    replay,
    say_date,
    set_outcome,
    today,
    verified_patient,
    write_to_pms,
)
from tools.context import CallerState, PaymentLink, PaymentLinkError, ToolContext, ToolResult
from tools.parsing import parse_promise_date


async def make_link(
    ctx: ToolContext, state: CallerState, amount: Decimal, *, purpose: str
) -> PaymentLink | None:
    """A payment link for a server-computed amount; None when no link can be made right now."""
    assert state.guarantor_id is not None
    try:
        link = await ctx.payments.create_link(
            guarantor_id=state.guarantor_id,
            amount=amount,
            purpose=purpose,
            attempt=state.links_created + 1,
            conversation_id=state.conversation_id,
        )
    except PaymentLinkError:
        return None
    state.links_created += 1
    await ctx.records.audit(
        "payment.link_created",
        patient_id=state.patient_id,
        conversation_id=state.conversation_id,
        detail={
            "amount": str(amount),
            "provider": link.provider,
            "purpose": purpose,
            "link_id": link.link_id,
        },
    )
    return link


async def deliver_link(
    ctx: ToolContext, state: CallerState, link: PaymentLink, what: str
) -> tuple[str, dict[str, Any]]:
    """Send (voice: by SMS to the verified patient's consented number) or hand back (SMS) a link.

    Returns the sentence to say and the data for the brain (`sent`, and the URL when it may be shown).
    """
    data: dict[str, Any] = {
        "amount": plain(link.amount),
        "provider": link.provider,
        "expires_at": plain(link.expires_at),
    }
    practice = ctx.policy.practice.name
    if link.provider == "portal":
        how = (
            f"You can pay on our secure portal at {link.url}; it will ask for your account details. "
            f"Enter {money(link.amount)} as the amount."
        )
        text = (
            f"{practice}: you can pay {money(link.amount)} for {what} on our secure portal: {link.url} "
            "(it will ask for your account details). Reply STOP to opt out."
        )
    else:
        how = f"Here's your secure payment link for {money(link.amount)}: {link.url}"
        text = (
            f"{practice}: your secure link to pay {money(link.amount)} for {what}: {link.url} "
            "Reply STOP to opt out."
        )
    if ctx.messenger is None:
        data.update(payment_url=link.url, sent=False, delivery="reply")
        return how, data
    patient = await verified_patient(ctx, state)
    consented = [
        c for c in (patient.phones if patient else ()) if c.sms_consent == "yes" and c.kind == "mobile"
    ]
    consented.sort(key=lambda c: (c.value != state.contact, not c.is_preferred))
    if not consented:
        data.update(sent=False, delivery="none")
        if link.provider == "portal":
            data["payment_url"] = link.url
            return "I don't have a mobile number on file that we may text. " + how, data
        return (
            "I don't have a mobile number on file that we may text, so I can't send a payment link. "
            "Our billing team can take a payment by phone.",
            data,
        )
    to = consented[0].value
    result = await ctx.messenger.send_sms(
        patient_id=state.patient_id, to=to, body=text, purpose="payment_link"
    )
    data.update(sent=result.sent, delivery="sms", send_reason=result.reason, to_last4=to[-4:])
    if not result.sent:
        return (
            "I wasn't able to text the payment link just now. Our billing team can help you pay by phone.",
            data,
        )
    where = (
        "our secure portal link" if link.provider == "portal" else f"a secure link for {money(link.amount)}"
    )
    return f"I've texted {where} to your number ending in {to[-4:]}.", data


def _link_amount(value: Any) -> Literal["full", "installment"] | Decimal:
    if isinstance(value, str) and value.strip().lower() in ("full", "installment"):
        return value.strip().lower()  # type: ignore[return-value]
    return money_value(value)


LinkAmount = Annotated[
    Literal["full", "installment"] | Decimal,
    PlainValidator(_link_amount),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "enum": ["full", "installment"]}, {"type": ["number", "string"]}],
            "description": '"full" (the whole balance), "installment" (the plan payment), or a dollar amount '
            "the patient chose to pay now.",
        }
    ),
]


class SendPaymentLinkArgs(ToolArgs):
    amount: LinkAmount = "full"


class SendPaymentLink(Tool):
    name = "send_payment_link"
    description = (
        "Create a secure payment link for the verified patient and send it (by text on a call, in the "
        "reply on SMS). The amount is computed from the practice system: the full balance, the plan "
        "installment, or a partial amount the patient chose. Card numbers are never taken in conversation."
    )
    Args = SendPaymentLinkArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: SendPaymentLinkArgs) -> ToolResult:
        chosen = await choose_amount(ctx, state, args.amount)
        if isinstance(chosen, ToolResult):
            return chosen
        amount, what, plan = chosen
        key = effect_key(ctx, state, "link", amount)
        done = replay(state, key)
        if done is not None:
            return done
        purpose = "plan_first_payment" if plan is not None else "balance_payment"
        return await link_by_text(ctx, state, key, amount, what, purpose)


async def link_by_text(
    ctx: ToolContext, state: CallerState, key: str, amount: Decimal, what: str, purpose: str, lead: str = ""
) -> ToolResult:
    """Make a link for a server-computed amount and text it (voice) or hand it back (SMS)."""
    link = await make_link(ctx, state, amount, purpose=purpose)
    if link is None:
        return ToolResult.refuse(
            "payments_unavailable",
            lead + "I can't create a payment link right now. Our billing team can take a "
            "payment by phone, or I can have them call you.",
        )
    msg, data = await deliver_link(ctx, state, link, what)
    if data.get("delivery") != "none" and (data.get("sent") or data.get("delivery") == "reply"):
        set_outcome(state, "link_sent")
        return remember(state, key, ToolResult(ok=True, message=lead + msg, data=data))
    return ToolResult.refuse("not_sent", lead + msg, **data)


async def choose_amount(
    ctx: ToolContext, state: CallerState, wanted: Literal["full", "installment"] | Decimal
) -> tuple[Decimal, str, dict[str, Any] | None] | ToolResult:
    """(amount, what it is for, the plan it starts or None) from the ledger and policy, or a refusal.

    "installment" is the first payment of a plan accepted in this conversation (its down payment, or
    its first installment; the card is then saved for the rest), else the active PMS plan's payment.
    """
    assert state.guarantor_id is not None
    account = await load_account(ctx, state)
    if blocked := collection_blocked(account):
        return blocked
    balance = patient_balance(account)
    if balance <= 0:
        return ToolResult.refuse("no_balance", "There's nothing due right now, so there's nothing to pay.")
    minimum = ctx.policy.payments.min_partial_payment
    if isinstance(wanted, Decimal):
        if wanted > balance:
            return ToolResult.refuse(
                "above_balance",
                f"That's more than your balance of {money(balance)}. I can take the full balance instead.",
                patient_balance=plain(balance),
            )
        if wanted < minimum and wanted != balance:
            return ToolResult.refuse(
                "below_minimum",
                f"The smallest payment I can take is {money(minimum)}.",
                minimum=plain(minimum),
            )
        return wanted, "a payment on your balance", None
    if wanted == "installment":
        accepted = accepted_plan(state)
        if accepted is not None:
            down = Decimal(accepted["down_payment"])
            first = down if down > 0 else Decimal(accepted["installment_amount"])
            return min(first, balance), "your first plan payment", accepted
        installment = await _active_installment(ctx, state)
        if installment is None:
            return ToolResult.refuse(
                "no_plan",
                "You don't have a payment plan set up yet. I can take the full balance "
                "or part of it, or go over plan options.",
            )
        return min(installment, balance), "your plan payment", None
    return balance, "your balance", None


def accepted_plan(state: CallerState) -> dict[str, Any] | None:
    """The plan terms accepted in this conversation (not one waiting for staff approval)."""
    if not state.accepted_plan_key:
        return None
    for p in reversed(state.offered_plans):
        if p["plan_key"] == state.accepted_plan_key and not p.get("needs_staff_approval"):
            return p
    return None


async def _active_installment(ctx: ToolContext, state: CallerState) -> Decimal | None:
    assert state.guarantor_id is not None
    for plan in await ctx.pms.get_payment_plans(state.guarantor_id):
        if plan.status in ("active", "past_due"):
            return plan.installment_amount
    return None


class TakePaymentArgs(ToolArgs):
    amount: LinkAmount = "full"


KEYPAD_MESSAGE = (
    "I'll pass you to our secure keypad payment for {amount}. Please type your card number on your "
    "phone's keypad when asked; don't say it out loud. I won't hear or see your card details, and "
    "I'll be right back with you afterwards."
)
NO_KEYPAD_LEAD = "I can't take a card payment over the phone right now, so I'll use a secure link instead. "


class TakePayment(Tool):
    name = "take_payment"
    description = (
        "Take a card payment now from the verified caller, on the phone keypad through the secure payment "
        "system (card digits never reach you). The amount comes from the practice system: the full balance, "
        'the plan payment ("installment"; the first payment of a plan just agreed saves the card for the '
        "rest), or a partial amount the patient chose. Where keypad payment is not available it texts a "
        "secure payment link instead."
    )
    Args = TakePaymentArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: TakePaymentArgs) -> ToolResult:
        assert state.guarantor_id is not None
        chosen = await choose_amount(ctx, state, args.amount)
        if isinstance(chosen, ToolResult):
            return chosen
        amount, what, plan = chosen
        purpose = "plan_first_payment" if plan is not None else "balance_payment"
        capture = ctx.card_capture
        if capture is None or state.channel != "voice" or not state.call_sid:
            key = effect_key(ctx, state, "link", amount)
            done = replay(state, key)
            if done is not None:
                return done
            lead = NO_KEYPAD_LEAD if state.channel == "voice" else ""
            return await link_by_text(ctx, state, key, amount, what, purpose, lead)
        key = effect_key(ctx, state, "pay", amount)
        done = replay(state, key)
        if done is not None and state.pending_handoff == "pay":
            return done
        request = await capture.request(
            call_sid=state.call_sid,
            direction=state.call_direction,
            conversation_id=state.conversation_id,
            guarantor_id=state.guarantor_id,
            patient_id=state.patient_id,
            amount=amount,
            purpose=purpose,
            plan=plan,
        )
        state.pending_handoff = "pay"
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=KEYPAD_MESSAGE.format(amount=money(request.amount)),
                data={
                    "handoff": "pay",
                    "handoff_id": request.handoff_id,
                    "amount": plain(request.amount),
                    "saves_card_for_plan": request.reusable,
                },
            ),
        )


class LogPromiseArgs(ToolArgs):
    amount: MoneyArg = Field(description="The amount the patient says they will pay.")
    date: str = Field(
        min_length=1,
        max_length=60,
        description='When they will pay, as they said it: "next friday", "the 15th", "12/5", "2025-06-01".',
    )


class LogPromise(Tool):
    name = "log_promise"
    description = (
        "Record the verified patient's promise to pay an amount by a date. The amount must be within the "
        "balance and the date within the practice's limit."
    )
    Args = LogPromiseArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: LogPromiseArgs) -> ToolResult:
        assert state.guarantor_id is not None
        account = await load_account(ctx, state)
        if blocked := collection_blocked(account):
            return blocked
        balance = patient_balance(account)
        if balance <= 0:
            return ToolResult.refuse("no_balance", "There's nothing due right now.")
        rules = ctx.policy.payments
        if args.amount > balance:
            return ToolResult.refuse(
                "above_balance",
                f"That's more than your balance of {money(balance)}.",
                patient_balance=plain(balance),
            )
        if args.amount < rules.min_partial_payment and args.amount != balance:
            return ToolResult.refuse(
                "below_minimum",
                f"The smallest payment I can note is {money(rules.min_partial_payment)}.",
                minimum=plain(rules.min_partial_payment),
            )
        day = today(ctx)
        due = parse_promise_date(args.date, day)
        if due is None:
            return ToolResult.refuse(
                "unclear_date", "What date will you make that payment? For example, next Friday or the 15th."
            )
        latest = day + timedelta(days=rules.promise_max_days_out)
        if due < day:
            return ToolResult.refuse("date_in_past", "That date has already passed. What date will you pay?")
        if due > latest:
            return ToolResult.refuse(
                "too_far_out",
                f"I can note a payment date up to {say_date(latest)}. Would a date before then "
                "work, or would you like to hear about a payment plan?",
                latest=plain(latest),
            )
        key = effect_key(ctx, state, "promise", args.amount, due)
        done = replay(state, key)
        if done is not None:
            return done
        if effects_of(state, "promise"):
            return ToolResult.refuse(
                "already_promised",
                "I've already noted a payment date in this conversation. If it needs to "
                "change, I can connect you with our billing team.",
            )
        promise_id = await ctx.records.record_promise(
            guarantor_id=state.guarantor_id,
            amount=args.amount,
            due_on=due,
            conversation_id=state.conversation_id,
            channel=state.channel,
        )
        await write_to_pms(
            ctx,
            state,
            PromiseWrite(
                idempotency_key=key,
                guarantor_id=state.guarantor_id,
                amount=args.amount,
                due_on=due,
                note=f"Promise to pay taken by {state.channel} (BalanceLine).",
            ),
            "promise",
        )
        await comm_note(
            ctx,
            state,
            "promise",
            f"Patient promised to pay {money(args.amount)} by {due.isoformat()}.",
            args.amount,
            due,
        )
        set_outcome(state, "promise")
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=f"Thank you. You'll pay {money(args.amount)} by {say_date(due)}. "
                f"{recorded_phrase(ctx, 'promise')}",
                data={"promise_id": promise_id, "amount": plain(args.amount), "due_on": plain(due)},
            ),
        )

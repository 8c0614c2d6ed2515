"""The rules brain's money flows (verified callers only): balance, charges, plans, links, promises,
disputes and hardship. Every amount and date said comes from a tool result's `data`."""

from __future__ import annotations

import re
from typing import Any

from agent.brains.intents import Intent, Reading
from agent.brains.phrases import to_decimal
from agent.brains.rules_turn import RulesTurn
from tools.context import ToolResult

_DATE_REFUSALS = frozenset({"unclear_date", "date_in_past", "too_far_out"})
_AMOUNT_REFUSALS = frozenset({"above_balance", "below_minimum"})


def refused(t: RulesTurn, result: ToolResult) -> None:
    """Relay a refusal; a verification refusal turns into the identity question."""
    if result.refused == "not_verified":
        t.ask("identity_request", "identity")
    elif result.refused == "locked_out":
        t.say("locked_out")
        t.ask("offer_transfer", "offer_transfer")
    else:
        t.relay(result)


async def balance(t: RulesTurn, r: Reading) -> None:
    result = await t.call("lookup_balance")
    if not result.ok:
        return refused(t, result)
    amount = to_decimal(result.data.get("patient_balance"))
    if t.policy.disclosures.mini_miranda and not t.mem.get("miranda_given"):
        t.say("mini_miranda")
        t.mem["miranda_given"] = True
    if amount is None or amount <= 0:
        t.relay(result)
        t.ask("anything_else", "anything_else")
        return
    t.say("balance", amount=t.book.money(amount))
    t.ask("balance_next", "after_balance")


async def explain(t: RulesTurn, r: Reading) -> None:
    result = await t.call("explain_charges")
    if not result.ok:
        return refused(t, result)
    if result.data.get("charges"):
        t.say("explain_intro")
    t.relay(result)
    amount = to_decimal(result.data.get("patient_balance"))
    if amount is not None and amount > 0:
        t.ask("balance_next", "after_balance")
    else:
        t.ask("anything_else", "anything_else")


async def offer_plan(t: RulesTurn, r: Reading) -> None:
    result = await t.call("offer_plan", monthly=r.amount)
    options = result.data.get("options") or []
    if not result.ok and result.refused == "outside_policy" and options:
        t.say(
            "plan_monthly_too_low",
            amount=t.book.money(_amount_of(r.amount, result)),
            minimum=t.book.money(result.data.get("minimum_monthly")),
        )
    elif not result.ok:
        return refused(t, result)
    elif result.data.get("requested_monthly") is not None and options:
        # the tool raised the patient's monthly amount to the lowest the policy allows: say so
        t.say(
            "plan_monthly_too_low",
            amount=t.book.money(result.data["requested_monthly"]),
            minimum=t.book.money(options[0]["installment_amount"]),
        )
    t.mem["plan_options"] = [_option(o) for o in options]
    if len(options) == 1:
        o = options[0]
        t.ask(
            "plan_option_single",
            "plan_choice",
            installment=t.book.money(o["installment_amount"]),
            frequency=t.book.frequency(o["frequency"]),
            count=o["installments"],
        )
        return
    listed = [
        t.book.line(
            "plan_option",
            number=i,
            installment=t.book.money(o["installment_amount"]),
            frequency=t.book.frequency(o["frequency"]),
            count=o["installments"],
        )
        for i, o in enumerate(options, 1)
    ]
    joined = "\n".join(listed) if not t.voice else "; ".join(listed[:-1]) + f"; or {listed[-1]}"
    t.ask("plan_options", "plan_choice", options=joined)


def _amount_of(span: str | None, result: ToolResult) -> Any:
    from tools.parsing import parse_amount

    return parse_amount(span) if span else result.data.get("minimum_monthly")


def _option(o: dict[str, Any]) -> dict[str, Any]:
    return {k: o.get(k) for k in ("plan_key", "installment_amount", "installments", "frequency", "months")}


async def choose_plan(t: RulesTurn, r: Reading) -> None:
    """The caller answered the plan offer: "yes", "2", "the second one", "6 months"."""
    options: list[dict[str, Any]] = t.mem.get("plan_options") or [_option(o) for o in t.state.offered_plans]
    chosen: dict[str, Any] | None = None
    if r.intent == Intent.YES and options and (len(options) == 1 or not t.voice):
        chosen = options[
            0
        ]  # by text, "YES" takes the recommended option (listed first: "Reply YES for option 1")
    elif r.choice is not None and options:
        index = len(options) - 1 if r.choice == -1 else r.choice - 1
        chosen = options[index] if 0 <= index < len(options) else None
    elif r.months is not None:
        chosen = next((o for o in options if r.months in (o.get("months"), o.get("installments"))), None)
    if chosen is None:
        if not options:
            return await offer_plan(t, r)
        numbers = ", ".join(str(i) for i in range(1, len(options) + 1))
        t.ask("plan_choose_which", "plan_choice", numbers=numbers)
        return
    result = await t.call("accept_plan", plan_key=chosen["plan_key"])
    if not result.ok:
        if result.refused in ("outside_policy", "not_offered"):
            t.relay(result)
            return await offer_plan(t, Reading(Intent.PLAN))
        return refused(t, result)
    t.mem.pop("plan_options", None)
    link = _link_kind(t, result.data)
    if result.data.get("status") == "pending_approval":
        t.say("plan_pending_approval")
    elif "delivery" in result.data and link is None:
        t.relay(result)  # the plan, plus why the first-payment link could not go out as usual
    else:
        plan = result.data.get("plan") or chosen
        t.say(
            "plan_accepted",
            installment=t.book.money(plan.get("installment_amount")),
            frequency=t.book.frequency(plan.get("frequency")),
            count=plan.get("installments"),
            first_due=t.book.day(plan.get("first_due")),
        )
        if link is not None:
            t.say("plan_link", url=result.data.get("payment_url", ""))
    t.ask("anything_else", "anything_else")


def _link_kind(t: RulesTurn, data: dict[str, Any]) -> str | None:
    """ "reply" (the link goes in this SMS), "sent" (texted during a call), or None (anything else:
    portal instructions, no consented number, a failed send) where the tool's own words are relayed."""
    if data.get("provider") == "portal":
        return None
    if data.get("delivery") == "reply" and data.get("payment_url") and not t.voice:
        return "reply"
    if data.get("delivery") == "sms" and data.get("sent"):
        return "sent"
    return None


_WANTS_LINK = re.compile(r"\b(?:link|text|txt|sms|e-?mail|online|website|portal)\b", re.I)


async def pay(t: RulesTurn, r: Reading) -> None:
    """On a call: the keypad hand-off (`take_payment`, which itself falls back to a texted link where
    keypad capture is unavailable) unless the caller asks for a link; by text: a link."""
    amount = r.amount if r.amount and not r.full else "full"
    if t.voice and not (r.link or _WANTS_LINK.search(t.text)):
        result = await t.call("take_payment", amount=amount)
        if not result.ok:
            return refused(t, result)
        t.relay(result)  # keypad instructions, or the truthful "can't take a card by phone" + link
        if result.data.get("handoff") != "pay":  # the stream closes after the keypad instructions
            t.ask("anything_else", "anything_else")
        return
    result = await t.call("send_payment_link", amount=amount)
    if not result.ok:
        return refused(t, result)
    if _link_kind(t, result.data) is None:
        t.relay(result)
    else:
        paid = t.book.money(result.data.get("amount"))
        t.say("link_sent", amount=paid, url=result.data.get("payment_url", ""))
    t.ask("anything_else", "anything_else")


async def promise(t: RulesTurn, r: Reading) -> None:
    """Collect amount and date (over several turns if needed), then log_promise."""
    held: dict[str, Any] = t.mem.setdefault("promise", {})
    if r.amount and not r.full:
        held["amount"] = r.amount
    elif r.full:
        held["amount"] = None
        held["full"] = True
    if r.date:
        held["date"] = r.date
    if held.get("full") and not held.get("amount"):
        known = t.state.disclosed_balance
        if known is None:
            looked = await t.call("lookup_balance")
            known = to_decimal(looked.data.get("patient_balance")) if looked.ok else None
            if not looked.ok:
                return refused(t, looked)
        held["amount"] = str(known) if known is not None and known > 0 else None
    if not held.get("amount"):
        t.ask("promise_need_amount", "promise", date=held.get("date"))
        return
    if not held.get("date"):
        t.ask("promise_need_date", "promise")
        return
    result = await t.call("log_promise", amount=held["amount"], date=held["date"])
    if result.ok:
        t.mem.pop("promise", None)
        t.say(
            "promise_confirmed",
            amount=t.book.money(result.data.get("amount")),
            date=t.book.day(result.data.get("due_on")),
        )
        t.ask("anything_else", "anything_else")
        return
    if result.refused in _DATE_REFUSALS:
        held.pop("date", None)
    elif result.refused in _AMOUNT_REFUSALS:
        held.pop("amount", None)
        held.pop("full", None)
    else:
        t.mem.pop("promise", None)
        return refused(t, result)
    t.relay(result)
    t.expect("promise")


async def dispute(t: RulesTurn, r: Reading) -> None:
    result = await t.call("flag_dispute", reason=reason(t.text, "Patient disputes the balance"))
    if not result.ok:
        return refused(t, result)
    t.say("dispute_ack")
    t.ask("anything_else", "anything_else")


async def hardship(t: RulesTurn, r: Reading) -> None:
    result = await t.call("request_financial_assistance", reason=reason(t.text, "Patient reports hardship"))
    if not result.ok:
        return refused(t, result)
    t.say("hardship_ack")
    t.ask("anything_else", "anything_else")


def reason(text: str, default: str) -> str:
    """The patient's own words (already free of card numbers upstream), trimmed for a staff note."""
    words = " ".join(text.split())[:280]
    return words or default


MONEY_FLOWS = {
    Intent.BALANCE: balance,
    Intent.EXPLAIN: explain,
    Intent.PLAN: offer_plan,
    Intent.PAY: pay,
    Intent.PROMISE: promise,
    Intent.DISPUTE: dispute,
    Intent.HARDSHIP: hardship,
}

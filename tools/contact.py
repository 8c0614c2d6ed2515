"""opt_out, transfer_to_human, schedule_callback, end_conversation: usable by anyone.

None of these need verification, so none of their messages to an unverified person may say anything
about a debt: no amounts and no "balance", "bill", "owe", "account" or "payment" (rules 28-29).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from pms.types import ContactPreferenceWrite
from policies.redaction import redact
from policies.types import SuppressionScope
from tools.base import (
    Tool,
    ToolArgs,
    comm_note,
    effect_key,
    effects_of,
    load_account,
    money,
    now_local,
    patient_balance,
    plain,
    remember,
    replay,
    say_date,
    set_outcome,
    verified_patient,
    write_to_pms,
)
from tools.context import CallerState, ToolContext, ToolResult
from tools.parsing import parse_callback_time

CALLBACK_MAX_DAYS = 30
_ASAP = re.compile(r"\b(asap|soon|now|any ?time|whenever|right away|today)\b", re.I)


class OptOutArgs(ToolArgs):
    channel: Literal["all", "sms", "voice", "email"] = Field(
        "all", description='What the person wants to stop: "all", "sms" (texts), "voice" (calls) or "email".'
    )


class OptOut(Tool):
    name = "opt_out"
    description = (
        "The person asks us to stop contacting them (stop calling, stop texting, unsubscribe). "
        "Anyone may opt out the number they are using; no verification needed. "
        "Do not try to talk them out of it."
    )
    Args = OptOutArgs
    requires_verification = False

    async def run(self, ctx: ToolContext, state: CallerState, args: OptOutArgs) -> ToolResult:
        key = effect_key(ctx, state, "opt_out", args.channel)
        done = replay(state, key)
        if done is not None:
            return done
        contact_is_email = bool(state.contact and "@" in state.contact)
        wrong_medium = args.channel != "all" and (args.channel == "email") != contact_is_email
        if not state.verified and (state.contact is None or wrong_medium):
            return ToolResult.refuse(
                "needs_verification",
                "I can stop contact at the number or address you're using now. For anything else I'd "
                "first need to confirm who you are, or our office can help.",
            )
        scope = SuppressionScope(args.channel)
        source = f"{state.channel}:opt_out_tool"
        if state.contact:
            await ctx.records.add_suppression(
                patient_id=state.patient_id if state.verified else None,
                value=state.contact,
                scope=scope,
                reason="opt_out",
                source=source,
            )
        if state.verified and state.patient_id:
            await ctx.records.add_suppression(
                patient_id=state.patient_id, value=None, scope=scope, reason="opt_out", source=source
            )
            await write_to_pms(
                ctx,
                state,
                ContactPreferenceWrite(
                    idempotency_key=key,
                    patient_id=state.patient_id,
                    sms_ok=False if args.channel in ("all", "sms") else None,
                    do_not_call=True if args.channel in ("all", "voice") else None,
                    email_ok=False if args.channel in ("all", "email") else None,
                    note=f"Patient opted out ({args.channel}) by {state.channel} (BalanceLine).",
                ),
                "contact_preferences",
            )
            await comm_note(
                ctx, state, "opt_out", f"Patient opted out of {args.channel} contact.", args.channel
            )
        set_outcome(state, "opt_out")
        what = {
            "all": "automated calls or texts",
            "sms": "texts",
            "voice": "automated calls",
            "email": "emails",
        }
        where = "" if state.verified else (" at this address" if contact_is_email else " at this number")
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=f"Done. You won't get any more {what[args.channel]} from us{where}.",
                data={"channel": args.channel, "scope": "patient" if state.verified else "contact"},
            ),
        )


class TransferArgs(ToolArgs):
    reason: str = Field(min_length=1, max_length=300, description="Why they want a person, in their words.")
    ask: str | None = Field(
        None, max_length=300, description="What they want the staff member to do, if said."
    )


class TransferToHuman(Tool):
    name = "transfer_to_human"
    description = (
        "Hand the conversation to a staff member (the person asks for a human, is upset, or needs something "
        "the tools can't do). Writes a context card for the staff member. No verification needed."
    )
    Args = TransferArgs
    requires_verification = False

    async def run(self, ctx: ToolContext, state: CallerState, args: TransferArgs) -> ToolResult:
        key = effect_key(ctx, state, "transfer")
        done = replay(state, key)
        if done is not None:
            return done
        card = await self._card(ctx, state, redact(args.reason), redact(args.ask) if args.ask else None)
        live = ctx.policy.transfer.staff_number is not None and state.channel == "voice"
        task_id = await ctx.records.create_staff_task(
            kind="transfer",
            patient_id=card["patient_id"],
            conversation_id=state.conversation_id,
            summary=card["summary"],
            context=card,
            priority="high" if state.locked_out or state.third_party else "normal",
        )
        team = "our billing team" if state.verified else "someone at our office"
        if live:
            set_outcome(state, "transfer")
            msg = f"I'll connect you with {team} now."
        else:
            await ctx.records.schedule_callback(
                patient_id=card["patient_id"],
                contact=state.contact,
                at=None,
                reason=f"transfer requested: {card['objection']}",
                conversation_id=state.conversation_id,
            )
            set_outcome(state, "callback")
            msg = f"I've passed your request to {team}, and they'll get back to you during office hours."
        if state.verified:
            await comm_note(ctx, state, "transfer", f"Patient asked for staff: {card['objection']}")
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=msg,
                data={
                    "transfer_id": task_id,
                    "live": live,
                    "staff_number": ctx.policy.transfer.staff_number if live else None,
                },
            ),
        )

    @staticmethod
    async def _card(ctx: ToolContext, state: CallerState, objection: str, ask: str | None) -> dict[str, Any]:
        """The warm-transfer card: who (only if verified), verified?, balance, offered, objection, ask,
        summary."""
        name = balance = None
        offered: list[str] = []
        if state.verified:
            patient = await verified_patient(ctx, state)
            name = patient.name if patient else None
            balance = patient_balance(await load_account(ctx, state))
            offered = [
                f"{p['installments']} {p['frequency']} payments of ${p['installment_amount']}"
                + (" (accepted)" if p["plan_key"] == state.accepted_plan_key else "")
                for p in state.offered_plans
            ]
        if state.verified:
            owes = money(balance) if balance is not None else "an unknown amount"
            summary = f"{name or 'The patient'} (verified) owes {owes}"
            summary += f" and was offered {'; '.join(offered)}." if offered else "."
        else:
            who = "Unverified caller"
            if state.locked_out:
                who += " (identity check locked out)"
            elif state.third_party:
                who += " (says they are calling for someone else)"
            summary = who + "."
        summary += f" Wants a person because: {objection}"
        if ask:
            summary += f"; asks: {ask}"
        return {
            "verified": state.verified,
            "patient_id": state.patient_id if state.verified else None,
            "name": name,
            "balance": plain(balance),
            "offered": offered,
            "objection": objection,
            "ask": ask,
            "summary": summary,
            "channel": state.channel,
            "contact": state.contact,
            "locked_out": state.locked_out,
            "third_party": state.third_party,
            "outcome_so_far": state.outcome,
        }


class ScheduleCallbackArgs(ToolArgs):
    when: str | None = Field(None, max_length=80, description='When to call back, as said: "tomorrow at 3".')
    reason: str | None = Field(None, max_length=300, description="What the call back is about, if said.")


class ScheduleCallback(Tool):
    name = "schedule_callback"
    description = (
        "Arrange for someone from the office to call the person back, optionally at a time they choose. "
        "No verification needed (use it for anyone who is not the patient, too)."
    )
    Args = ScheduleCallbackArgs
    requires_verification = False

    async def run(self, ctx: ToolContext, state: CallerState, args: ScheduleCallbackArgs) -> ToolResult:
        now = now_local(ctx)
        at = None
        if args.when and not _ASAP.search(args.when):
            at = parse_callback_time(args.when, now)
            if at is None:
                return ToolResult.refuse("unclear_time", "What day and time would be best for a call back?")
            window = ctx.policy.compliance
            if at <= now or at > now + timedelta(days=CALLBACK_MAX_DAYS):
                return ToolResult.refuse(
                    "outside_range",
                    f"I can set a call back within the next {CALLBACK_MAX_DAYS} days. What time works?",
                )
            if not window.window_start <= at.time() < window.window_end:
                return ToolResult.refuse(
                    "outside_hours",
                    f"We can call between {_clock(window.window_start)} and "
                    f"{_clock(window.window_end)}. What time in that window works?",
                )
        if state.contact is None and not state.verified:
            return ToolResult.refuse("no_contact", "I don't have a number to call you back on.")
        key = effect_key(ctx, state, "callback", at.isoformat() if at else "asap")
        done = replay(state, key)
        if done is not None:
            return done
        if effects_of(state, "callback"):
            return ToolResult.refuse(
                "already_scheduled", "A call back is already arranged from this conversation."
            )
        reason = redact(args.reason) if args.reason else "call back requested"
        if state.third_party:
            reason = "third party asked for a call back; speak only with the patient"
        callback_id = await ctx.records.schedule_callback(
            patient_id=state.patient_id if state.verified else None,
            contact=state.contact,
            at=at,
            reason=reason,
            conversation_id=state.conversation_id,
        )
        if state.verified:
            when = f"at {at.isoformat()}" if at else "as soon as possible"
            await comm_note(ctx, state, "callback", f"Call back requested {when}.")
        set_outcome(state, "callback")
        if at:
            msg = f"Okay, we'll call you back on {say_date(at.date())} at {_clock(at.time())}."
        else:
            msg = (
                "Okay, someone from our office will call you back during office hours "
                f"({ctx.policy.practice.office_hours})."
            )
        return remember(
            state,
            key,
            ToolResult(
                ok=True,
                message=msg,
                data={"callback_id": callback_id, "at": plain(at)},
            ),
        )


def _clock(t: Any) -> str:
    hour = t.hour % 12 or 12
    suffix = "a.m." if t.hour < 12 else "p.m."
    return f"{hour}:{t.minute:02d} {suffix}" if t.minute else f"{hour} {suffix}"


class EndConversationArgs(ToolArgs):
    outcome: Literal["info", "wrong_party", "no_contact", "none"] | None = Field(
        None, description="Only if nothing else was agreed: info, wrong_party, no_contact or none."
    )


class EndConversation(Tool):
    name = "end_conversation"
    description = (
        "End the conversation after saying goodbye. Outcomes like a plan or promise are already recorded."
    )
    Args = EndConversationArgs
    requires_verification = False

    async def run(self, ctx: ToolContext, state: CallerState, args: EndConversationArgs) -> ToolResult:
        if args.outcome:
            set_outcome(state, args.outcome)
        state.ended = True
        return ToolResult(ok=True, message="Goodbye.", data={"outcome": state.outcome})

"""What the LLM is sent, and how its streamed tool calls are put back together.

Minimum necessary: the transcript is redacted (card numbers) and dates of birth are replaced by
`DOB_MASK`; tool results go back as JSON of `ok`, `message`, `data` and `refused` (tools keep
`data` safe to show the model); the account context note carries only the verification state,
the balance already disclosed and the plan options on offer (their keys are needed to accept one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from agent.brains.guard import amounts_in
from agent.brains.phrases import channel_of, pretty_phone
from agent.brains.rules_turn import DOB_MASK
from agent.brains.slots import find_dob
from agent.conversation import Conversation
from policies.config import PracticePolicy
from policies.redaction import redact
from prompts.loader import system_prompt
from tools.context import ToolResult

HISTORY_TURNS = 30
_SHARED_DOB_TOKEN = re.compile(r"\[dob\]", re.I)


def mask(text: str, today: date) -> str:
    """Dates of birth (as `DOB_MASK`), card numbers and other identifiers out of text bound for the model."""
    for _ in range(3):  # a turn may hold more than one date of birth
        span = find_dob(text, today)
        if not span:
            break
        text = text.replace(span, DOB_MASK)
    return _SHARED_DOB_TOKEN.sub(DOB_MASK, redact(text))


def system(conversation: Conversation, policy: PracticePolicy, today: date) -> dict[str, Any]:
    p = policy.practice
    text = system_prompt(
        practice=p.name,
        phone=pretty_phone(p.callback_number),
        office_hours=p.office_hours,
        channel=channel_of(conversation),
        today=f"{today.strftime('%A, %B')} {today.day}, {today.year}",
        verified=conversation.state.verified,
        min_monthly=f"${policy.plans.min_monthly:,.2f}",
        mask_token=DOB_MASK,
    )
    return {"role": "system", "content": text + "\n\n" + _context(conversation)}


def _context(conversation: Conversation) -> str:
    s = conversation.state
    lines = [f"Account context: conversation by {s.channel}, {conversation.direction}."]
    if s.locked_out:
        lines.append("Identity verification is locked out: offer a transfer or a call back only.")
    elif not s.verified:
        lines.append("The person is not verified yet.")
    else:
        lines.append("The person is verified.")
        if s.disclosed_balance is not None:
            lines.append(f"Balance already told to them: ${s.disclosed_balance:,.2f}.")
        for o in s.offered_plans:
            lines.append(
                f"Plan on offer: plan_key={o.get('plan_key')}, {o.get('installments')} {o.get('frequency')} "
                f"payments of ${o.get('installment_amount')}, first due {o.get('first_due')}."
            )
        if s.accepted_plan_key:
            lines.append(f"Accepted plan: {s.accepted_plan_key}.")
    if s.third_party:
        lines.append("The person said they are not the patient: say nothing about why we are in touch.")
    return "\n".join(lines)


def build(conversation: Conversation, policy: PracticePolicy, text: str, today: date) -> list[dict[str, Any]]:
    """System message, the transcript so far, then this turn (all masked)."""
    turns = list(conversation.turns)
    if turns and turns[-1].speaker == "patient":
        turns = turns[:-1]  # the turn engine adds this turn to the transcript before asking the brain
    messages: list[dict[str, Any]] = [system(conversation, policy, today)]
    for turn in turns[-HISTORY_TURNS:]:
        role = "user" if turn.speaker == "patient" else "assistant"
        messages.append({"role": role, "content": mask(turn.text, today)})
    messages.append({"role": "user", "content": mask(text, today)})
    return messages


def known_amounts(conversation: Conversation, policy: PracticePolicy, text: str) -> set[Decimal]:
    """Amounts the model may repeat: earlier tool results, the patient's own words, policy figures."""
    allowed: set[Decimal] = set()
    for call in conversation.tool_calls:
        allowed |= amounts_in(call.result)
    for turn in conversation.turns:
        if turn.speaker == "patient":
            allowed |= amounts_in(turn.text)
    allowed |= amounts_in(text)
    if conversation.state.disclosed_balance is not None:
        allowed.add(abs(conversation.state.disclosed_balance).quantize(Decimal("0.01")))
    for plan in conversation.state.offered_plans:
        allowed |= amounts_in(plan)
    allowed |= {policy.plans.min_monthly, policy.payments.min_partial_payment}
    return {a.quantize(Decimal("0.01")) for a in allowed}


DOB_HELD_TURNS = 2  # a date of birth waits at most this many further turns for the name


def hold_dob(mem: dict[str, Any], text: str, today: date, *, verified: bool) -> str | None:
    """The date of birth said this turn, or one said in the last `DOB_HELD_TURNS` turns.

    It is kept in conversation memory (persisted) only until `verify_identity` uses it, the caller
    is verified, or it goes stale, so a stray date of birth is not stored with the conversation.
    """
    held = mem.get("dob")
    if verified or not isinstance(held, dict) or int(held.get("turns", 0)) >= DOB_HELD_TURNS:
        mem.pop("dob", None)
        held = None
    span = find_dob(text, today) if not verified else None
    if span:
        held = mem["dob"] = {"span": span, "turns": 0}
    elif held is not None:
        held["turns"] = int(held.get("turns", 0)) + 1
    return str(held["span"]) if held else None


def with_dob(args: dict[str, Any], mem: dict[str, Any], held: str | None) -> dict[str, Any]:
    """verify_identity arguments with the caller's real date of birth in place of the mask."""
    given = str(args.get("date_of_birth") or "")
    mem.pop("dob", None)
    if held and (not given or DOB_MASK in given or "date of birth" in given.lower()):
        return {**args, "date_of_birth": held}
    return args


def parse_arguments(raw: str) -> dict[str, Any] | None:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def assistant_tool_calls(calls: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ],
    }


def tool_message(call_id: str, result: ToolResult) -> dict[str, Any]:
    body = {"ok": result.ok, "message": result.message, "data": result.data, "refused": result.refused}
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(body, default=str)}


def tool_error(call_id: str, problem: str) -> dict[str, Any]:
    body = {"ok": False, "refused": "invalid_arguments", "message": f"Not run: {problem}. Call it again."}
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(body)}


class ToolCallAssembler:
    """Joins streamed tool-call deltas: the first delta of a call has `index`, `id` and the function
    name; later deltas with the same `index` carry fragments of the JSON arguments."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, deltas: Iterable[Any]) -> None:
        for d in deltas:
            call = self._calls.setdefault(d.index, {"id": "", "name": "", "arguments": []})
            if d.id:
                call["id"] = d.id
            if d.function is not None:
                if d.function.name:
                    call["name"] = d.function.name  # sent whole, on the call's first delta
                if d.function.arguments:
                    call["arguments"].append(d.function.arguments)

    def calls(self) -> list[dict[str, Any]]:
        out = []
        for index in sorted(self._calls):
            c = self._calls[index]
            args = "".join(c["arguments"])
            out.append({"id": c["id"] or f"call_{index}", "name": c["name"], "arguments": args})
        return out

"""The `Tool` base class and the helpers every tool shares.

A tool is a class with a `name`, a `description` (what the LLM reads), a pydantic `Args` model
(which also yields the OpenAI schema), `requires_verification`, and `async run(ctx, state, args)`.
The `ToolBox` (tools/registry.py) validates arguments, applies the verification guard and audits;
`run` applies the tool's own guards (ledger amounts, policy bounds) and performs the effects.

Effects are idempotent per conversation: each effect has a deterministic key
`practice|patient|conversation|kind[|...]`; the same key is the PMS write's idempotency key, and the
result is remembered in `state.effects` so a repeated call returns it instead of acting twice.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, PlainValidator, WithJsonSchema

from pms.types import AccountSummary, CommLogWrite, Patient
from tools.context import CallerState, PmsWrite, ToolContext, ToolResult
from tools.parsing import parse_amount

MAX_AMOUNT = Decimal("1000000.00")
CENT = Decimal("0.01")

# Said whenever a debt tool is asked for before verification. It must not hint that a debt exists:
# no amount, and none of the words "balance", "owe", "bill", "account" or "payment" (rules 28-29).
NOT_VERIFIED_MESSAGE = (
    "Before I can help with that, I need to confirm who I'm speaking with. "
    "Could you tell me your full name and date of birth?"
)
LOCKED_OUT_MESSAGE = (
    "I'm sorry, I wasn't able to confirm your identity, so I can't go any further on this call. "
    "I can have a member of our team call you back, or transfer you to someone at the office."
)


class ToolArgs(BaseModel):
    """Base for argument models: unknown fields are refused, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(ToolArgs):
    pass


def money_value(value: Any) -> Decimal:
    """Validate a dollar amount argument: > 0, <= MAX_AMOUNT, cents; strings as people say them."""
    if isinstance(value, bool) or value is None:
        raise ValueError("must be an amount in dollars, like 50 or 50.00")
    if isinstance(value, int | float | Decimal):
        try:
            amount = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError("must be an amount in dollars, like 50 or 50.00") from exc
    elif isinstance(value, str):
        parsed = parse_amount(value)
        if parsed is None:
            raise ValueError("is not an amount in dollars I understand; use a number like 50 or 50.00")
        amount = parsed
    else:
        raise ValueError("must be an amount in dollars, like 50 or 50.00")
    if not amount.is_finite():
        raise ValueError("must be a finite amount")
    if amount <= 0:
        raise ValueError("must be greater than zero")
    if amount > MAX_AMOUNT:
        raise ValueError("is larger than any amount this tool accepts")
    if amount != amount.quantize(CENT):
        raise ValueError("may have at most two decimal places")
    return amount.quantize(CENT)


MoneyArg = Annotated[
    Decimal,
    PlainValidator(money_value),
    WithJsonSchema({"type": ["number", "string"], "description": 'US dollars, e.g. 50 or "50.00".'}),
]


class Tool(ABC):
    """One action the agent may take. Subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]] = NoArgs
    requires_verification: ClassVar[bool] = True
    # argument fields never written to the audit log as given (e.g. a date of birth)
    sensitive_args: ClassVar[frozenset[str]] = frozenset()

    def available(self, state: CallerState) -> bool:
        """Whether the tool is offered to the model right now (schemas); `invoke` still guards."""
        return state.verified or not self.requires_verification

    def schema_overrides(self, state: CallerState) -> dict[str, dict[str, Any]]:
        """Per-state tweaks to property schemas (e.g. an enum of the plan keys just offered)."""
        return {}

    @abstractmethod
    async def run(self, ctx: ToolContext, state: CallerState, args: Any) -> ToolResult: ...


# ---- time --------------------------------------------------------------------------------------


def practice_tz(ctx: ToolContext) -> ZoneInfo:
    return ZoneInfo(ctx.policy.practice.timezone)


def now_local(ctx: ToolContext) -> datetime:
    return ctx.clock().astimezone(practice_tz(ctx))


def today(ctx: ToolContext) -> date:
    return now_local(ctx).date()


# ---- money & words -----------------------------------------------------------------------------


def money(amount: Decimal) -> str:
    """$1,234.50 — how amounts are written in every tool message."""
    q = amount.quantize(CENT)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.2f}"


def say_date(d: date) -> str:
    return f"{d.strftime('%A, %B')} {d.day}, {d.year}"


def plain(d: date | datetime | Decimal | None) -> str | None:
    """JSON-able form for `data`: ISO dates, decimal strings."""
    if d is None:
        return None
    if isinstance(d, Decimal):
        return str(d.quantize(CENT))
    return d.isoformat()


# ---- effects: idempotency keys, replay, PMS writes ---------------------------------------------


def effect_key(ctx: ToolContext, state: CallerState, kind: str, *parts: object) -> str:
    """practice|patient|conversation|kind[|part...]; long keys keep a readable prefix plus a hash."""
    who = state.patient_id or "anon"
    key = "|".join([ctx.policy.practice.practice_id, who, state.conversation_id, kind, *map(str, parts)])
    if len(key) <= 200:
        return key
    return key[:150] + "#" + hashlib.sha256(key.encode()).hexdigest()[:32]


def replay(state: CallerState, key: str) -> ToolResult | None:
    """The result of an effect already carried out in this conversation, if any."""
    done = state.effects.get(key)
    if done is None:
        return None
    return ToolResult(ok=True, message=done["message"], data={**done["data"], "repeated": True})


def remember(state: CallerState, key: str, result: ToolResult) -> ToolResult:
    state.effects[key] = {"message": result.message, "data": dict(result.data)}
    return result


def writes_directly(ctx: ToolContext, what: str) -> bool:
    """`what` is a Capabilities field: comm_log, promise, payment, payment_plan, contact_preferences."""
    return bool(getattr(ctx.pms.capabilities(), what) == "direct")


def recorded_phrase(ctx: ToolContext, what: str) -> str:
    """What we may truthfully say about the PMS record (see pms-integration: capabilities)."""
    if writes_directly(ctx, what):
        return "I've noted that on your account."
    return "Our billing team will update your account."


async def write_to_pms(ctx: ToolContext, state: CallerState, req: PmsWrite, what: str) -> None:
    """Queue a PMS write through the outbox; where the PMS cannot take it at all, hand it to staff."""
    await ctx.records.enqueue_pms_write(req, conversation_id=state.conversation_id)
    if getattr(ctx.pms.capabilities(), what) == "none":
        await ctx.records.create_staff_task(
            kind="pms_update",
            patient_id=state.patient_id,
            conversation_id=state.conversation_id,
            summary=f"Please record this {what.replace('_', ' ')} in the practice system by hand.",
            context={"write": type(req).__name__, "idempotency_key": req.idempotency_key},
        )


async def comm_note(ctx: ToolContext, state: CallerState, kind: str, note: str, *parts: object) -> None:
    """A comm-log note in the PMS for a significant event (queued; idempotent per event)."""
    if state.patient_id is None:
        return
    mode = {"voice": "phone", "sms": "text", "email": "email"}.get(state.channel, "none")
    req = CommLogWrite(
        idempotency_key=effect_key(ctx, state, f"commlog:{kind}", *parts),
        patient_id=state.patient_id,
        at=ctx.clock(),
        mode=mode,  # type: ignore[arg-type]
        direction="neither",
        note=f"BalanceLine ({state.channel}): {note}",
    )
    await write_to_pms(ctx, state, req, "comm_log")


async def load_account(ctx: ToolContext, state: CallerState) -> AccountSummary | None:
    assert state.guarantor_id is not None, "verified state without a guarantor"
    return await ctx.pms.get_account(state.guarantor_id)


# Accounts on which BalanceLine must not collect (set up plans, take promises, send payment links):
# attorney representation or bankruptcy (an automatic stay), placed with an agency, or deceased.
NO_COLLECTION_FLAGS = frozenset({"attorney", "agency", "deceased"})
STAFF_ONLY_MESSAGE = (
    "I'm not able to set that up here. Our billing team will help you with this: I can transfer you "
    "or have them call you back."
)


def collection_blocked(account: AccountSummary | None) -> ToolResult | None:
    """A refusal when the account's flags forbid collection activity by the agent; else None."""
    if account is None or not (account.flags & NO_COLLECTION_FLAGS):
        return None
    return ToolResult.refuse(
        "staff_required", STAFF_ONLY_MESSAGE, suggest=["transfer_to_human", "schedule_callback"]
    )


def patient_balance(account: AccountSummary | None) -> Decimal:
    return account.aging.patient_balance.quantize(CENT) if account else Decimal("0.00")


async def verified_patient(ctx: ToolContext, state: CallerState) -> Patient | None:
    return await ctx.pms.get_patient(state.patient_id) if state.patient_id else None


OUTCOME_RANK = {
    "none": 0,
    "info": 1,
    "no_contact": 1,
    "wrong_party": 2,
    "link_sent": 3,
    "callback": 4,
    "transfer": 5,
    "opt_out": 6,
    "promise": 7,
    "plan": 8,
    "hardship": 8,
    "dispute": 9,
    "paid": 10,
}


def set_outcome(state: CallerState, outcome: str) -> None:
    """Record the conversation's outcome, never downgrading a stronger one (a plan beats a link)."""
    if OUTCOME_RANK.get(outcome, 0) >= OUTCOME_RANK.get(state.outcome, 0):
        state.outcome = outcome  # type: ignore[assignment]


def effects_of(state: CallerState, kind: str) -> list[str]:
    """Keys of the effects of one kind (the 4th key segment) already carried out in this conversation."""
    return [k for k in state.effects if k.split("|")[3:4] == [kind]]

"""What a tool receives: collaborators (built by `agent`), the caller's state, and what it returns.

Tools never reach for globals or settings. The agent builds a `ToolContext` per conversation and
implements the `Records`, `Messenger` and `PaymentLinks` protocols declared here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from pms.protocol import PmsAdapter
from pms.types import (
    CommLogWrite,
    ContactPreferenceWrite,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
)
from policies.config import PracticePolicy
from policies.types import ContactHistory, SuppressionScope

PmsWrite = CommLogWrite | PromiseWrite | PaymentWrite | PaymentPlanWrite | ContactPreferenceWrite
ChannelName = Literal["sms", "voice", "chat", "email"]
Outcome = Literal[
    "paid",
    "plan",
    "promise",
    "dispute",
    "transfer",
    "callback",
    "no_contact",
    "wrong_party",
    "opt_out",
    "hardship",
    "info",
    "link_sent",
    "none",
]


@dataclass
class CallerState:
    """Who we are talking to and what has happened so far; owned by the conversation."""

    conversation_id: str
    channel: ChannelName
    contact: str | None = None  # the phone (E.164) or address the person is using
    candidate_patient_ids: list[str] = field(default_factory=list)  # matched by contact, unverified
    patient_id: str | None = None  # set once identity is verified
    guarantor_id: str | None = None
    verified: bool = False
    verification_attempts: int = 0
    locked_out: bool = False  # too many failed verification attempts
    third_party: bool = False
    language: str = "en"
    disclosed_balance: Decimal | None = None
    offered_plans: list[dict[str, Any]] = field(default_factory=list)  # PlanTerms as JSON-able dicts
    offer_id: str | None = None
    accepted_plan_key: str | None = None
    outcome: Outcome = "none"
    ended: bool = False
    notes: list[str] = field(default_factory=list)  # short facts for the summary (no PHI beyond need)
    # effects already carried out in this conversation, by idempotency key -> the result data the tool
    # returned; a repeated call with the same arguments returns it instead of acting twice (JSON-able)
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    links_created: int = 0  # payment links made in this conversation (the provider's attempt number)
    call_sid: str | None = None  # the Twilio CallSid of a voice conversation (set by the voice session)
    call_direction: Literal["inbound", "outbound"] = "inbound"
    # a hand-off the voice session performs after speaking the tool's reply: "pay" closes the media
    # stream so `/twilio/voice/after-stream` serves <Pay> (agent/pay_handoff.py); cleared on resume
    pending_handoff: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What a tool hands back to the brain. `data` is JSON-able and safe to show the LLM."""

    ok: bool
    message: str  # a plain sentence the brain may relay (already safe for the caller's verification state)
    data: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None  # machine-readable refusal code, e.g. "not_verified", "outside_policy"

    @classmethod
    def refuse(cls, code: str, message: str, **data: Any) -> ToolResult:
        return cls(ok=False, message=message, data=data, refused=code)


@dataclass(frozen=True)
class SendResult:
    sent: bool
    reason: str = "ok"  # "ok", "suppressed", "blocked:<decision reason>", "opted_out_21610", "error"
    provider_id: str | None = None


@dataclass(frozen=True)
class PaymentLink:
    url: str
    amount: Decimal
    expires_at: datetime | None
    provider: Literal["stripe", "portal"]
    link_id: str | None = None


class Records(Protocol):
    """The record store, as tools see it. Every method is durable when it returns."""

    async def audit(
        self, kind: str, *, patient_id: str | None, conversation_id: str | None, detail: dict[str, Any]
    ) -> None: ...

    async def enqueue_pms_write(self, req: PmsWrite, *, conversation_id: str | None = None) -> None: ...

    async def contact_history(self, guarantor_id: str, *, now: datetime) -> ContactHistory: ...

    async def record_promise(
        self, *, guarantor_id: str, amount: Decimal, due_on: date, conversation_id: str, channel: str
    ) -> str: ...

    async def record_plan_offer(
        self, *, guarantor_id: str, conversation_id: str, balance: Decimal, options: list[dict[str, Any]]
    ) -> str: ...

    async def accept_plan_offer(
        self, *, offer_id: str, plan_key: str, status: Literal["accepted", "pending_approval"]
    ) -> None: ...

    async def create_staff_task(
        self,
        *,
        kind: str,
        patient_id: str | None,
        conversation_id: str | None,
        summary: str,
        context: dict[str, Any],
        priority: Literal["low", "normal", "high"] = "normal",
    ) -> str: ...

    async def add_suppression(
        self,
        *,
        patient_id: str | None,
        value: str | None,
        scope: SuppressionScope,
        reason: str,
        source: str,
    ) -> None: ...

    async def set_account_flag(self, *, guarantor_id: str, flag: str, on: bool, reason: str) -> None: ...

    async def schedule_callback(
        self,
        *,
        patient_id: str | None,
        contact: str | None,
        at: datetime | None,
        reason: str,
        conversation_id: str,
    ) -> str: ...


class Messenger(Protocol):
    """Sends a text through the guarded channel (suppression + compliance checked by the agent)."""

    async def send_sms(self, *, patient_id: str | None, to: str, body: str, purpose: str) -> SendResult: ...


class PaymentLinkError(RuntimeError):
    """No payment link can be made right now (provider down, no portal configured)."""


class PaymentLinks(Protocol):
    """Creates a single-use payment link for an amount computed by the tool from the ledger.

    Raises `PaymentLinkError` when no link can be made; the tool then offers another way to pay.
    """

    async def create_link(
        self, *, guarantor_id: str, amount: Decimal, purpose: str, attempt: int, conversation_id: str
    ) -> PaymentLink: ...


@dataclass(frozen=True)
class CardCaptureRequest:
    """A keypad card payment for the voice session to hand to Twilio <Pay> (amount from the ledger)."""

    handoff_id: str
    amount: Decimal
    reusable: bool  # the card is saved for a plan's later installments


class CardCapture(Protocol):
    """Records a pending <Pay> hand-off for a call; the agent serves the <Pay> TwiML after the stream."""

    async def request(
        self,
        *,
        call_sid: str,
        direction: str,
        conversation_id: str,
        guarantor_id: str,
        patient_id: str | None,
        amount: Decimal,
        purpose: str,
        plan: dict[str, Any] | None,
    ) -> CardCaptureRequest: ...


@dataclass
class ToolContext:
    pms: PmsAdapter
    policy: PracticePolicy
    records: Records
    payments: PaymentLinks
    clock: Callable[[], datetime]
    messenger: Messenger | None = None  # absent in channels that reply in-line (the SMS reply carries links)
    card_capture: CardCapture | None = None  # keypad payments on a call (Stripe + Twilio configured)

"""A scripted stand-in for the tools layer, for brain unit tests only.

It keeps the documented tool contract (names, arguments, refusal codes, `data` keys, and the
`CallerState` updates the real tools make) over one in-memory account, so the brains' decisions
can be tested in isolation. Arguments are validated like `ToolBox` does (unknown fields refused,
verification checked first). `test_scripted_tools_match_real_schemas` keeps it honest against the
real `ToolBox` schemas. End-to-end tests with the real tools live elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.context import CallerState, ToolResult
from tools.parsing import parse_amount, parse_callback_time, parse_dob, parse_promise_date

NOT_VERIFIED = (
    "Before I can help with that, I need to confirm who I'm speaking with. "
    "Could you tell me your full name and date of birth?"
)
LOCKED = "I'm sorry, I wasn't able to confirm your identity, so I can't go any further on this call."


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(_Args):
    pass


class VerifyArgs(_Args):
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    date_of_birth: str = Field(min_length=4)
    for_someone_else: bool = False


class ExplainArgs(_Args):
    limit: int = Field(5, ge=1, le=20)


class OfferArgs(_Args):
    monthly: str | float | None = None


class AcceptArgs(_Args):
    plan_key: str


class LinkArgs(_Args):
    amount: str | float = "full"


class PromiseArgs(_Args):
    amount: str | float
    date: str = Field(min_length=1)


class DisputeArgs(_Args):
    reason: str = Field(min_length=1)


class HardshipArgs(_Args):
    reason: str | None = None


class OptOutArgs(_Args):
    channel: Literal["all", "sms", "voice", "email"] = "all"


class TransferArgs(_Args):
    reason: str = Field(min_length=1)
    ask: str | None = None


class CallbackArgs(_Args):
    when: str | None = None
    reason: str | None = None


class EndArgs(_Args):
    outcome: Literal["info", "wrong_party", "no_contact", "none"] | None = None


ARGS: dict[str, type[_Args]] = {
    "verify_identity": VerifyArgs,
    "lookup_balance": NoArgs,
    "explain_charges": ExplainArgs,
    "offer_plan": OfferArgs,
    "accept_plan": AcceptArgs,
    "send_payment_link": LinkArgs,
    "take_payment": LinkArgs,
    "log_promise": PromiseArgs,
    "flag_dispute": DisputeArgs,
    "request_financial_assistance": HardshipArgs,
    "opt_out": OptOutArgs,
    "transfer_to_human": TransferArgs,
    "schedule_callback": CallbackArgs,
    "end_conversation": EndArgs,
}
ANYONE = {"verify_identity", "opt_out", "transfer_to_human", "schedule_callback", "end_conversation"}


@dataclass
class Account:
    first_name: str = "Jane"
    last_name: str = "Doe"
    dob: date = date(1985, 3, 14)
    balance: Decimal = Decimal("450.00")
    plan_months: tuple[int, ...] = (3, 6)
    min_monthly: Decimal = Decimal("50.00")
    min_partial: Decimal = Decimal("25.00")
    staff_live: bool = True
    max_attempts: int = 3
    url: str = "https://pay.example.test/l/abc123"
    keypad: bool = True  # the call can hand off to <Pay> (Stripe configured and a live call)


MONDAY = datetime.fromisoformat("2026-03-02T10:00:00-06:00")


@dataclass
class ScriptedTools:
    """`ToolInvoker` over one account; `calls` records (name, arguments) in order."""

    state: CallerState
    account: Account = field(default_factory=Account)
    now: datetime = MONDAY
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def schemas(self) -> list[dict[str, Any]]:
        out = []
        for name, model in ARGS.items():
            if name not in ANYONE and not self.state.verified:
                continue
            params = model.model_json_schema()
            params.pop("title", None)
            out.append(
                {"type": "function", "function": {"name": name, "description": name, "parameters": params}}
            )
        return out

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append((name, dict(arguments)))
        model = ARGS.get(name)
        if model is None:
            return ToolResult.refuse("unknown_tool", "There is no tool with that name.")
        if name not in ANYONE and not self.state.verified:
            if self.state.locked_out:
                return ToolResult.refuse("locked_out", LOCKED)
            return ToolResult.refuse("not_verified", NOT_VERIFIED)
        try:
            args = model.model_validate(arguments)
        except ValidationError as exc:
            return ToolResult.refuse(
                "invalid_arguments", f"I couldn't use those details for {name}: {exc.errors()}"
            )
        handler = getattr(self, f"_{name}")
        result: ToolResult = handler(args)
        return result

    # ---- identity & account -------------------------------------------------------------------

    def _verify_identity(self, a: VerifyArgs) -> ToolResult:
        s, acct = self.state, self.account
        if s.verified:
            return ToolResult(ok=True, message="You're already verified.", data={"verified": True})
        if s.locked_out:
            return ToolResult.refuse("locked_out", LOCKED)
        dob = parse_dob(a.date_of_birth, self.now.date())
        if dob is None:
            return ToolResult.refuse(
                "unclear_dob",
                "I didn't catch the date of birth. Could you say it with the month, day and year?",
            )
        said = " ".join((a.full_name or f"{a.first_name} {a.last_name}").lower().split())
        if dob == acct.dob and said == f"{acct.first_name} {acct.last_name}".lower():
            s.verified, s.patient_id, s.guarantor_id = True, "p1", "p1"
            return ToolResult(
                ok=True,
                message=f"Thank you, {acct.first_name}. You're verified.",
                data={"verified": True, "first_name": acct.first_name, "language": "en"},
            )
        s.verification_attempts += 1
        if s.verification_attempts >= acct.max_attempts:
            s.locked_out = True
            return ToolResult.refuse("locked_out", LOCKED)
        return ToolResult.refuse(
            "not_matched",
            "I'm sorry, I wasn't able to verify those details.",
            attempts_left=acct.max_attempts - s.verification_attempts,
        )

    def _lookup_balance(self, a: NoArgs) -> ToolResult:
        self.state.disclosed_balance = self.account.balance
        if self.account.balance <= 0:
            return ToolResult(
                ok=True, message="You don't owe anything right now.", data={"patient_balance": "0.00"}
            )
        return ToolResult(
            ok=True,
            message=f"Your current balance is {_m(self.account.balance)}.",
            data={"patient_balance": str(self.account.balance), "insurance_pending": "0.00"},
        )

    def _explain_charges(self, a: ExplainArgs) -> ToolResult:
        b = self.account.balance
        return ToolResult(
            ok=True,
            message=f"On Monday, January 5, 2026, an adult cleaning: {_m(b)}; your part due is {_m(b)}.",
            data={
                "patient_balance": str(b),
                "charges": [
                    {
                        "service_date": "2026-01-05",
                        "procedure": "an adult cleaning",
                        "fee": str(b),
                        "you_owe": str(b),
                    }
                ],
                "more": 0,
                "pending_claims": [],
            },
        )

    # ---- plans --------------------------------------------------------------------------------

    def _options(self) -> list[dict[str, Any]]:
        first_due = (self.now.date() + timedelta(days=30)).isoformat()
        out = []
        for months in self.account.plan_months:
            installment = (self.account.balance / months).quantize(Decimal("0.01"))
            out.append(
                {
                    "plan_key": f"m{months}",
                    "total": str(self.account.balance),
                    "down_payment": "0.00",
                    "installment_amount": str(installment),
                    "installments": months,
                    "frequency": "monthly",
                    "first_due": first_due,
                    "needs_staff_approval": False,
                    "months": months,
                }
            )
        return out

    def _offer_plan(self, a: OfferArgs) -> ToolResult:
        options = self._options()
        if a.monthly is not None:
            monthly = parse_amount(str(a.monthly))
            if monthly is None or monthly < self.account.min_monthly:
                return ToolResult.refuse(
                    "outside_policy",
                    f"I'm not able to set up that amount a month. The lowest monthly payment "
                    f"I can offer is {_m(self.account.min_monthly)}.",
                    minimum_monthly=str(self.account.min_monthly),
                    options=options,
                )
            months = int(-(-self.account.balance // monthly))
            options = [
                {
                    **options[0],
                    "plan_key": f"m{months}",
                    "installments": months,
                    "months": months,
                    "installment_amount": str((self.account.balance / months).quantize(Decimal("0.01"))),
                }
            ]
        self.state.offered_plans = [{**o, "offer_id": "offer1"} for o in options]
        self.state.offer_id = "offer1"
        return ToolResult(
            ok=True,
            message="I can offer " + "; ".join(o["plan_key"] for o in options) + ".",
            data={"offer_id": "offer1", "patient_balance": str(self.account.balance), "options": options},
        )

    def _accept_plan(self, a: AcceptArgs) -> ToolResult:
        chosen = next((p for p in self.state.offered_plans if p["plan_key"] == a.plan_key), None)
        if chosen is None:
            return ToolResult.refuse("not_offered", "I can only set up one of the options I offered.")
        self.state.accepted_plan_key = a.plan_key
        self.state.outcome = "plan"
        plan = {k: v for k, v in chosen.items() if k != "offer_id"}
        data: dict[str, Any] = {
            "status": "accepted",
            "plan": plan,
            **self._link_data(Decimal(plan["installment_amount"])),
        }
        return ToolResult(ok=True, message=f"You're set: {plan['installments']} monthly payments.", data=data)

    # ---- paying -------------------------------------------------------------------------------

    def _link_data(self, amount: Decimal) -> dict[str, Any]:
        data: dict[str, Any] = {"amount": str(amount), "provider": "stripe", "expires_at": None}
        if self.state.channel == "voice":
            data.update(sent=True, delivery="sms", send_reason="ok", to_last4="0100")
        else:
            data.update(payment_url=self.account.url, sent=False, delivery="reply")
        return data

    def _payable(self, a: LinkArgs) -> Decimal | ToolResult:
        balance = self.account.balance
        if str(a.amount).strip().lower() == "full":
            amount = balance
        else:
            parsed = parse_amount(str(a.amount))
            if parsed is None:
                return ToolResult.refuse(
                    "invalid_arguments", "amount is not an amount in dollars I understand"
                )
            amount = parsed
        if amount > balance:
            return ToolResult.refuse("above_balance", f"That's more than your balance of {_m(balance)}.")
        if amount < self.account.min_partial and amount != balance:
            return ToolResult.refuse(
                "below_minimum", f"The smallest payment I can take is {_m(self.account.min_partial)}."
            )
        return amount

    def _take_payment(self, a: LinkArgs) -> ToolResult:
        amount = self._payable(a)
        if isinstance(amount, ToolResult):
            return amount
        if not self.account.keypad or self.state.channel != "voice":
            return self._send_payment_link(a)
        self.state.pending_handoff = "pay"
        return ToolResult(
            ok=True,
            message=f"I'll pass you to our secure keypad payment for {_m(amount)}.",
            data={"handoff": "pay", "handoff_id": "pho_1", "amount": str(amount)},
        )

    def _send_payment_link(self, a: LinkArgs) -> ToolResult:
        amount = self._payable(a)
        if isinstance(amount, ToolResult):
            return amount
        self.state.outcome = "link_sent"
        data = self._link_data(amount)
        if data["delivery"] == "reply":
            return ToolResult(
                ok=True,
                message=f"Here's your secure payment link for {_m(amount)}: {self.account.url}",
                data=data,
            )
        return ToolResult(
            ok=True,
            message=f"I've texted a secure link for {_m(amount)} to your number ending in 0100.",
            data=data,
        )

    def _log_promise(self, a: PromiseArgs) -> ToolResult:
        amount = parse_amount(str(a.amount))
        if amount is None:
            return ToolResult.refuse("invalid_arguments", "amount is not an amount in dollars I understand")
        if amount > self.account.balance:
            return ToolResult.refuse(
                "above_balance", f"That's more than your balance of {_m(self.account.balance)}."
            )
        if amount < self.account.min_partial and amount != self.account.balance:
            return ToolResult.refuse(
                "below_minimum", f"The smallest payment I can note is {_m(self.account.min_partial)}."
            )
        due = parse_promise_date(a.date, self.now.date())
        if due is None:
            return ToolResult.refuse("unclear_date", "What date will you make that payment?")
        if due > self.now.date() + timedelta(days=30):
            return ToolResult.refuse("too_far_out", "I can note a payment date up to 30 days out.")
        self.state.outcome = "promise"
        return ToolResult(
            ok=True,
            message=f"Thank you. You'll pay {_m(amount)} by {due.isoformat()}.",
            data={"promise_id": "pr1", "amount": str(amount), "due_on": due.isoformat()},
        )

    def _flag_dispute(self, a: DisputeArgs) -> ToolResult:
        self.state.outcome = "dispute"
        return ToolResult(
            ok=True, message="I've noted your dispute.", data={"task_id": "t1", "flag": "dispute"}
        )

    def _request_financial_assistance(self, a: HardshipArgs) -> ToolResult:
        self.state.outcome = "hardship"
        return ToolResult(
            ok=True,
            message="I've asked our billing team to review financial assistance.",
            data={"task_id": "t2", "flag": "hardship"},
        )

    # ---- anyone -------------------------------------------------------------------------------

    def _opt_out(self, a: OptOutArgs) -> ToolResult:
        self.state.outcome = "opt_out"
        return ToolResult(ok=True, message="Done.", data={"channel": a.channel, "scope": "contact"})

    def _transfer_to_human(self, a: TransferArgs) -> ToolResult:
        live = self.account.staff_live and self.state.channel == "voice"
        self.state.outcome = "transfer" if live else "callback"
        message = (
            "I'll connect you with someone at our office now."
            if live
            else "I've passed your request to someone at our office; they'll call you in office hours."
        )
        return ToolResult(ok=True, message=message, data={"transfer_id": "x1", "live": live})

    def _schedule_callback(self, a: CallbackArgs) -> ToolResult:
        at = parse_callback_time(a.when, self.now) if a.when else None
        if a.when and at is None:
            return ToolResult.refuse("unclear_time", "What day and time would be best for a call back?")
        self.state.outcome = "callback"
        return ToolResult(
            ok=True,
            message="Okay, we'll call you back.",
            data={"callback_id": "cb1", "at": at.isoformat() if at else None},
        )

    def _end_conversation(self, a: EndArgs) -> ToolResult:
        if a.outcome:
            self.state.outcome = a.outcome
        self.state.ended = True
        return ToolResult(ok=True, message="Goodbye.", data={"outcome": self.state.outcome})


def _m(amount: Decimal) -> str:
    return f"${amount:,.2f}"

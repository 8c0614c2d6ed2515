"""Response models of the JSON API (field names are a public contract: CONTRACTS.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

ConsentValue = Literal["opted_in", "opted_out", "unknown"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)

    @field_serializer("*", when_used="json", check_fields=False)
    def _money(self, v: Any) -> Any:
        return f"{v:.2f}" if isinstance(v, Decimal) else v


class AgingOut(_Out):
    bal_0_30: Decimal
    bal_31_60: Decimal
    bal_61_90: Decimal
    bal_over_90: Decimal
    insurance_estimate: Decimal
    patient_balance: Decimal


class ConsentOut(_Out):
    sms: ConsentValue
    voice: ConsentValue
    email: ConsentValue


class PlanOut(_Out):
    plan_id: str
    status: str
    installment_amount: Decimal
    installments: int
    frequency: str
    first_due: date
    down_payment: Decimal


class PromiseOut(_Out):
    promise_id: str
    amount: Decimal
    due_on: date
    status: str


class PaymentOut(_Out):
    payment_id: str
    amount: Decimal
    paid_on: date
    method: str
    processor_ref: str | None


class ConversationSummaryOut(_Out):
    conversation_id: str
    channel: str
    direction: str
    started_at: datetime | None
    outcome: str
    summary: str | None


class TransferCardOut(_Out):
    transfer_id: str
    patient_id: str | None
    status: str
    verified: bool
    balance: Decimal | None
    offered: list[str]
    objection: str | None
    ask: str | None
    summary: str
    created_at: datetime


class AccountListItem(_Out):
    patient_id: str
    guarantor_id: str
    name: str
    date_of_birth: date | None
    phones: list[str]
    timezone: str | None
    patient_balance: Decimal
    tier: str


class AccountList(_Out):
    items: list[AccountListItem]
    total: int | None
    limit: int
    offset: int


class LedgerSummaryOut(_Out):
    charges: Decimal
    insurance_paid: Decimal
    writeoffs: Decimal
    adjustments: Decimal
    patient_paid: Decimal
    lines: int


class AutopayInstallmentOut(_Out):
    seq: int
    due_on: date
    amount: Decimal
    status: str  # scheduled | retry | paid | failed
    attempts: int
    next_attempt_at: datetime | None
    processor_ref: str | None


class AutopayPlanOut(_Out):
    """A plan BalanceLine charges to the card saved with its first payment (docs/payments.md)."""

    autopay_id: str
    plan_key: str
    status: str  # active | completed
    installment_amount: Decimal
    installments: int
    frequency: str
    next_due: date | None
    next_amount: Decimal | None
    paid_installments: int
    remaining_installments: int
    failed_attempts: int
    schedule: list[AutopayInstallmentOut]


class AccountDetail(AccountListItem):
    aging: AgingOut
    flags: list[str]
    consent: ConsentOut
    ledger_summary: LedgerSummaryOut
    plans: list[PlanOut]
    promises: list[PromiseOut]
    payments: list[PaymentOut]
    conversations: list[ConversationSummaryOut]
    transfers: list[TransferCardOut]
    tier_reasons: list[str]
    autopay_plans: list[AutopayPlanOut] = []  # plans that charge themselves: next due, paid, failures


class TurnOut(_Out):
    speaker: Literal["patient", "agent"]
    text: str
    at: datetime


class ToolCallOut(_Out):
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]


class ConversationDetail(_Out):
    conversation_id: str
    channel: str
    direction: str
    patient_id: str | None
    verified: bool
    started_at: datetime | None
    turns: list[TurnOut]
    tool_calls: list[ToolCallOut]
    outcome: str
    summary: str | None


class AuditEventOut(_Out):
    event_id: str
    at: datetime
    kind: str
    actor: str
    patient_id: str | None
    conversation_id: str | None
    detail: dict[str, Any]

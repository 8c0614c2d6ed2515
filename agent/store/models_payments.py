"""Tables for card capture on a call (`<Pay>` hand-offs) and self-charging payment plans.

- `pay_handoffs`: one row per `<Pay>` the agent asked for (keyed by CallSid + sequence); pending until
  Twilio's signed `action` callback records the `Result` (idempotent: a replayed callback finds the
  row finished and changes nothing).
- `plan_schedules`: a plan whose installments BalanceLine charges to the card saved with the first
  payment (Stripe customer + payment method, never card data).
- `plan_installments`: one row per installment: scheduled → paid, or failed once → retry after the
  policy's delay → paid | failed (link to the patient + staff task). `attempts` feeds the Stripe
  idempotency key, so a crash between Stripe's answer and our write replays the same PaymentIntent.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, Money
from pms.local.models import UtcDateTime

_ID = 64


class PayHandoffRow(Base):
    __tablename__ = "pay_handoffs"
    __table_args__ = (Index("ix_pay_handoffs_call_status", "call_sid", "status"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str] = mapped_column(String(_ID))
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound (for the resumed stream)
    guarantor_id: Mapped[str] = mapped_column(String(_ID), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(_ID))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    purpose: Mapped[str] = mapped_column(String(40))  # balance_payment | plan_first_payment | installment
    reusable: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # save the card for a plan (tokenType reusable)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # accepted plan terms (JSON) when reusable
    # pending | success | declined | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[str | None] = mapped_column(String(40))  # Twilio's Result value
    processor_ref: Mapped[str | None] = mapped_column(String(255))  # PaymentConfirmationCode
    last_status: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # last progress callback (no card data)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PlanScheduleRow(Base):
    __tablename__ = "plan_schedules"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(_ID), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(_ID))
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    source_ref: Mapped[str] = mapped_column(String(255), unique=True)  # the first payment's processor ref
    plan_key: Mapped[str] = mapped_column(String(40))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    customer_ref: Mapped[str] = mapped_column(String(255))  # Stripe Customer id
    payment_method_ref: Mapped[str | None] = mapped_column(String(255))  # pm_/card_ id (None: default)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | completed | failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PlanInstallmentRow(Base):
    __tablename__ = "plan_installments"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq", name="uq_plan_installments_plan_seq"),
        Index("ix_plan_installments_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(_ID), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1-based installment number within the plan
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    # scheduled | retry | paid | failed
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # declined charges so far
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processor_ref: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(80))  # decline code only
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

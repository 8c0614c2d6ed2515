"""The record store's tables: what BalanceLine itself must never lose.

Portable across SQLite and PostgreSQL: money is `Money` (NUMERIC(12,2), always `Decimal` back),
instants are `UtcDateTime` (UTC stored, timezone-aware UTC returned; naive values are refused),
structured data is JSON. Ids are short prefixed strings from `new_id` ("cv_…", "msg_…"), roughly
time-ordered so equal timestamps still list in creation order. Change tables via Alembic
(agent/store/migrations), never by hand.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from pms.local.models import UtcDateTime  # one definition of an aware instant column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_CENT = Decimal("0.01")
_id_lock = threading.Lock()
_last_us = 0


def new_id(prefix: str) -> str:
    """`prefix` + 13 hex digits of microseconds (strictly increasing per process) + 12 random hex."""
    global _last_us
    with _id_lock:
        _last_us = max(time.time_ns() // 1000, _last_us + 1)
        stamp = _last_us
    return f"{prefix}{stamp:013x}{secrets.token_hex(6)}"


class Money(TypeDecorator[Decimal]):
    """NUMERIC(12,2) returned as a `Decimal` quantised to cents on every backend.

    SQLite has no decimal type; its values come back as floats, which are exact to the cent for any
    amount NUMERIC(12,2) can hold, so they are converted via `repr` without warnings or drift.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(12, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(12, 2))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(str(value)).quantize(_CENT)
        return float(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(_CENT)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_ID = 64
_PARTY = 64  # PMS patient/guarantor ids are the PMS's own strings


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_channel_contact_updated", "channel", "contact", "updated_at"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str | None] = mapped_column(String(320))
    patient_id: Mapped[str | None] = mapped_column(String(_PARTY), index=True)
    guarantor_id: Mapped[str | None] = mapped_column(String(_PARTY), index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(32), default="none")
    summary: Mapped[str | None] = mapped_column(Text)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    # No foreign key on purpose: an outbound text is recorded even if its conversation row comes later.
    conversation_id: Mapped[str | None] = mapped_column(String(_ID), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)  # redacted by the caller
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)  # Twilio MessageSid
    status: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ContactAttemptRow(Base):
    __tablename__ = "contact_attempts"
    __table_args__ = (Index("ix_contact_attempts_guarantor_at", "guarantor_id", "at"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(_PARTY))
    guarantor_id: Mapped[str | None] = mapped_column(String(_PARTY))
    channel: Mapped[str] = mapped_column(String(16))
    to: Mapped[str] = mapped_column(String(320))
    direction: Mapped[str] = mapped_column(String(16))  # "outbound" | "inbound"
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    conversation: Mapped[bool] = mapped_column(Boolean, default=False)
    with_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)  # CallSid / MessageSid
    status: Mapped[str | None] = mapped_column(String(32))


class ConsentEntryRow(Base):
    """Append-only: the suppression/consent ledger shared by SMS, voice, e-mail and staff."""

    __tablename__ = "consent_ledger"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(_PARTY), index=True)
    value: Mapped[str | None] = mapped_column(String(320), index=True)  # E.164 phone or e-mail
    scope: Mapped[str] = mapped_column(String(16))  # all | voice | sms | email
    action: Mapped[str] = mapped_column(String(16))  # opt_out | opt_in | consent
    basis: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # sms | voice | email | staff | twilio
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountFlagRow(Base):
    """The current flags per guarantor (changes are in the audit log)."""

    __tablename__ = "account_flags"

    guarantor_id: Mapped[str] = mapped_column(String(_PARTY), primary_key=True)
    flag: Mapped[str] = mapped_column(String(40), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(200), default="")
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PromiseRow(Base):
    __tablename__ = "promises"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(_PARTY), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|kept|partly_kept|broken|cancelled
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PlanOfferRow(Base):
    __tablename__ = "plan_offers"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(_PARTY), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    balance: Mapped[Decimal] = mapped_column(Money)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # offered | accepted | pending_approval | approved | declined | expired
    status: Mapped[str] = mapped_column(String(20), default="offered")
    accepted_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffTaskRow(Base):
    __tablename__ = "staff_tasks"
    __table_args__ = (Index("ix_staff_tasks_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[str | None] = mapped_column(String(_PARTY), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    summary: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(8), default="normal")  # low | normal | high
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CallbackRow(Base):
    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(_PARTY), index=True)
    contact: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None = "as soon as staff can"
    reason: Mapped[str] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled | done | cancelled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_at", "patient_id", "at"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str | None] = mapped_column(String(_PARTY))
    conversation_id: Mapped[str | None] = mapped_column(String(_ID), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxRow(Base):
    """One PMS write-back: PENDING → IN_FLIGHT → CONFIRMED | FAILED | UNKNOWN (see agent/outbox.py)."""

    __tablename__ = "pms_outbox"
    __table_args__ = (Index("ix_pms_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    marker: Mapped[str] = mapped_column(String(16))  # "[cx:XXXXXXXX]"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    state: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    result_status: Mapped[str | None] = mapped_column(String(20))  # the adapter's WriteResult.status
    external_id: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PaymentLinkRow(Base):
    """A processor payment link we created (a Stripe Checkout Session): open → paid | expired."""

    __tablename__ = "payment_links"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the processor's id (cs_…)
    provider: Mapped[str] = mapped_column(String(16))
    guarantor_id: Mapped[str] = mapped_column(String(_PARTY), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    amount: Mapped[Decimal] = mapped_column(Money)
    purpose: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | paid | expired
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PaymentRow(Base):
    """A payment a processor confirmed (signed webhook), one row per PaymentIntent."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    processor: Mapped[str] = mapped_column(String(16))
    processor_ref: Mapped[str] = mapped_column(String(255), unique=True)  # Stripe PaymentIntent id
    link_id: Mapped[str | None] = mapped_column(String(255), index=True)
    guarantor_id: Mapped[str | None] = mapped_column(String(_PARTY), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(_ID))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    # succeeded | partially_refunded | refunded
    status: Mapped[str] = mapped_column(String(20))
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StripeEventRow(Base):
    """Every Stripe webhook event we accepted, by event id: the durable idempotency record."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_…
    type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # received | done
    outcome: Mapped[str | None] = mapped_column(String(40))
    created: Mapped[datetime] = mapped_column(UtcDateTime)  # the event's own timestamp
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

"""Tables of the local SQL PMS, on their own `metadata` (all names prefixed `pms_`).

Portable across SQLite and PostgreSQL: money is `Numeric(12, 2)`, instants go through `UtcDateTime`
(stored as UTC, always returned timezone-aware), lists are JSON. Every row is scoped by
`practice_id`, so one database can hold several practices (and tests can share one database).
There are no database-level foreign keys: imported snapshots are allowed to be partial (an aging
export has accounts but no ledger), and integrity is enforced by the adapter's code instead.

Importing this module has no side effects; the app's Alembic environment includes `metadata`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant: converted to UTC on the way in, UTC-aware on the way out.

    SQLite has no timezone type, so it stores naive UTC; PostgreSQL uses `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: BalanceLine stores only timezone-aware instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # defensive: raw SQLite text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def Money() -> Numeric[Decimal]:
    return Numeric(12, 2, asdecimal=True)


class Base(DeclarativeBase):
    metadata = metadata


def _practice_id() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True)


class PmsPractice(Base):
    __tablename__ = "pms_practices"

    practice_id: Mapped[str] = _practice_id()
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    as_of: Mapped[date | None] = mapped_column(Date)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # bumped by every write, in its tx
    loaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PmsPatient(Base):
    __tablename__ = "pms_patients"
    __table_args__ = (
        Index("ix_pms_patients_guarantor", "practice_id", "guarantor_id"),
        Index("ix_pms_patients_name_dob", "practice_id", "last_key", "date_of_birth"),
    )

    practice_id: Mapped[str] = _practice_id()
    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    first_key: Mapped[str] = mapped_column(String(100))  # folded for case/accent-insensitive lookup
    last_key: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    status: Mapped[str] = mapped_column(String(16), default="active")
    preferred_contact: Mapped[str] = mapped_column(String(16), default="none")
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    postal_code: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(2))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PmsContactPoint(Base):
    """One phone or email of a patient. `value` is E.164 / lower-cased email and indexed for caller-ID.

    `consent` is the SMS consent for phones and the email consent for emails (yes/no/unknown).
    """

    __tablename__ = "pms_contact_points"
    __table_args__ = (
        Index("ix_pms_contact_points_value", "practice_id", "value"),
        Index("ix_pms_contact_points_patient", "practice_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    practice_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))
    consent: Mapped[str] = mapped_column(String(8), default="unknown")
    is_preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[str | None] = mapped_column(String(254))


class PmsAccount(Base):
    """A guarantor's family account with explicit aging (an aging export has no ledger to derive it)."""

    __tablename__ = "pms_accounts"
    __table_args__ = (Index("ix_pms_accounts_balance", "practice_id", "patient_balance"),)

    practice_id: Mapped[str] = _practice_id()
    guarantor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bal_0_30: Mapped[Decimal] = mapped_column(Money())
    bal_31_60: Mapped[Decimal] = mapped_column(Money())
    bal_61_90: Mapped[Decimal] = mapped_column(Money())
    bal_over_90: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    insurance_estimate: Mapped[Decimal] = mapped_column(Money())
    writeoff_estimate: Mapped[Decimal] = mapped_column(Money())
    patient_balance: Mapped[Decimal] = mapped_column(Money())
    payplan_due: Mapped[Decimal] = mapped_column(Money())
    as_of: Mapped[date | None] = mapped_column(Date)
    last_payment_date: Mapped[date | None] = mapped_column(Date)
    last_payment_amount: Mapped[Decimal | None] = mapped_column(Money())
    last_statement_date: Mapped[date | None] = mapped_column(Date)
    balance_since: Mapped[date | None] = mapped_column(Date)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    open_claims: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PmsLedgerLine(Base):
    __tablename__ = "pms_ledger_lines"
    __table_args__ = (Index("ix_pms_ledger_lines_patient", "practice_id", "patient_id", "posted_date"),)

    practice_id: Mapped[str] = _practice_id()
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    posted_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    description: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(16))
    service_date: Mapped[date | None] = mapped_column(Date)
    tooth: Mapped[str | None] = mapped_column(String(16))
    claim_id: Mapped[str | None] = mapped_column(String(64))
    insurance_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class PmsClaim(Base):
    __tablename__ = "pms_claims"
    __table_args__ = (Index("ix_pms_claims_patient", "practice_id", "patient_id"),)

    practice_id: Mapped[str] = _practice_id()
    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    service_date: Mapped[date] = mapped_column(Date)
    fee: Mapped[Decimal] = mapped_column(Money())
    ins_pay_estimate: Mapped[Decimal] = mapped_column(Money())
    ins_paid: Mapped[Decimal] = mapped_column(Money())
    writeoff: Mapped[Decimal] = mapped_column(Money())
    date_sent: Mapped[date | None] = mapped_column(Date)
    reason_underpaid: Mapped[str] = mapped_column(Text, default="")


class PmsPayment(Base):
    __tablename__ = "pms_payments"
    __table_args__ = (Index("ix_pms_payments_guarantor", "practice_id", "guarantor_id"),)

    practice_id: Mapped[str] = _practice_id()
    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money())
    paid_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))
    processor_ref: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PmsPaymentPlan(Base):
    __tablename__ = "pms_payment_plans"
    __table_args__ = (Index("ix_pms_payment_plans_guarantor", "practice_id", "guarantor_id"),)

    practice_id: Mapped[str] = _practice_id()
    plan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    total: Mapped[Decimal] = mapped_column(Money())
    installment_amount: Mapped[Decimal] = mapped_column(Money())
    installments: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[str] = mapped_column(String(24))
    first_due: Mapped[date] = mapped_column(Date)
    down_payment: Mapped[Decimal] = mapped_column(Money())
    paid_to_date: Mapped[Decimal] = mapped_column(Money())
    note: Mapped[str] = mapped_column(Text, default="")


class PmsPromise(Base):
    __tablename__ = "pms_promises"
    __table_args__ = (Index("ix_pms_promises_guarantor", "practice_id", "guarantor_id"),)

    practice_id: Mapped[str] = _practice_id()
    promise_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    guarantor_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money())
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(Text, default="")


class PmsAppointment(Base):
    __tablename__ = "pms_appointments"
    __table_args__ = (Index("ix_pms_appointments_patient", "practice_id", "patient_id", "start"),)

    practice_id: Mapped[str] = _practice_id()
    appointment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))


class PmsCommEntry(Base):
    __tablename__ = "pms_comm_log"
    __table_args__ = (Index("ix_pms_comm_log_patient", "practice_id", "patient_id", "at"),)

    practice_id: Mapped[str] = _practice_id()
    comm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    mode: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class PmsWrite(Base):
    """Write-back idempotency: the primary key (practice, key) makes a second write with a key fail."""

    __tablename__ = "pms_writes"

    practice_id: Mapped[str] = _practice_id()
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PmsChange(Base):
    """Which guarantors a given change sequence number touched (read by `changes_since`)."""

    __tablename__ = "pms_changes"

    practice_id: Mapped[str] = _practice_id()
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guarantor_id: Mapped[str] = mapped_column(String(64), primary_key=True)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


practices = _table(PmsPractice)
patients = _table(PmsPatient)
contact_points = _table(PmsContactPoint)
accounts = _table(PmsAccount)
ledger_lines = _table(PmsLedgerLine)
claims = _table(PmsClaim)
payments = _table(PmsPayment)
payment_plans = _table(PmsPaymentPlan)
promises = _table(PmsPromise)
appointments = _table(PmsAppointment)
comm_log = _table(PmsCommEntry)
writes = _table(PmsWrite)
changes = _table(PmsChange)

# Tables holding one practice's data, in load order (practices excluded: it carries the change counter).
DATA_TABLES = (
    patients,
    contact_points,
    accounts,
    ledger_lines,
    claims,
    payments,
    payment_plans,
    promises,
    appointments,
    comm_log,
)

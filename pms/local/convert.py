"""Conversions between the `pms.types` values and rows of the local PMS tables."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from pms.phones import to_e164
from pms.types import (
    ZERO,
    AccountSummary,
    Aging,
    Appointment,
    Claim,
    CommEntry,
    ContactPoint,
    Flag,
    LedgerLine,
    Patient,
    Payment,
    PaymentPlan,
    Promise,
)

Row = Mapping[Any, Any]
CENT = Decimal("0.01")


def money(value: Decimal | int | str | float | None) -> Decimal:
    """A 2-place Decimal (SQLite hands back floats through `Numeric`; they are exact at 2 places)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT)


def name_key(name: str) -> str:
    """Fold a name for matching: accents stripped, case-folded, punctuation and spaces removed.

    "  José  " → "jose", "O'Brien" → "obrien", "Mary-Ann" → "maryann".
    """
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def normalise_contact_value(cp: ContactPoint) -> str:
    if cp.channel == "email":
        return cp.value.strip().lower()
    return to_e164(cp.value) or to_e164(cp.raw) or cp.value.strip()


# ---- to rows ------------------------------------------------------------------------------------


def patient_row(practice_id: str, p: Patient, now: datetime) -> dict[str, Any]:
    do_not_call = p.preferred_contact == "do_not_call"
    return {
        "practice_id": practice_id,
        "patient_id": p.patient_id,
        "guarantor_id": p.guarantor_id,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "first_key": name_key(p.first_name),
        "last_key": name_key(p.last_name),
        "date_of_birth": p.date_of_birth,
        "timezone": p.timezone,
        "language": p.language,
        "status": p.status,
        "preferred_contact": "none" if do_not_call else p.preferred_contact,
        "do_not_call": do_not_call,
        "postal_code": p.postal_code,
        "state": p.state,
        "flags": sorted(p.flags),
        "note": p.note,
        "updated_at": now,
    }


def contact_rows(practice_id: str, p: Patient) -> list[dict[str, Any]]:
    return [
        {
            "practice_id": practice_id,
            "patient_id": p.patient_id,
            "position": i,
            "channel": c.channel,
            "value": normalise_contact_value(c),
            "kind": c.kind,
            "consent": c.sms_consent,
            "is_preferred": c.is_preferred,
            "raw": c.raw,
        }
        for i, c in enumerate(p.contacts)
    ]


def account_row(practice_id: str, a: AccountSummary, now: datetime) -> dict[str, Any]:
    ag = a.aging
    return {
        "practice_id": practice_id,
        "guarantor_id": a.guarantor.patient_id,
        "bal_0_30": money(ag.bal_0_30),
        "bal_31_60": money(ag.bal_31_60),
        "bal_61_90": money(ag.bal_61_90),
        "bal_over_90": money(ag.bal_over_90),
        "total": money(ag.total),
        "insurance_estimate": money(ag.insurance_estimate),
        "writeoff_estimate": money(ag.writeoff_estimate),
        "patient_balance": money(ag.patient_balance),
        "payplan_due": money(ag.payplan_due),
        "as_of": ag.as_of,
        "last_payment_date": a.last_payment_date,
        "last_payment_amount": None if a.last_payment_amount is None else money(a.last_payment_amount),
        "last_statement_date": a.last_statement_date,
        "balance_since": a.balance_since,
        "flags": sorted(a.flags),
        "open_claims": a.open_claims,
        "updated_at": now,
    }


def value_row(practice_id: str, obj: Any, columns: Collection[str]) -> dict[str, Any]:
    """Row for the record types whose fields map 1:1 onto `columns` (fields without a column are
    left out, so an additive field in `pms.types` cannot break loading)."""
    row = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name in columns}
    for name, value in row.items():
        if isinstance(value, Decimal):
            row[name] = money(value)
    row["practice_id"] = practice_id
    return row


# ---- from rows ----------------------------------------------------------------------------------


def contact_from_row(r: Row) -> ContactPoint:
    return ContactPoint(
        channel=r["channel"],
        value=r["value"],
        kind=r["kind"],
        sms_consent=r["consent"],
        is_preferred=bool(r["is_preferred"]),
        raw=r["raw"],
    )


def patient_from_row(r: Row, contacts: Iterable[ContactPoint]) -> Patient:
    return Patient(
        patient_id=r["patient_id"],
        guarantor_id=r["guarantor_id"],
        first_name=r["first_name"],
        last_name=r["last_name"],
        date_of_birth=r["date_of_birth"],
        contacts=tuple(contacts),
        timezone=r["timezone"],
        language=r["language"],
        status=r["status"],
        preferred_contact="do_not_call" if r["do_not_call"] else r["preferred_contact"],
        postal_code=r["postal_code"],
        state=r["state"],
        flags=frozenset(r["flags"] or ()),
        note=r["note"] or "",
    )


def account_flags(stored: Iterable[str], patient_balance: Decimal, guarantor: Patient) -> frozenset[str]:
    """Stored flags plus the ones that follow from the data: a credit balance and a deceased guarantor."""
    flags = set(stored)
    flags.discard(Flag.CREDIT_BALANCE)
    if patient_balance < 0:
        flags.add(Flag.CREDIT_BALANCE)
    if guarantor.status == "deceased":
        flags.add(Flag.DECEASED)
    return frozenset(str(f) for f in flags)


def account_from_row(r: Row, guarantor: Patient) -> AccountSummary:
    balance = money(r["patient_balance"])
    aging = Aging(
        bal_0_30=money(r["bal_0_30"]),
        bal_31_60=money(r["bal_31_60"]),
        bal_61_90=money(r["bal_61_90"]),
        bal_over_90=money(r["bal_over_90"]),
        total=money(r["total"]),
        insurance_estimate=money(r["insurance_estimate"]),
        writeoff_estimate=money(r["writeoff_estimate"]),
        patient_balance=balance,
        payplan_due=money(r["payplan_due"]),
        as_of=r["as_of"],
    )
    last_amount = r["last_payment_amount"]
    return AccountSummary(
        guarantor=guarantor,
        aging=aging,
        last_payment_date=r["last_payment_date"],
        last_payment_amount=None if last_amount is None else money(last_amount),
        last_statement_date=r["last_statement_date"],
        balance_since=r["balance_since"],
        flags=account_flags(r["flags"] or (), balance, guarantor),
        open_claims=int(r["open_claims"] or 0),
    )


def empty_account(guarantor: Patient) -> AccountSummary:
    return AccountSummary(guarantor=guarantor, aging=Aging(), flags=account_flags((), ZERO, guarantor))


def ledger_from_row(r: Row) -> LedgerLine:
    return LedgerLine(
        line_id=r["line_id"],
        patient_id=r["patient_id"],
        kind=r["kind"],
        posted_date=r["posted_date"],
        amount=money(r["amount"]),
        description=r["description"] or "",
        code=r["code"],
        service_date=r["service_date"],
        tooth=r["tooth"],
        claim_id=r["claim_id"],
        insurance_pending=bool(r["insurance_pending"]),
    )


def claim_from_row(r: Row) -> Claim:
    return Claim(
        claim_id=r["claim_id"],
        patient_id=r["patient_id"],
        carrier=r["carrier"],
        status=r["status"],
        service_date=r["service_date"],
        fee=money(r["fee"]),
        ins_pay_estimate=money(r["ins_pay_estimate"]),
        ins_paid=money(r["ins_paid"]),
        writeoff=money(r["writeoff"]),
        date_sent=r["date_sent"],
        reason_underpaid=r["reason_underpaid"] or "",
    )


def payment_from_row(r: Row) -> Payment:
    return Payment(
        payment_id=r["payment_id"],
        guarantor_id=r["guarantor_id"],
        amount=money(r["amount"]),
        paid_on=r["paid_on"],
        method=r["method"],
        processor_ref=r["processor_ref"],
        note=r["note"] or "",
        posted_at=r["posted_at"],
    )


def plan_from_row(r: Row) -> PaymentPlan:
    return PaymentPlan(
        plan_id=r["plan_id"],
        guarantor_id=r["guarantor_id"],
        status=r["status"],
        total=money(r["total"]),
        installment_amount=money(r["installment_amount"]),
        installments=int(r["installments"]),
        frequency=r["frequency"],
        first_due=r["first_due"],
        down_payment=money(r["down_payment"]),
        paid_to_date=money(r["paid_to_date"]),
        note=r["note"] or "",
    )


def promise_from_row(r: Row) -> Promise:
    return Promise(
        promise_id=r["promise_id"],
        guarantor_id=r["guarantor_id"],
        amount=money(r["amount"]),
        due_on=r["due_on"],
        status=r["status"],
        created_at=r["created_at"],
        note=r["note"] or "",
    )


def appointment_from_row(r: Row) -> Appointment:
    return Appointment(
        appointment_id=r["appointment_id"],
        patient_id=r["patient_id"],
        start=cast(datetime, r["start"]),
        status=r["status"],
    )


def comm_from_row(r: Row) -> CommEntry:
    return CommEntry(
        comm_id=r["comm_id"],
        patient_id=r["patient_id"],
        at=r["at"],
        mode=r["mode"],
        direction=r["direction"],
        note=r["note"] or "",
    )

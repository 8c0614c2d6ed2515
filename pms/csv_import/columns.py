"""Column vocabularies of the aging exports and the contacts file, and header resolution.

Headers are compared after `norm()` (case-, space-, underscore- and dot-insensitive). Each vendor
format accepts that vendor's own spellings only, so a Dentrix file passed as Open Dental is caught and
reported with the columns it lacks; "generic" accepts every alias.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

AgingFormat = Literal["opendental", "dentrix", "generic"]
_STRIP = re.compile(r"[\s_.$()]+")


def norm(header: str) -> str:
    return _STRIP.sub("", header.replace("\ufeff", "")).casefold()


def _aliases(*names: str) -> frozenset[str]:
    return frozenset(norm(n) for n in names)


OPENDENTAL: dict[str, frozenset[str]] = {
    "guarantor_id": _aliases("PatNum", "Guarantor Num", "GuarNum", "Guarantor ID"),
    "guarantor_name": _aliases("Guarantor", "Guarantor Name", "Name"),
    "bal_0_30": _aliases("0-30 Days", "0-30"),
    "bal_31_60": _aliases("31-60 Days", "31-60"),
    "bal_61_90": _aliases("61-90 Days", "61-90"),
    "bal_over_90": _aliases("> 90 Days", ">90", "Over 90 Days", "Over 90", "90+ Days"),
    "total": _aliases("Total", "BalTotal"),
    "writeoff_estimate": _aliases("-W/O Est", "W/O Est", "-WriteOff Est", "WriteOff Est"),
    "insurance_estimate": _aliases("-Ins Est", "Ins Est", "InsEst"),
    "patient_estimate": _aliases("Patient", "Pat Est", "Patient Est", "PatEstBal"),
    "last_payment_date": _aliases("Last Pay Date", "Last Payment Date", "DateLastPay"),
}
DENTRIX: dict[str, frozenset[str]] = {
    "guarantor_id": _aliases("Chart #", "Chart", "Chart Number", "Acct #", "Account #", "Account Number"),
    "guarantor_name": _aliases("Guarantor", "Guarantor Name", "Name", "Responsible Party"),
    "phone": _aliases("Phone", "Home Phone", "Phone Number"),
    "bal_0_30": _aliases("0-30", "Current"),
    "bal_31_60": _aliases("31-60"),
    "bal_61_90": _aliases("61-90"),
    "bal_over_90": _aliases("91+", "Over 90", "91 and Over", ">90"),
    "total": _aliases("Total", "Balance"),
    "insurance_estimate": _aliases("INSR Estimate", "Insurance Estimate", "INSR Est"),
    "patient_estimate": _aliases("Patient Portion", "Guarantor Portion", "Pat Portion"),
    "last_payment": _aliases("Last Pmt", "Last Payment"),
    "last_statement_date": _aliases("Last Statement", "Last Stmt", "Last Statement Date"),
    "agreed_payment": _aliases("Agreed Pmt", "Agreed Payment"),
}
_GENERIC_EXTRA: dict[str, frozenset[str]] = {
    "guarantor_id": _aliases(
        "acct", "account", "id", "patient id", "account id", "guarantor_id", "patient_id"
    ),
    "guarantor_name": _aliases("responsible party", "patient name", "guarantor_name", "full name"),
    "first_name": _aliases("first", "first name", "fname", "first_name"),
    "last_name": _aliases("last", "last name", "lname", "last_name"),
    "phone": _aliases("cell", "cell phone", "mobile", "mobile phone", "wireless phone", "home phone"),
    "dob": _aliases("dob", "birthdate", "date of birth", "birth date"),
    "email": _aliases("email", "e-mail", "email address"),
    "bal_0_30": _aliases("0-30 days", "current", "bal_0_30", "0-30 day"),
    "bal_31_60": _aliases("31-60 days", "30-60", "bal_31_60"),
    "bal_61_90": _aliases("61-90 days", "60-90", "bal_61_90"),
    "bal_over_90": _aliases("90+", "> 90", "over 90", "balover90", "bal_over_90", "91+ days", "90 +"),
    "total": _aliases("balance", "total balance", "total_balance", "baltotal"),
    "insurance_estimate": _aliases("ins est", "insurance", "insurance estimate", "insurance_estimate", "ins"),
    "writeoff_estimate": _aliases("writeoff", "write-off estimate", "writeoff_estimate", "w/o"),
    "patient_estimate": _aliases(
        "pat portion",
        "patient portion",
        "patient balance",
        "patient_balance",
        "patient due",
        "patient_estimate",
        "guarantor portion",
    ),
    "last_payment_date": _aliases("last payment date", "last_payment_date"),
    "last_payment_amount": _aliases("last payment amount", "last pay amt", "last_payment_amount"),
}
GENERIC: dict[str, frozenset[str]] = {
    field: OPENDENTAL.get(field, frozenset())
    | DENTRIX.get(field, frozenset())
    | _GENERIC_EXTRA.get(field, frozenset())
    for field in {*OPENDENTAL, *DENTRIX, *_GENERIC_EXTRA}
}
FORMATS: dict[str, dict[str, frozenset[str]]] = {
    "opendental": OPENDENTAL,
    "dentrix": DENTRIX,
    "generic": GENERIC,
}
LABELS = {
    "opendental": "Open Dental 'Aging of A/R'",
    "dentrix": "Dentrix 'Aging Report'",
    "generic": "generic aging",
}
BUCKETS = ("bal_0_30", "bal_31_60", "bal_61_90", "bal_over_90")
# What each format must have; shown with the vendor's own column names when missing.
REQUIRED: dict[str, dict[str, str]] = {
    "opendental": {
        "guarantor_name": "Guarantor",
        "bal_0_30": "0-30 Days",
        "bal_31_60": "31-60 Days",
        "bal_61_90": "61-90 Days",
        "bal_over_90": "> 90 Days",
        "total": "Total",
        "insurance_estimate": "-Ins Est",
        "patient_estimate": "Patient",
    },
    "dentrix": {
        "guarantor_name": "Guarantor",
        "bal_0_30": "0-30",
        "bal_31_60": "31-60",
        "bal_61_90": "61-90",
        "bal_over_90": "91+",
        "total": "Total",
        "insurance_estimate": "INSR Estimate",
        "patient_estimate": "Patient Portion",
    },
    "generic": {
        "bal_0_30": "0-30",
        "bal_31_60": "31-60",
        "bal_61_90": "61-90",
        "bal_over_90": "90+",
        "total": "Total",
    },
}

CONTACTS: dict[str, frozenset[str]] = {
    "patient_id": _aliases("patient_id", "PatNum", "Chart #", "Chart", "Patient #", "id"),
    "guarantor_id": _aliases("guarantor_id", "Guarantor", "GuarNum", "Guarantor #"),
    "first": _aliases("first", "first name", "FName", "first_name"),
    "last": _aliases("last", "last name", "LName", "last_name"),
    "dob": _aliases("dob", "birthdate", "date of birth", "birth date"),
    "cell": _aliases("cell", "mobile", "cell phone", "WirelessPhone", "wireless phone", "mobile phone"),
    "home": _aliases("home", "home phone", "HmPhone", "phone"),
    "work": _aliases("work", "work phone", "WkPhone"),
    "email": _aliases("email", "e-mail", "email address"),
    "sms_ok": _aliases("sms_ok", "TxtMsgOk", "text ok", "sms", "sms consent", "text consent"),
    "preferred_contact": _aliases(
        "preferred_contact", "PreferContactMethod", "preferred", "preferred contact"
    ),
    "language": _aliases("language", "lang"),
    "status": _aliases("status", "PatStatus", "patient status"),
    "state": _aliases("state", "st"),
    "zip": _aliases("zip", "zip code", "zipcode", "postal code", "postal_code"),
    "timezone": _aliases("timezone", "time zone", "tz"),
    "note": _aliases("note", "notes", "FamFinUrgNote", "billing note"),
}
CONTACTS_REQUIRED = {"patient_id": "patient_id", "first": "first", "last": "last"}


class CsvFormatError(ValueError):
    """The file is not the format the caller named (or not an aging export at all)."""

    def __init__(self, message: str, missing: Sequence[str] = (), suggested: str | None = None) -> None:
        super().__init__(message)
        self.missing = list(missing)
        self.suggested = suggested


@dataclass(frozen=True, slots=True)
class Columns:
    index: dict[str, int]  # canonical field -> column index

    def get(self, row: Sequence[str], field: str) -> str:
        i = self.index.get(field)
        return row[i].strip() if i is not None and i < len(row) else ""


def resolve(header: Sequence[str], vocabulary: dict[str, frozenset[str]]) -> Columns:
    """Map canonical fields to column indexes; the first matching column wins, except that a second
    'Patient' column in an aging header is the patient estimate and the first is the name."""
    index: dict[str, int] = {}
    keys = [norm(h) for h in header]
    for i, key in enumerate(keys):
        for field, names in vocabulary.items():
            if key in names and field not in index:
                index[field] = i
                break
    patient_cols = [i for i, k in enumerate(keys) if k == "patient"]
    if "patient_estimate" in vocabulary and patient_cols:
        if len(patient_cols) > 1:
            index["guarantor_name"], index["patient_estimate"] = patient_cols[0], patient_cols[-1]
        elif "guarantor_name" not in index and "first_name" not in index:
            index["guarantor_name"] = patient_cols[0]
            index.pop("patient_estimate", None)
    return Columns(index)


def score(header: Sequence[str], vocabulary: dict[str, frozenset[str]]) -> int:
    """How many known columns a row has: used to find the header row under a report's title lines."""
    return len(resolve(header, vocabulary).index)


def _missing(header: Sequence[str], fmt: str) -> tuple[Columns, list[str]]:
    cols = resolve(header, FORMATS[fmt])
    present = cols.index.keys()
    missing = [label for field, label in REQUIRED[fmt].items() if field not in present]
    if fmt == "generic":
        if not ({"guarantor_name", "guarantor_id"} & present or {"first_name", "last_name"} <= present):
            missing.insert(0, "Guarantor (or Account #, or First/Last name)")
    elif "guarantor_name" not in present and "guarantor_id" in present:
        missing.remove(REQUIRED[fmt]["guarantor_name"])  # names can come from the contacts file
    return cols, missing


def check_format(header: Sequence[str], fmt: AgingFormat) -> Columns:
    """The header's columns for `fmt`, or CsvFormatError naming what is missing (and the format the
    file does look like, if any)."""
    cols, missing = _missing(header, fmt)
    if not missing:
        return cols
    candidates = ("opendental", "dentrix", "generic")
    suggested = next((f for f in candidates if f != fmt and not _missing(header, f)[1]), None)
    shown = ", ".join(repr(h) for h in header if h.strip())
    hint = f" It looks like a {LABELS[suggested]} export: use --format {suggested}." if suggested else ""
    raise CsvFormatError(
        f"Not a {LABELS[fmt]} export: missing column(s) {', '.join(repr(m) for m in missing)}. "
        f"Found: {shown}.{hint}",
        missing,
        suggested,
    )

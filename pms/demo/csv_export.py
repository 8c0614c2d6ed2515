"""A snapshot as the CSV files practices actually export: an A/R aging report (Open Dental "Aging of
A/R" or Dentrix "Aging Report" style) and a patient contacts list. Inputs for the CSV importer.

Money is written like the reports print it ("$1,234.56", credits "(12.00)"), dates MM/DD/YYYY,
names "Last, First", phones as the front desk typed them. Files use Windows line endings; the
Dentrix file carries a UTF-8 byte-order mark, as Windows exports usually do.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pms.snapshot import PracticeSnapshot
from pms.types import AccountSummary, Patient, PaymentPlan

OD_COLUMNS = [
    "Guarantor",
    "0-30 Days",
    "31-60 Days",
    "61-90 Days",
    "> 90 Days",
    "Total",
    "-W/O Est",
    "-Ins Est",
    "Patient",
    "Last Pay Date",
]
DENTRIX_COLUMNS = [
    "Guarantor",
    "Chart #",
    "Phone",
    "0-30",
    "31-60",
    "61-90",
    "91+",
    "Total",
    "INSR Estimate",
    "Patient Portion",
    "Last Pmt",
    "Last Statement",
    "Agreed Pmt",
]
CONTACT_COLUMNS = [
    "patient_id",
    "guarantor_id",
    "first",
    "last",
    "dob",
    "cell",
    "home",
    "work",
    "email",
    "sms_ok",
    "preferred_contact",
    "language",
    "status",
    "state",
    "zip",
    "note",
]


def report_money(amount: Decimal) -> str:
    """'$1,234.56'; a credit as '(12.00)'."""
    return f"({-amount:,.2f})" if amount < 0 else f"${amount:,.2f}"


def _date(d: object) -> str:
    return d.strftime("%m/%d/%Y") if d is not None else ""  # type: ignore[attr-defined]


def _name(p: Patient) -> str:
    return f"{p.last_name}, {p.first_name}"


def _raw_phone(p: Patient, *kinds: str) -> str:
    for kind in kinds:
        for c in p.phones:
            if c.kind == kind:
                return c.raw or c.value
    return ""


def write_aging_csv(
    snapshot: PracticeSnapshot,
    path: Path | str,
    fmt: Literal["opendental", "dentrix"],
    *,
    include_ids: bool = True,
    include_zero: bool = False,
) -> int:
    """Write the aging report; returns the number of account rows.

    Only accounts with a non-zero total are listed (like the real reports) unless `include_zero`.
    `include_ids=False` drops the Open Dental "PatNum" column (it is optional in that report), so the
    importer must derive ids; Dentrix always prints the chart number.
    """
    rows = [a for a in snapshot.accounts if include_zero or a.aging.total != 0]
    rows.sort(key=lambda a: (a.guarantor.last_name.lower(), a.guarantor.first_name.lower(), a.patient_id))
    plans = {pl.guarantor_id: pl for pl in snapshot.plans if pl.status in ("active", "past_due")}
    encoding = "utf-8-sig" if fmt == "dentrix" else "utf-8"
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        title = "Aging of A/R" if fmt == "opendental" else "Aging Report"
        w.writerow([f"{snapshot.practice.name} - {title}"])
        w.writerow([f"As of {_date(snapshot.as_of)}"])
        w.writerow([])
        if fmt == "opendental":
            w.writerow((["PatNum"] if include_ids else []) + OD_COLUMNS)
        else:
            w.writerow(DENTRIX_COLUMNS)
        for a in rows:
            w.writerow(_od_row(a, include_ids) if fmt == "opendental" else _dentrix_row(a, plans))
        totals = [
            sum((getattr(a.aging, f) for a in rows), Decimal("0.00"))
            for f in ("bal_0_30", "bal_31_60", "bal_61_90", "bal_over_90", "total")
        ]
        if fmt == "opendental":
            w.writerow(([""] if include_ids else []) + ["Totals", *map(report_money, totals)])
        else:
            w.writerow(["Report Totals", "", "", *map(report_money, totals)])
    return len(rows)


def _od_row(a: AccountSummary, include_ids: bool) -> list[str]:
    ag = a.aging
    row = [
        _name(a.guarantor),
        *map(
            report_money,
            (
                ag.bal_0_30,
                ag.bal_31_60,
                ag.bal_61_90,
                ag.bal_over_90,
                ag.total,
                ag.writeoff_estimate,
                ag.insurance_estimate,
                ag.patient_balance,
            ),
        ),
        _date(a.last_payment_date),
    ]
    return ([a.patient_id] if include_ids else []) + row


def _dentrix_row(a: AccountSummary, plans: dict[str, PaymentPlan]) -> list[str]:
    ag = a.aging
    g = a.guarantor
    pref = {"home": ("home", "mobile", "work"), "work": ("work", "mobile", "home")}.get(
        g.preferred_contact, ("mobile", "home", "work")
    )
    last_pmt = ""
    if a.last_payment_date is not None:
        last_pmt = f"{_date(a.last_payment_date)} {report_money(a.last_payment_amount or Decimal('0.00'))}"
    plan = plans.get(a.patient_id)
    return [
        _name(g),
        a.patient_id,
        _raw_phone(g, *pref),
        *map(
            report_money,
            (
                ag.bal_0_30,
                ag.bal_31_60,
                ag.bal_61_90,
                ag.bal_over_90,
                ag.total,
                ag.insurance_estimate + ag.writeoff_estimate,
                ag.patient_balance,
            ),
        ),
        last_pmt,
        _date(a.last_statement_date),
        report_money(plan.installment_amount) if plan is not None else "",
    ]


def write_contacts_csv(snapshot: PracticeSnapshot, path: Path | str) -> int:
    """Write one row per patient (all family members); returns the number of rows."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(CONTACT_COLUMNS)
        for p in snapshot.patients:
            mobile = next((c for c in p.phones if c.kind == "mobile"), None)
            email = p.emails[0] if p.emails else None
            w.writerow(
                [
                    p.patient_id,
                    p.guarantor_id,
                    p.first_name,
                    p.last_name,
                    _date(p.date_of_birth),
                    _raw_phone(p, "mobile"),
                    _raw_phone(p, "home", "landline"),
                    _raw_phone(p, "work"),
                    (email.raw or email.value) if email else "",
                    {"yes": "Yes", "no": "No", "unknown": "Unknown"}[mobile.sms_consent] if mobile else "",
                    p.preferred_contact,
                    p.language,
                    p.status.capitalize(),
                    p.state or "",
                    p.postal_code or "",
                    p.note,
                ]
            )
    return len(snapshot.patients)

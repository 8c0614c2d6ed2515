"""A/R aging export (+ optional contacts export) → `PracticeSnapshot` of patients and accounts.

Every data row either becomes an account or is rejected with a reason; report total rows, title
lines and trailing blank lines are reported in `warnings`. Nothing is dropped silently.
Invariants of every imported account: patient balance = total − insurance estimate − write-off
estimate, and (unless the family is in credit) the aging buckets do not exceed the total.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pms.csv_import import columns as C
from pms.csv_import.contacts import ContactsResult, parse_contacts
from pms.csv_import.reader import is_blank, read_table
from pms.csv_import.values import (
    clean_id,
    derived_id,
    flags_from_note,
    fold,
    parse_date,
    parse_money,
    split_name,
)
from pms.phones import to_e164
from pms.snapshot import PracticeSnapshot
from pms.types import ZERO, AccountSummary, Aging, ContactPoint, Flag, Patient, PracticeInfo

TOLERANCE = Decimal("0.02")
_TOTAL_ROW = re.compile(r"^(report\s+|grand\s+)?totals?\b", re.I)
_DATE_IN_TEXT = re.compile(r"\b(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})\b")


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row_number: int  # 1-based line in the file, as a spreadsheet shows it
    raw: dict[str, str]
    reason: str
    file: Literal["aging", "contacts"] = "aging"


@dataclass
class ImportResult:
    snapshot: PracticeSnapshot
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    agreed_payments: dict[str, Decimal] = field(default_factory=dict)  # Dentrix "Agreed Pmt" by guarantor


class _Reject(Exception):
    pass


@dataclass
class _Row:
    gid: str
    first: str
    last: str
    phone: str | None
    phone_raw: str
    dob: date | None
    aging: Aging
    last_payment_date: date | None = None
    last_payment_amount: Decimal | None = None
    last_statement: date | None = None
    agreed: Decimal | None = None


def parse_aging(
    path: Path | str,
    fmt: Literal["opendental", "dentrix", "generic"],
    *,
    as_of: date,
    contacts_path: Path | str | None = None,
    practice: PracticeInfo,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Parse an aging export. Raises `CsvFormatError` when the file is not `fmt` (naming the missing
    columns) and `ValueError` when no header row can be found."""
    table = read_table(path, lambda h: C.score(h, C.GENERIC))
    cols = C.check_format(table.header, fmt)
    result = ImportResult(PracticeSnapshot(practice=practice, as_of=as_of), warnings=list(table.warnings))
    _check_report_date(table.preamble, as_of, result.warnings)
    contacts = parse_contacts(contacts_path, as_of=as_of) if contacts_path else ContactsResult()
    result.warnings.extend(contacts.warnings)
    result.rejected.extend(RejectedRow(n, raw, why, "contacts") for n, raw, why in contacts.rejected)
    by_name: dict[tuple[str, str], list[Patient]] = {}
    for p in contacts.patients.values():
        if p.patient_id == p.guarantor_id:
            by_name.setdefault((fold(p.last_name), fold(p.first_name)), []).append(p)

    rows = table.rows
    last_data = max((i for i, (_, cells) in enumerate(rows) if not is_blank(cells)), default=-1)
    trailing = len(rows) - 1 - last_data
    if trailing:
        result.warnings.append(f"{trailing} blank line(s) at the end of the file ignored")
    seen: dict[str, int] = {}
    extra_patients: list[Patient] = []
    totals_skipped = derived = 0
    unsure: set[str] = set()
    n = last_data + 1
    for i, (line, cells) in enumerate(rows[:n]):
        if progress and (i % 100 == 0):
            progress(i, n)
        raw = {
            h or f"column {k + 1}": (cells[k] if k < len(cells) else "") for k, h in enumerate(table.header)
        }
        if len(cells) > len(table.header) and any(c.strip() for c in cells[len(table.header) :]):
            raw.update({f"column {k + 1}": cells[k] for k in range(len(table.header), len(cells))})
            result.rejected.append(
                RejectedRow(
                    line,
                    raw,
                    f"row has {len(cells)} fields but the header has {len(table.header)}: an unquoted comma?",
                )
            )
            continue
        if is_blank(cells):
            result.rejected.append(RejectedRow(line, raw, "blank row"))
            continue
        label = cols.get(cells, "guarantor_name") or next((c.strip() for c in cells if c.strip()), "")
        if _TOTAL_ROW.match(label) and "," not in label and not cols.get(cells, "guarantor_id"):
            totals_skipped += 1
            result.warnings.append(f"line {line}: report total row skipped ({label!r})")
            continue
        try:
            row = _parse_row(cols, table.header, cells, fmt, as_of, contacts)
            if not row.gid:
                row.gid = _match_by_name(row, by_name, line, result.warnings)
                if not row.gid:
                    row.gid = derived_id(row.first, row.last, row.phone, row.dob)
                    derived += 1
                    unsure |= _possible_owners(cols, cells, by_name)
            if row.gid in seen:
                raise _Reject(
                    f"duplicate account {row.gid} (also on line {seen[row.gid]})"
                    + (
                        "; add an id column to tell these guarantors apart"
                        if row.gid.startswith("csv-")
                        else ""
                    )
                )
        except _Reject as exc:
            reason = str(exc)
            if len(cells) > len(table.header):
                reason += (
                    f" (row has {len(cells)} fields but the header has {len(table.header)}: unquoted comma?)"
                )
            result.rejected.append(RejectedRow(line, raw, reason))
            unsure |= _possible_owners(cols, cells, by_name)
            continue
        seen[row.gid] = line
        guarantor = contacts.patients.get(row.gid)
        if guarantor is None:
            guarantor = _patient_from_row(row)
            extra_patients.append(guarantor)
        else:
            _compare_names(row, guarantor, line, result.warnings)
        if row.agreed is not None:
            result.agreed_payments[row.gid] = row.agreed
        result.snapshot.accounts.append(_account(guarantor, row))
    if progress:
        progress(n, n)

    # The report lists every family that owes or is owed; other guarantors in the contacts file are at
    # $0.00, unless a rejected or ambiguous row might be theirs: those get no account rather than a wrong one.
    zero = 0
    for p in contacts.patients.values():
        if p.patient_id == p.guarantor_id and p.patient_id not in seen:
            if p.patient_id in unsure:
                result.warnings.append(
                    f"no account created for {p.patient_id} ({p.last_name}, {p.first_name}): "
                    "a rejected or ambiguous row may be theirs"
                )
                continue
            result.snapshot.accounts.append(_account(p, None, as_of))
            zero += 1
    result.snapshot.patients = [*contacts.patients.values(), *extra_patients]
    accounts = result.snapshot.accounts
    aging_rejects = sum(r.file == "aging" for r in result.rejected)
    result.counts = {
        "rows": n - totals_skipped,
        "imported": len(seen),
        "rejected": aging_rejects,
        "total_rows_skipped": totals_skipped,
        "derived_ids": derived,
        "zero_balance_accounts": zero,
        "credit_balances": sum(Flag.CREDIT_BALANCE.value in a.flags for a in accounts),
        "insurance_pending": sum(Flag.INSURANCE_PENDING.value in a.flags for a in accounts),
        "contacts": len(contacts.patients),
        "contacts_rejected": len(contacts.rejected),
    }
    return result


def _money(cols: C.Columns, header: list[str], cells: list[str], fld: str) -> Decimal | None:
    text = cols.get(cells, fld)
    try:
        return parse_money(text)
    except ValueError:
        raise _Reject(f"bad amount in {header[cols.index[fld]]!r}: {text!r}") from None


def _parse_row(
    cols: C.Columns, header: list[str], cells: list[str], fmt: str, as_of: date, contacts: ContactsResult
) -> _Row:
    gid = clean_id(cols.get(cells, "guarantor_id"))
    name = split_name(cols.get(cells, "guarantor_name"))
    if name is None and ("first_name" in cols.index or "last_name" in cols.index):
        first, last = cols.get(cells, "first_name"), cols.get(cells, "last_name")
        name = (first, last) if last else None
    if name is None:
        known = contacts.patients.get(gid) if gid else None
        if known is None:
            raise _Reject(
                "missing guarantor name" + (f" (and id {gid} is not in the contacts file)" if gid else "")
            )
        name = (known.first_name, known.last_name)
    phone_raw = cols.get(cells, "phone")
    try:
        dob = parse_date(cols.get(cells, "dob"), pivot_year=as_of.year)
    except ValueError as exc:
        raise _Reject(str(exc)) from None
    buckets = [_money(cols, header, cells, b) or ZERO for b in C.BUCKETS]
    total = _money(cols, header, cells, "total")
    if total is None:
        raise _Reject("missing Total")
    ins = _money(cols, header, cells, "insurance_estimate") or ZERO
    wo = ZERO if fmt == "dentrix" else _money(cols, header, cells, "writeoff_estimate") or ZERO
    expected = total - ins - wo
    reported = _money(cols, header, cells, "patient_estimate")
    if reported is not None and abs(reported - expected) > TOLERANCE:
        raise _Reject(f"patient amount {reported} does not equal Total − Ins Est − W/O Est = {expected}")
    if total >= 0 and sum(buckets) > total + TOLERANCE:
        raise _Reject(f"aging buckets add up to {sum(buckets)}, more than the Total {total}")
    last_date, last_amount = _last_payment(cols, cells, as_of)
    try:
        statement = parse_date(cols.get(cells, "last_statement_date"), pivot_year=as_of.year)
        agreed = parse_money(cols.get(cells, "agreed_payment"))
    except ValueError as exc:
        raise _Reject(str(exc)) from None
    return _Row(
        gid=gid,
        first=name[0],
        last=name[1],
        phone=to_e164(phone_raw) if phone_raw else None,
        phone_raw=phone_raw,
        dob=dob,
        aging=Aging(
            bal_0_30=buckets[0],
            bal_31_60=buckets[1],
            bal_61_90=buckets[2],
            bal_over_90=buckets[3],
            total=total,
            insurance_estimate=ins,
            writeoff_estimate=wo,
            patient_balance=expected,
            as_of=as_of,
        ),
        last_payment_date=last_date,
        last_payment_amount=last_amount,
        last_statement=statement,
        agreed=agreed,
    )


def _last_payment(cols: C.Columns, cells: list[str], as_of: date) -> tuple[date | None, Decimal | None]:
    """Open Dental 'Last Pay Date' or Dentrix 'Last Pmt' ('10/15/2026 $85.00', either part optional)."""
    text = " ".join(filter(None, (cols.get(cells, "last_payment_date"), cols.get(cells, "last_payment"))))
    amount_text = cols.get(cells, "last_payment_amount")
    day: date | None = None
    amount: Decimal | None = None
    try:
        for token in text.split():
            if "/" in token or (len(token) == 10 and token[4] == "-"):
                day = parse_date(token, pivot_year=as_of.year)
            else:
                amount = parse_money(token)
        if amount_text:
            amount = parse_money(amount_text)
    except ValueError as exc:
        raise _Reject(f"bad last payment: {exc}") from None
    return day, amount


def _possible_owners(
    cols: C.Columns, cells: list[str], by_name: dict[tuple[str, str], list[Patient]]
) -> set[str]:
    """Contacts guarantors a row that could not be imported (or only under a derived id) may belong to."""
    gid = clean_id(cols.get(cells, "guarantor_id"))
    if gid:
        return {gid}
    name = split_name(cols.get(cells, "guarantor_name"))
    if name is None:
        return set()
    return {p.patient_id for p in by_name.get((fold(name[1]), fold(name[0])), [])}


def _match_by_name(
    row: _Row, by_name: dict[tuple[str, str], list[Patient]], line: int, warnings: list[str]
) -> str:
    candidates = by_name.get((fold(row.last), fold(row.first)), [])
    if len(candidates) > 1 and row.phone:
        candidates = [p for p in candidates if any(c.value == row.phone for c in p.phones)] or candidates
    if len(candidates) == 1:
        return candidates[0].patient_id
    if len(candidates) > 1:
        ids = ", ".join(p.patient_id for p in candidates)
        warnings.append(
            f"line {line}: {row.last}, {row.first} matches several guarantors in the contacts file "
            f"({ids}); imported under a derived id"
        )
    return ""


def _compare_names(row: _Row, p: Patient, line: int, warnings: list[str]) -> None:
    if fold(row.last) != fold(p.last_name) or (row.first and fold(row.first) != fold(p.first_name)):
        warnings.append(
            f"line {line}: name {row.last}, {row.first} differs from the contacts file "
            f"({p.last_name}, {p.first_name}) for account {p.patient_id}; kept the contacts name"
        )
    if p.patient_id != p.guarantor_id:
        warnings.append(
            f"line {line}: account {p.patient_id} is a dependant of {p.guarantor_id} in the contacts file"
        )


def _patient_from_row(row: _Row) -> Patient:
    contacts: tuple[ContactPoint, ...] = ()
    if row.phone:
        contacts = (ContactPoint("phone", row.phone, "home", "unknown", False, row.phone_raw),)
    return Patient(
        patient_id=row.gid,
        guarantor_id=row.gid,
        first_name=row.first,
        last_name=row.last,
        date_of_birth=row.dob,
        contacts=contacts,
    )


def _account(g: Patient, row: _Row | None, as_of: date | None = None) -> AccountSummary:
    aging = row.aging if row else Aging(as_of=as_of)
    flags = set(flags_from_note(g.note)) | set(g.flags)
    if g.status == "deceased":
        flags.add(Flag.DECEASED.value)
    if aging.total < 0:
        flags.add(Flag.CREDIT_BALANCE.value)
    if aging.total > 0 and aging.patient_balance <= 0 and aging.insurance_estimate > 0:
        flags.add(Flag.INSURANCE_PENDING.value)
    return AccountSummary(
        guarantor=g,
        aging=aging,
        last_payment_date=row.last_payment_date if row else None,
        last_payment_amount=row.last_payment_amount if row else None,
        last_statement_date=row.last_statement if row else None,
        flags=frozenset(flags),
    )


def _check_report_date(preamble: list[str], as_of: date, warnings: list[str]) -> None:
    for text in preamble:
        m = _DATE_IN_TEXT.search(text)
        if m:
            try:
                stated = parse_date(m.group(1), pivot_year=as_of.year)
            except ValueError:
                continue
            if stated != as_of:
                warnings.append(f"the report says {text!r} but the import is as of {as_of.isoformat()}")
            return

"""The patient contacts export: one row per patient with ids, names, birthday, phones, email and
contact preferences. Merged with the aging report by guarantor id (or by name when the report has no
ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pms.csv_import import columns as C
from pms.csv_import.geo import timezone_for_state
from pms.csv_import.reader import is_blank, read_table
from pms.csv_import.values import (
    PATIENT_LEVEL_FLAGS,
    clean_id,
    flags_from_note,
    parse_date,
    parse_language,
    parse_preferred,
    parse_sms,
    parse_status,
)
from pms.phones import to_e164
from pms.types import ContactPoint, Patient, PhoneKind, PreferredContact


@dataclass
class ContactsResult:
    patients: dict[str, Patient] = field(default_factory=dict)  # in file order
    rejected: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _valid_tz(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def parse_contacts(path: Path | str, *, as_of: date) -> ContactsResult:
    table = read_table(path, lambda h: C.score(h, C.CONTACTS))
    cols = C.resolve(table.header, C.CONTACTS)
    missing = [label for f, label in C.CONTACTS_REQUIRED.items() if f not in cols.index]
    if missing:
        raise C.CsvFormatError(
            f"Contacts file is missing column(s) {', '.join(map(repr, missing))}. "
            f"Found: {', '.join(map(repr, table.header))}.",
            missing,
        )
    out = ContactsResult(warnings=list(table.warnings))
    seen: dict[str, int] = {}
    blank = 0
    for line, cells in table.rows:
        if is_blank(cells):
            blank += 1
            continue
        raw = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(table.header)}
        pid = clean_id(cols.get(cells, "patient_id"))
        first, last = cols.get(cells, "first"), cols.get(cells, "last")
        if not pid:
            out.rejected.append((line, raw, "missing patient_id"))
            continue
        if not last:
            out.rejected.append((line, raw, "missing last name"))
            continue
        if pid in seen:
            out.rejected.append((line, raw, f"duplicate patient_id {pid} (first seen on line {seen[pid]})"))
            continue
        seen[pid] = line
        out.patients[pid] = _patient(cols, cells, pid, first, last, line, as_of, out.warnings)
    if blank:
        out.warnings.append(f"contacts: {blank} blank line(s) ignored")
    for p in out.patients.values():
        if p.guarantor_id not in out.patients:
            out.warnings.append(
                f"contacts: patient {p.patient_id}'s guarantor {p.guarantor_id} is not in the file"
            )
    return out


def _patient(
    cols: C.Columns,
    cells: list[str],
    pid: str,
    first: str,
    last: str,
    line: int,
    as_of: date,
    warnings: list[str],
) -> Patient:
    where = f"contacts line {line}"
    try:
        dob = parse_date(cols.get(cells, "dob"), pivot_year=as_of.year)
    except ValueError as exc:
        warnings.append(f"{where}: {exc}; birthday left empty")
        dob = None
    sms = parse_sms(cols.get(cells, "sms_ok"))
    pref_text = cols.get(cells, "preferred_contact")
    pref: PreferredContact | None = parse_preferred(pref_text)
    if pref is None:
        warnings.append(f"{where}: unknown preferred contact {pref_text!r}; using none")
        pref = "none"
    want = {"mobile": "mobile", "text": "mobile", "home": "home", "work": "work", "email": "email"}.get(pref)
    contacts: list[ContactPoint] = []
    kinds: tuple[tuple[str, PhoneKind], ...] = (("cell", "mobile"), ("home", "home"), ("work", "work"))
    for column, kind in kinds:
        raw = cols.get(cells, column)
        if not raw:
            continue
        e164 = to_e164(raw)
        if e164 is None:
            warnings.append(f"{where}: {column} phone {raw!r} is not a valid number; skipped")
            continue
        consent = sms if kind == "mobile" else "unknown"
        contacts.append(ContactPoint("phone", e164, kind, consent, want == kind, raw))
    email = cols.get(cells, "email")
    if email:
        if "@" in email and " " not in email:
            contacts.append(ContactPoint("email", email.lower(), "email", "unknown", want == "email", email))
        else:
            warnings.append(f"{where}: email {email!r} is not an address; skipped")
    lang_text = cols.get(cells, "language")
    lang = parse_language(lang_text)
    if lang is None:
        warnings.append(f"{where}: unknown language {lang_text!r}; using en")
        lang = "en"
    status_text = cols.get(cells, "status")
    status = parse_status(status_text)
    if status is None:
        warnings.append(f"{where}: unknown status {status_text!r}; using active")
        status = "active"
    state = cols.get(cells, "state").upper() or None
    tz_text = cols.get(cells, "timezone")
    tz = _valid_tz(tz_text) if tz_text else timezone_for_state(state)
    if tz_text and tz is None:
        warnings.append(f"{where}: unknown time zone {tz_text!r}")
        tz = timezone_for_state(state)
    note = cols.get(cells, "note")
    flags = set(flags_from_note(note) & PATIENT_LEVEL_FLAGS)
    if status == "deceased":
        flags.add("deceased")
    return Patient(
        patient_id=pid,
        guarantor_id=clean_id(cols.get(cells, "guarantor_id")) or pid,
        first_name=first,
        last_name=last,
        date_of_birth=dob,
        contacts=tuple(contacts),
        timezone=tz,
        language=lang,
        status=status,  # type: ignore[arg-type]
        preferred_contact=pref,
        postal_code=cols.get(cells, "zip") or None,
        state=state,
        flags=frozenset(flags),
        note=note,
    )

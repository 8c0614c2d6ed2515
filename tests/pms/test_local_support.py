"""Shared pieces for the local-PMS tests: a small hand-made practice and a LocalPms per backend.

No tests live here; the other `test_local_*` modules import `open_pms` and `small_practice`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pms.local import LocalPms
from pms.snapshot import PracticeSnapshot
from pms.types import (
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
    PracticeInfo,
    Promise,
)

AS_OF = date(2026, 3, 2)
D = Decimal
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# Family numbers used by the tests.
GARCIA_MOBILE = "+13125550101"  # shared by Maria (guarantor) and her son Lucas
JOSE_MOBILE = "+13125550102"
CREDIT_HOME = "+17735550140"


def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Resolve a backend name to a URL. Call it from a *sync* fixture: `pg_url` runs its own loop."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'pms.db'}"
    return str(request.getfixturevalue("pg_url"))


@asynccontextmanager
async def open_pms(url: str) -> AsyncIterator[LocalPms]:
    """A LocalPms with its schema created, under a practice id of its own (tests share PostgreSQL)."""
    pms = LocalPms.from_url(url, practice_id=f"t-{uuid.uuid4().hex[:10]}")
    await pms.create_schema()
    try:
        yield pms
    finally:
        await pms.close()


def phone(value: str, raw: str | None = None, *, kind: str = "mobile", sms: str = "unknown") -> ContactPoint:
    return ContactPoint("phone", value, kind, sms, raw=raw)  # type: ignore[arg-type]


def small_practice() -> PracticeSnapshot:
    """Five families covering the cases the agent meets: a shared family mobile, a credit balance,
    a deceased guarantor, a zero balance, an active plan."""
    maria = Patient(
        "G1",
        "G1",
        "María",
        "García",
        date(1980, 3, 4),
        contacts=(
            # stored messy on purpose: the loader normalises to E.164 and keeps the raw text
            phone("(312) 555-0101", "(312) 555-0101", sms="yes"),
            ContactPoint("email", "maria@example.com", "email", "yes"),
        ),
        timezone="America/Chicago",
        language="es",
        preferred_contact="text",
        state="IL",
    )
    lucas = Patient("P2", "G1", "Lucas", "Garcia", date(2012, 7, 9), contacts=(phone(GARCIA_MOBILE),))
    jose = Patient(
        "P3", "G1", "José", "Garcia", date(1979, 1, 2), contacts=(phone("312.555.0102 ext 4", sms="no"),)
    )
    alan = Patient(
        "G4",
        "G4",
        "Alan",
        "Credit",
        date(1965, 5, 5),
        contacts=(phone(CREDIT_HOME, kind="landline"),),
        preferred_contact="do_not_call",
    )
    ruth = Patient(
        "G5", "G5", "Ruth", "Old", date(1931, 2, 2), status="deceased", flags=frozenset({"estate"})
    )
    zed = Patient(
        "G6",
        "G6",
        "Zed",
        "Zero",
        date(1990, 6, 6),
        contacts=(ContactPoint("email", "zed@example.com", "email"),),
    )
    pat = Patient("G7", "G7", "Pat", "Plan", date(1975, 8, 8), contacts=(phone("+1 312 555 0107"),))
    people = [maria, lucas, jose, alan, ruth, zed, pat]

    def account(p: Patient, aging: Aging, **kw: object) -> AccountSummary:
        return AccountSummary(guarantor=p, aging=aging, **kw)  # type: ignore[arg-type]

    accounts = [
        account(
            maria,
            Aging(
                D("180.00"),
                D("50.00"),
                D("25.00"),
                D("75.00"),
                D("330.00"),
                D("80.00"),
                D("0.00"),
                D("250.00"),
                as_of=AS_OF,
            ),
            last_payment_date=date(2025, 12, 1),
            last_payment_amount=D("40.00"),
            last_statement_date=date(2026, 2, 1),
            balance_since=date(2025, 10, 15),
            open_claims=1,
            flags=frozenset({Flag.DISPUTE}),
        ),
        account(alan, Aging(total=D("-40.00"), patient_balance=D("-40.00"), as_of=AS_OF)),
        account(
            ruth,
            Aging(bal_over_90=D("500.00"), total=D("500.00"), patient_balance=D("500.00"), as_of=AS_OF),
            balance_since=date(2025, 6, 1),
        ),
        account(zed, Aging(as_of=AS_OF)),
        account(
            pat,
            Aging(
                bal_0_30=D("100.00"),
                bal_31_60=D("100.00"),
                total=D("200.00"),
                patient_balance=D("200.00"),
                payplan_due=D("100.00"),
                as_of=AS_OF,
            ),
        ),
    ]
    ledger = [
        LedgerLine(
            "L3",
            "P2",
            "charge",
            date(2026, 2, 20),
            D("180.00"),
            "Crown",
            "D2740",
            date(2026, 2, 20),
            "14",
            "C1",
            True,
        ),
        LedgerLine("L1", "G1", "charge", date(2025, 10, 15), D("150.00"), "Periodic exam", "D0120"),
        LedgerLine("L2", "G1", "patient_payment", date(2025, 12, 1), D("-40.00"), "Payment"),
        LedgerLine("L9", "G4", "charge", date(2025, 9, 1), D("60.00"), "Cleaning", "D1110"),
        LedgerLine("L4", "P3", "charge", date(2025, 12, 20), D("40.00"), "X-ray", "D0210"),
    ]
    tz = UTC
    return PracticeSnapshot(
        practice=PracticeInfo(
            "ignored-by-adapter", "Lakeside Test Dental", "America/Chicago", "+13125550000"
        ),
        as_of=AS_OF,
        patients=people,
        accounts=accounts,
        ledger=ledger,
        claims=[
            Claim(
                "C1",
                "P2",
                "Delta Dental",
                "sent",
                date(2026, 2, 20),
                D("1200.00"),
                D("80.00"),
                date_sent=date(2026, 2, 21),
            ),
            Claim(
                "C0",
                "G1",
                "Delta Dental",
                "received",
                date(2025, 10, 15),
                D("150.00"),
                D("100.00"),
                ins_paid=D("100.00"),
            ),
        ],
        payments=[
            Payment("PAY1", "G1", D("40.00"), date(2025, 12, 1), "check"),
            Payment("PAY0", "G1", D("25.00"), date(2025, 6, 1), "cash"),
        ],
        plans=[
            PaymentPlan("PL1", "G7", "active", D("200.00"), D("100.00"), 2, "monthly", date(2026, 2, 15)),
        ],
        promises=[Promise("PR1", "G1", D("50.00"), date(2026, 1, 10), "broken")],
        appointments=[
            Appointment("A1", "P2", datetime(2026, 3, 3, 15, 0, tzinfo=tz)),
            Appointment("A0", "P2", datetime(2026, 1, 5, 15, 0, tzinfo=tz), "complete"),
            # 04:30 UTC on 2 March is still 1 March in Chicago
            Appointment("A2", "G1", datetime(2026, 3, 2, 4, 30, tzinfo=tz)),
        ],
        comms=[
            CommEntry("CM1", "G1", datetime(2026, 2, 1, 16, 0, tzinfo=tz), "mail", "sent", "Statement"),
            CommEntry(
                "CM2",
                "G1",
                datetime(2026, 2, 10, 16, 0, tzinfo=tz) + timedelta(hours=1),
                "phone",
                "received",
                "Asked about crown",
            ),
        ],
    )

"""Tools against the real collaborators: LocalPms (SQLite) loaded with the demo practice plus a few
hand-made families for edge cases, SqlRecords on SQLite, the bundled demo policy, PortalLinks.

The only doubles are of our own agent-side protocols: a recording `Messenger` (the agent's guarded SMS
channel) and, for the Stripe-style wording, a link provider that mints a distinct URL per call.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agent.store.db import create_all_for_tests, make_engine
from agent.store.models import OutboxRow
from agent.store.records import SqlRecords
from pms.demo import generate
from pms.local import LocalPms
from pms.snapshot import PracticeSnapshot
from pms.types import (
    AccountSummary,
    Aging,
    Claim,
    ContactPoint,
    LedgerKind,
    LedgerLine,
    Patient,
    Payment,
)
from policies.config import PracticePolicy, load_policy
from tools.context import CallerState, ChannelName, PaymentLink, SendResult, ToolContext
from tools.payments.portal import PortalLinks
from tools.registry import ToolBox

TZ = ZoneInfo("America/Chicago")
AS_OF = date(2026, 5, 20)  # a Wednesday
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=TZ)
D = Decimal


@dataclass(frozen=True)
class Person:
    patient_id: str
    first: str
    last: str
    dob: date
    phone: str


# Hand-made families for the edge cases (ids start with "t-" so they never collide with demo ids).
JOSE = Person("t-jose", "José", "Núñez-García", date(1985, 3, 14), "+13125550111")
BIG = Person("t-big", "Robert", "O'Brien", date(1970, 7, 4), "+13125550122")
DECEASED = Person("t-dec", "Walter", "Whitman", date(1950, 1, 1), "+13125550133")
MARIA = Person("t-maria", "Maria", "Lopez", date(1980, 2, 2), "+13125550144")
SOFIA = Person("t-sofia", "Sofia", "Lopez", date(2015, 6, 6), "+13125550144")
SMALL = Person("t-small", "Kim", "Lee", date(1992, 12, 12), "+13125550155")


def _patient(
    p: Person, *, guarantor: str | None = None, sms: str = "yes", kind: str = "mobile", status: str = "active"
) -> Patient:
    return Patient(
        patient_id=p.patient_id,
        guarantor_id=guarantor or p.patient_id,
        first_name=p.first,
        last_name=p.last,
        date_of_birth=p.dob,
        timezone="America/Chicago",
        status=status,  # type: ignore[arg-type]
        contacts=(ContactPoint("phone", p.phone, kind=kind, sms_consent=sms, is_preferred=True),),  # type: ignore[arg-type]
    )


def _account(
    p: Patient,
    *,
    b0: str = "0",
    b31: str = "0",
    b61: str = "0",
    b90: str = "0",
    ins: str = "0",
    last_pay: tuple[date, str] | None = None,
) -> AccountSummary:
    buckets = [D(b0), D(b31), D(b61), D(b90)]
    balance = sum(buckets, D("0.00"))
    aging = Aging(
        bal_0_30=D(b0),
        bal_31_60=D(b31),
        bal_61_90=D(b61),
        bal_over_90=D(b90),
        total=balance + D(ins),
        insurance_estimate=D(ins),
        patient_balance=balance,
        as_of=AS_OF,
    )
    return AccountSummary(
        guarantor=p,
        aging=aging,
        last_payment_date=last_pay[0] if last_pay else None,
        last_payment_amount=D(last_pay[1]) if last_pay else None,
    )


def _line(
    lid: str,
    pid: str,
    kind: LedgerKind,
    posted: date,
    amount: str,
    *,
    code: str | None = None,
    claim: str | None = None,
    pending: bool = False,
) -> LedgerLine:
    return LedgerLine(
        line_id=lid,
        patient_id=pid,
        kind=kind,
        posted_date=posted,
        amount=D(amount),
        code=code,
        service_date=posted if kind == "charge" else None,
        claim_id=claim,
        insurance_pending=pending,
        description="",
    )


def add_test_families(snap: PracticeSnapshot) -> PracticeSnapshot:
    jose = _patient(JOSE)
    big = _patient(BIG)
    dec = _patient(DECEASED, status="deceased")
    maria = _patient(MARIA)
    sofia = _patient(SOFIA, guarantor=MARIA.patient_id)
    small = _patient(SMALL, sms="no", kind="landline")
    crown_day, exam_day, clean_day = date(2026, 3, 2), date(2026, 4, 10), date(2026, 5, 4)
    # José: crown 1200 (insurance paid 500, wrote off 200), exam 60 (uninsured), cleaning 120 (claim pending,
    # estimate 80) and a 50 payment: he owes 450 + 60 + 40 = 550, 80 waits on insurance.
    ledger = [
        _line("t-l1", JOSE.patient_id, "charge", crown_day, "1200.00", code="D2740", claim="t-c1"),
        _line("t-l2", JOSE.patient_id, "insurance_payment", date(2026, 3, 30), "-500.00", claim="t-c1"),
        _line("t-l3", JOSE.patient_id, "writeoff", date(2026, 3, 30), "-200.00", claim="t-c1"),
        _line("t-l4", JOSE.patient_id, "charge", exam_day, "60.00", code="D0120"),
        _line("t-l5", JOSE.patient_id, "patient_payment", date(2026, 4, 2), "-50.00"),
        _line(
            "t-l6", JOSE.patient_id, "charge", clean_day, "120.00", code="D1110", claim="t-c2", pending=True
        ),
        _line("t-l7", SOFIA.patient_id, "charge", clean_day, "250.00", code="D9999"),
    ]
    claims = [
        Claim(
            "t-c1",
            JOSE.patient_id,
            "Delta Dental",
            "received",
            crown_day,
            D("1200.00"),
            D("500.00"),
            ins_paid=D("500.00"),
            writeoff=D("200.00"),
        ),
        Claim("t-c2", JOSE.patient_id, "Delta Dental", "sent", clean_day, D("120.00"), D("80.00")),
    ]
    accounts = [
        _account(jose, b0="160.00", b31="0", b61="390.00", ins="80.00", last_pay=(date(2026, 4, 2), "50.00")),
        _account(big, b0="1200.00", b90="3000.00"),
        _account(dec, b31="300.00"),
        _account(maria, b0="250.00"),
        _account(small, b0="40.00"),
    ]
    payments = [Payment("t-p1", JOSE.patient_id, D("50.00"), date(2026, 4, 2), method="card")]
    return replace(
        snap,
        patients=[*snap.patients, jose, big, dec, maria, sofia, small],
        accounts=[*snap.accounts, *accounts],
        ledger=[*snap.ledger, *ledger],
        claims=[*snap.claims, *claims],
        payments=[*snap.payments, *payments],
    )


@cache
def snapshot() -> PracticeSnapshot:
    return add_test_families(generate(seed=7, patients=60, as_of=AS_OF))


# ---- agent-side protocol doubles ---------------------------------------------------------------------


@dataclass
class RecordingMessenger:
    """Stands in for the agent's guarded SMS channel; records what would be sent."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    result: SendResult = field(default_factory=lambda: SendResult(sent=True, provider_id="SM1"))

    async def send_sms(self, *, patient_id: str | None, to: str, body: str, purpose: str) -> SendResult:
        self.sent.append({"patient_id": patient_id, "to": to, "body": body, "purpose": purpose})
        return self.result


class StripeStyleLinks:
    """A link provider that locks the amount and mints one URL per (guarantor, attempt)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def create_link(
        self, *, guarantor_id: str, amount: Decimal, purpose: str, attempt: int, conversation_id: str
    ) -> PaymentLink:
        self.calls.append({"guarantor_id": guarantor_id, "amount": amount, "attempt": attempt})
        return PaymentLink(
            url=f"https://checkout.example/c/{guarantor_id}-{attempt}",
            amount=amount,
            expires_at=NOW + timedelta(hours=24),
            provider="stripe",
            link_id=f"cs_{attempt}",
        )


# ---- the world ---------------------------------------------------------------------------------------


@dataclass
class World:
    pms: LocalPms
    records: SqlRecords
    policy: PracticePolicy
    messenger: RecordingMessenger
    engine: Any
    ids: Callable[[], str]

    def ctx(
        self, *, voice: bool = True, payments: Any = None, policy: PracticePolicy | None = None
    ) -> ToolContext:
        return ToolContext(
            pms=self.pms,
            policy=policy or self.policy,
            records=self.records,
            payments=payments or PortalLinks(policy or self.policy),
            clock=lambda: NOW,
            messenger=self.messenger if voice else None,
        )

    def state(
        self, channel: ChannelName = "voice", contact: str | None = None, candidates: list[str] | None = None
    ) -> CallerState:
        return CallerState(
            conversation_id=self.ids(),
            channel=channel,
            contact=contact,
            candidate_patient_ids=list(candidates or []),
        )

    def box(self, **kw: Any) -> ToolBox:
        return ToolBox(self.ctx(**kw))

    async def verified(self, box: ToolBox, person: Person, channel: ChannelName = "voice") -> CallerState:
        state = self.state(channel, contact=person.phone, candidates=[person.patient_id])
        result = await box.invoke(
            state,
            "verify_identity",
            {"full_name": f"{person.first} {person.last}", "date_of_birth": person.dob.isoformat()},
        )
        assert result.ok, result
        return state

    async def outbox(self, conversation_id: str) -> list[OutboxRow]:
        async with self.records._sessions() as s:
            rows = (
                await s.scalars(select(OutboxRow).where(OutboxRow.conversation_id == conversation_id))
            ).all()
        return list(rows)


async def _build(path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_all_for_tests(engine)
    await LocalPms(engine, practice_id="demo").load_snapshot(snapshot())
    await engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The schema and the demo practice, built once; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("template") / "bl.db"
    asyncio.run(_build(path))
    return path


@pytest.fixture
async def world(tmp_path: Path, template_db: Path) -> AsyncIterator[World]:
    for suffix in ("", "-wal", "-shm"):
        src = template_db.with_name(template_db.name + suffix)
        if src.exists():
            shutil.copy(src, tmp_path / ("bl.db" + suffix))
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bl.db'}")
    pms = LocalPms(engine, practice_id="demo")
    records = SqlRecords(engine, clock=lambda: NOW)
    counter = itertools.count(1)
    yield World(
        pms=pms,
        records=records,
        policy=load_policy(),
        messenger=RecordingMessenger(),
        engine=engine,
        ids=lambda: f"conv-{next(counter)}",
    )
    await engine.dispose()

"""A network in front of the real local PMS, for outbox tests: it counts what reached the PMS and can
lose responses (time out or crash *after* the PMS applied the write) or refuse service."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from pms.local import LocalPms
from pms.protocol import PmsUnavailable
from pms.snapshot import PracticeSnapshot
from pms.types import AccountSummary, Aging, ContactPoint, Patient, PracticeInfo, WriteResult

WRITES = (
    "write_comm_log",
    "record_promise",
    "record_payment",
    "create_payment_plan",
    "update_contact_preferences",
)


class Crash(BaseException):
    """The drainer's process dies mid-call (not an Exception: nothing in the drainer may catch it)."""


class FlakyNetwork:
    def __init__(self, pms: LocalPms) -> None:
        self.pms = pms
        self.sent: Counter[str] = Counter()  # idempotency key -> requests that reached the PMS
        self.unavailable = 0  # refuse this many calls before reaching the PMS
        self.lose_responses = 0  # apply, then time out, this many times
        self.crash_after_apply = 0  # apply, then crash, this many times
        self.delay = 0.0
        self.hold: asyncio.Event | None = None  # the next call waits for this event before applying

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.pms, name)
        if name not in WRITES:
            return target

        async def call(req: Any) -> WriteResult:
            if self.unavailable:
                self.unavailable -= 1
                raise PmsUnavailable("connection refused")
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.hold is not None:
                gate, self.hold = self.hold, None
                await gate.wait()
            self.sent[req.idempotency_key] += 1
            result: WriteResult = await target(req)
            if self.crash_after_apply:
                self.crash_after_apply -= 1
                raise Crash
            if self.lose_responses:
                self.lose_responses -= 1
                raise TimeoutError("read timed out")
            return result

        return call


async def seeded_pms(engine: Any, practice_id: str) -> LocalPms:
    """A local PMS holding one family: guarantor G1 (with a phone) and dependant P2."""
    pms = LocalPms(engine, practice_id=practice_id)
    g1 = Patient(
        patient_id="G1",
        guarantor_id="G1",
        first_name="Ana",
        last_name="Ruiz",
        date_of_birth=date(1980, 5, 1),
        contacts=(ContactPoint("phone", "+15125550100", sms_consent="yes"),),
        timezone="America/Chicago",
    )
    p2 = Patient(
        patient_id="P2", guarantor_id="G1", first_name="Leo", last_name="Ruiz", date_of_birth=date(2012, 1, 1)
    )
    aging = Aging(bal_0_30=Decimal("300.00"), total=Decimal("300.00"), patient_balance=Decimal("300.00"))
    snapshot = PracticeSnapshot(
        practice=PracticeInfo(practice_id, "Maple Grove Family Dental", "America/Chicago"),
        as_of=date(2026, 3, 2),
        patients=[g1, p2],
        accounts=[AccountSummary(guarantor=g1, aging=aging)],
    )
    await pms.load_snapshot(snapshot)
    return pms

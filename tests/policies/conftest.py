"""Builders for policy tests: the demo policy, patients, histories and instants in a zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pms.types import ContactPoint, Patient
from policies.config import PracticePolicy, load_policy
from policies.types import ConsentRecord, ContactHistory

MOBILE = "+13125550101"  # Chicago area code
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo() -> PracticePolicy:
    return load_policy()


def policy(**compliance: object) -> PracticePolicy:
    """The demo policy with compliance knobs overridden."""
    base = load_policy()
    return base.model_copy(update={"compliance": base.compliance.model_copy(update=compliance)})


def patient(
    phone: str = MOBILE,
    *,
    tz: str | None = "America/Chicago",
    state: str | None = "IL",
    kind: str = "mobile",
    sms_consent: str = "unknown",
    **kw: object,
) -> Patient:
    contacts = (ContactPoint("phone", phone, kind=kind, sms_consent=sms_consent),)  # type: ignore[arg-type]
    return Patient("p1", "p1", "Ann", "Lee", None, contacts=contacts, timezone=tz, state=state, **kw)  # type: ignore[arg-type]


def consents(*values: str, basis: str = "provided_number_for_account") -> tuple[ConsentRecord, ...]:
    out: list[ConsentRecord] = []
    for v in values:
        out.append(ConsentRecord("voice", v, basis, LONG_AGO))  # type: ignore[arg-type]
        out.append(ConsentRecord("sms", v, basis, LONG_AGO))  # type: ignore[arg-type]
    return tuple(out)


def history(*, to: str = MOBILE, **kw: object) -> ContactHistory:
    """A history with voice+SMS consent on `to` plus whatever is given."""
    kw.setdefault("consents", consents(to))
    return ContactHistory(**kw)  # type: ignore[arg-type]


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware datetime on the wall clock of `zone`."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))

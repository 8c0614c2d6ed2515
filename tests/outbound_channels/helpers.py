"""Picking demo patients for the outbound-channel tests, posting signed Twilio callbacks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from agent.outreach.channels import ContactRequest
from pms.types import Patient
from tests.fakes.twilio_signing import sign_form
from tests.integration.harness import AS_OF, PUBLIC, App, demo_snapshot

_used: dict[int, set[str]] = {}


def contactable_patient(app: App, *, sms_consent: bool, email: bool = False) -> Patient:
    """A guarantor who owes money, has no flags, no visit or payment near the demo date, a known time
    zone and no state profile; not used by an earlier test on this app. (The SMTP server and
    FakeTwilio are shared by both backends: look messages up by Message-ID / CallSid.)"""
    snap = demo_snapshot()
    used = _used.setdefault(id(app), set())
    near = {a.patient_id for a in snap.appointments if abs((a.start.date() - AS_OF).days) <= 3}
    for account in snap.accounts:
        p = account.guarantor
        if p.patient_id in used or p.patient_id != p.guarantor_id or p.patient_id in near:
            continue
        if account.aging.patient_balance <= Decimal("0") or account.flags or p.flags or p.note:
            continue
        if p.timezone is None or p.state in ("MA", "FL", "OK") or p.status != "active":
            continue
        if account.last_payment_date and account.last_payment_date > AS_OF - timedelta(days=5):
            continue
        mobiles = [c for c in p.phones if c.kind == "mobile"]
        if not mobiles or any(c.sms_consent == "yes" for c in mobiles) != sms_consent:
            continue
        if email and not p.emails:
            continue
        used.add(p.patient_id)
        return p
    raise LookupError("no demo patient left for this test")


def request(
    patient: Patient, channel: str, *, to: str | None = None, purpose: str = "balance"
) -> ContactRequest:
    if to is None:
        to = patient.emails[0].value if channel == "email" else patient.phones[0].value
    return ContactRequest(
        attempt_id=f"job_{uuid.uuid4().hex[:16]}",
        patient_id=patient.patient_id,
        channel=channel,  # type: ignore[arg-type]
        to=to,
        purpose=purpose,
        practice_id="maple-grove",
    )


def call_form(app: App, sid: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": app.twilio.account_sid,
        "From": "+13125550100",
        "To": "+17635550101",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status_form(app: App, sid: str, status: str, seq: int, **extra: str) -> dict[str, str]:
    form = call_form(
        app, sid, CallStatus=status, SequenceNumber=str(seq), CallbackSource="call-progress-events"
    )
    form["Timestamp"] = "Mon, 02 Nov 2026 16:00:00 +0000"
    if status in ("completed", "busy", "no-answer", "failed", "canceled"):
        form.update(CallDuration="0" if status != "completed" else "31", Duration="1")
    form.update(extra)
    return form


def amd_form(app: App, sid: str, answered_by: str) -> dict[str, str]:
    return call_form(app, sid, AnsweredBy=answered_by, MachineDetectionDuration="4210")


def post(app: App, path: str, attempt_id: str, form: dict[str, str]) -> Any:
    return app.post_signed(f"{path}?attempt={attempt_id}", form)


def post_concurrently(app: App, path: str, forms: list[dict[str, str]]) -> list[int]:
    """POST signed callbacks at the same time, on the app's own event loop (real concurrency)."""

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app.client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def one(form: dict[str, str]) -> int:
                headers = sign_form(app.twilio.auth_token, PUBLIC + path, form)
                return (await client.post(path, data=form, headers=headers)).status_code

            return list(await asyncio.gather(*(one(f) for f in forms)))

    return app.run(run())  # type: ignore[no-any-return]

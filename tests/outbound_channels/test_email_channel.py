"""The e-mail channel against a real local SMTP server (aiosmtpd): content, headers, consent-gated
amounts, suppression, unsubscribe (link and one-click), SMTP failures — on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from agent.outreach.channels import DispatchStatus
from agent.outreach.email_channel import EmailChannel, make_email_channel
from agent.store.models import ConsentEntryRow, ContactAttemptRow, OutboxRow
from policies.messages import lint
from telephony.smtp import SmtpConfig, SmtpEmailSender
from tests.fakes.smtp_server import SmtpServer
from tests.integration.harness import PUBLIC, App
from tests.outbound_channels.conftest import SMTP_FROM
from tests.outbound_channels.helpers import contactable_patient, request

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
_UNSUB = re.compile(re.escape(PUBLIC) + r"/email/unsubscribe/([A-Za-z0-9_-]{43})")


def _channel(app: App) -> EmailChannel:
    return make_email_channel(app.runtime)


def _sent(smtp: SmtpServer, message_id: str | None) -> list:
    return [m for m in smtp.messages if m["Message-ID"] == message_id]


def _mid(attempt_id: str) -> str:
    return f"<bl.{attempt_id}@{SMTP_FROM.split('@')[1]}>"


def _text(message) -> str:  # type: ignore[no-untyped-def]
    return str(message.get_body(("plain",)).get_content())


def _count(app: App, model, *where) -> int:  # type: ignore[no-untyped-def]
    async def run() -> int:
        async with app.runtime.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return app.run(run())  # type: ignore[no-any-return]


def test_limited_email_has_no_balance_and_carries_unsubscribe(app: App, smtp: SmtpServer) -> None:
    patient = contactable_patient(app, sms_consent=True, email=True)
    req = request(patient, "email")
    result = app.run(_channel(app).dispatch(req))
    assert result.status is DispatchStatus.SENT, result
    assert result.detail == "email_limited"
    [msg] = _sent(smtp, result.provider_ref)
    assert msg["To"] == req.to and result.provider_ref == _mid(req.attempt_id)
    assert smtp.auth_attempts >= 1
    assert msg["From"] == f"Maple Grove Family Dental <{SMTP_FROM}>"
    assert msg["Message-ID"] == result.provider_ref
    assert msg["Subject"] == "A message from Maple Grove Family Dental"
    assert msg["Date"].datetime == app.clock()
    text = _text(msg)
    assert "(312) 555-0100" in text and "Dana" in text
    link = _UNSUB.search(text)
    assert link is not None
    words = text.replace(link.group(0), "(unsubscribe link)")
    # Before any e-mail billing consent: nothing about money, and not the patient's name either.
    assert "$" not in words and not re.search(r"balance|owe|bill|payment|account", words, re.I)
    assert patient.first_name not in words and patient.last_name not in words
    assert lint(words, verified=False, policy=app.runtime.policy, channel="email") == []
    assert msg["List-Unsubscribe"] == f"<{link.group(0)}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = str(msg.get_body(("html",)).get_content())
    assert f'href="{link.group(0)}"' in html
    # Counted once toward the e-mail cap; a retried job for the same attempt sends nothing.
    again = app.run(_channel(app).dispatch(req))
    assert (again.status, again.provider_ref, again.detail) == (
        DispatchStatus.SENT,
        result.provider_ref,
        "already_sent",
    )
    assert len(_sent(smtp, result.provider_ref)) == 1
    assert _count(app, ContactAttemptRow, ContactAttemptRow.to == req.to, ContactAttemptRow.counted) == 1


def test_balance_email_only_with_explicit_email_consent(app: App, smtp: SmtpServer) -> None:
    patient = contactable_patient(app, sms_consent=True, email=True)
    address = patient.emails[0].value
    app.run(
        app.runtime.records.add_consent(
            patient_id=patient.patient_id,
            value=address,
            channel="email",
            action="consent",
            basis="written",
            source="staff",
        )
    )
    result = app.run(_channel(app).dispatch(request(patient, "email", purpose="plan_offer")))
    assert result.status is DispatchStatus.SENT and result.detail == "email_balance"
    [msg] = _sent(smtp, result.provider_ref)
    account = app.run(app.runtime.pms.get_account(patient.guarantor_id))
    text = _text(msg)
    assert f"${account.aging.patient_balance:,.2f}" in text  # the amount comes from the ledger
    assert app.runtime.policy.practice.portal_url in text
    assert "payment plan" in text
    assert lint(text, verified=True, policy=app.runtime.policy, channel="email") == []


def test_unsubscribe_link_records_one_opt_out_and_stops_email(app: App, smtp: SmtpServer) -> None:
    patient = contactable_patient(app, sms_consent=False, email=True)
    req = request(patient, "email")
    assert app.run(_channel(app).dispatch(req)).status is DispatchStatus.SENT
    [msg] = _sent(smtp, _mid(req.attempt_id))
    link = _UNSUB.search(_text(msg))
    assert link is not None
    path = link.group(0).removeprefix(PUBLIC)

    page = app.client.get(path)  # a link scanner or preview: shows a button, changes nothing
    assert page.status_code == 200 and "<form" in page.text
    assert not app.run(app.runtime.records.is_suppressed(req.to, "email"))

    done = app.client.post(path)
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert app.run(app.runtime.records.is_suppressed(req.to, "email"))
    # Repeated clicks and the RFC 8058 one-click POST change nothing more.
    assert app.client.post(path).status_code == 200
    one_click = app.client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert _count(app, ConsentEntryRow, ConsentEntryRow.value == req.to) == 1
    assert (
        _count(app, OutboxRow, OutboxRow.idempotency_key.contains(f"|{patient.patient_id}|email_optout|"))
        == 1
    )
    # SMS and voice are not touched by an e-mail opt-out.
    assert not app.run(app.runtime.records.is_suppressed(patient.phones[0].value, "sms"))

    later = request(patient, "email")
    blocked = app.run(_channel(app).dispatch(later))
    assert (blocked.status, blocked.detail) == (DispatchStatus.BLOCKED, "suppressed")
    assert _sent(smtp, _mid(later.attempt_id)) == []

    assert app.client.get("/email/unsubscribe/" + "A" * 43).status_code == 404
    assert app.client.post("/email/unsubscribe/not-a-token").status_code == 404


def test_smtp_failures_transient_retry_and_permanent_no_retry(app: App, smtp: SmtpServer) -> None:
    first = contactable_patient(app, sms_consent=True, email=True)
    req = request(first, "email")
    smtp.fail_next(1)
    transient = app.run(_channel(app).dispatch(req))
    assert (transient.status, transient.detail) == (DispatchStatus.TRANSIENT, "smtp_451")
    retried = app.run(_channel(app).dispatch(req))  # the claim was released: the retry sends
    assert retried.status is DispatchStatus.SENT
    assert len(_sent(smtp, retried.provider_ref)) == 1

    second = contactable_patient(app, sms_consent=True, email=True)
    req2 = request(second, "email")
    smtp.reject_permanently.add(req2.to)
    try:
        refused = app.run(_channel(app).dispatch(req2))
        assert (refused.status, refused.detail) == (DispatchStatus.PERMANENT, "smtp_550")
        again = app.run(_channel(app).dispatch(req2))
        assert (again.status, again.detail) == (DispatchStatus.PERMANENT, "attempt_failed")
    finally:
        smtp.reject_permanently.discard(req2.to)
    assert _sent(smtp, _mid(req2.attempt_id)) == []
    assert _count(app, ContactAttemptRow, ContactAttemptRow.to == req2.to) == 0


def test_refuses_unknown_addresses_and_content_that_fails_the_linter(app: App, smtp: SmtpServer) -> None:
    patient = contactable_patient(app, sms_consent=True, email=True)
    stranger = app.run(_channel(app).dispatch(request(patient, "email", to="someone.else@example.com")))
    assert (stranger.status, stranger.detail) == (DispatchStatus.PERMANENT, "address_not_on_file")

    # A practice whose outreach name sounds like a collection agency (rule 1): the linter stops it.
    policy = app.runtime.policy
    bad = policy.model_copy(
        update={
            "practice": policy.practice.model_copy(update={"voicemail_alias": "Dental Recovery Services"})
        }
    )
    channel = _channel(app)
    channel.policy = bad
    req = request(patient, "email")
    result = app.run(channel.dispatch(req))
    assert (result.status, result.detail) == (DispatchStatus.PERMANENT, "content_lint:collection_language")
    assert _sent(smtp, _mid(req.attempt_id)) == []


def test_smtp_configuration_errors_are_permanent(app: App, smtp: SmtpServer) -> None:
    patient = contactable_patient(app, sms_consent=True, email=True)
    wrong_password = SmtpConfig(smtp.host, smtp.port, "none", "mailer", "not-the-password")
    no_starttls = SmtpConfig(smtp.host, smtp.port, "starttls", "mailer", "mail-secret")  # server offers none
    for config, detail in [(wrong_password, "smtp_535"), (no_starttls, "smtp_refused")]:
        req = request(patient, "email")
        result = app.run(make_email_channel(app.runtime, sender=SmtpEmailSender(config)).dispatch(req))
        assert (result.status, result.detail) == (DispatchStatus.PERMANENT, detail)
        assert _sent(smtp, _mid(req.attempt_id)) == []

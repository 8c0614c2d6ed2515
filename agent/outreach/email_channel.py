"""The e-mail outreach channel: one plain-language reminder per attempt over SMTP, and its unsubscribe.

What an e-mail may say (rules 26, 28, 31, 32 of the protocol notes): by default it is limited to the
practice's name, a request to call, a person to ask for, the callback number and the unsubscribe
link, like a first text before verification. The balance (from the ledger, never from the request),
the payment portal and a plan mention are added only when the guarantor's own address carries an
explicit e-mail consent in the consent ledger (`basis` written or express_verbal; staff record it with
`add_consent(channel="email", ...)`). Every rendering is linted; a violation stops the send.

Order of a dispatch: channel/config checks → suppression (the ledger, for the address and the
person) → the address must be on the patient's record → content → claim the attempt (unique row: a
retried job never sends twice) → SMTP → contact attempt recorded (counted toward the e-mail cap).
Unsubscribing (link or RFC 8058 one-click POST) writes one e-mail opt-out for that address and a
PMS contact-preference write; the token is random and stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from agent.brains.phrases import pretty_phone
from agent.logs import get_logger
from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus, OutreachChannel
from agent.outreach.delivery import ContentRejected, accounted
from agent.store.outbound_emails import OutboundEmail, OutboundEmailStore
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from pms.types import ContactPreferenceWrite, Patient
from policies.config import PracticePolicy
from policies.messages import lint
from policies.types import SuppressionScope
from prompts.outbound import render_outbound
from telephony.smtp import EmailSender, SmtpConfig, SmtpEmailSender, build_message

if TYPE_CHECKING:
    from agent.runtime import Runtime

log = get_logger(__name__)

UNSUBSCRIBE_PATH = "/email/unsubscribe/"
BILLING_CONSENT_BASES = frozenset({"written", "express_verbal"})
_PLAN_PURPOSES = frozenset({"plan_offer", "plan_reminder"})
_URL = re.compile(r"https?://[^\s<>\"]+")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

UnsubscribeResult = Literal["unsubscribed", "already", "unknown"]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _html(text: str) -> str:
    """The plain text as simple HTML paragraphs, with links clickable (everything escaped)."""
    paragraphs = []
    for block in text.split("\n\n"):
        escaped = html.escape(block)
        linked = _URL.sub(lambda m: f'<a href="{m.group()}">{m.group()}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>") + "</p>")
    return "<!doctype html><html><body>" + "".join(paragraphs) + "</body></html>"


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _attempt_key(attempt_id: str) -> str:
    """The contact-attempt provider id (unique, <= 64 chars) for this e-mail attempt."""
    key = f"email:{attempt_id}"
    return key if len(key) <= 64 else "email:" + hashlib.sha256(attempt_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class RenderedEmail:
    template: str
    subject: str
    text: str


@dataclass
class EmailChannel:
    """`agent.outreach.channels.OutreachChannel` for e-mail."""

    sender: EmailSender | None
    store: OutboundEmailStore
    records: SqlRecords
    pms: PmsAdapter
    policy: PracticePolicy
    public_base_url: str
    from_address: str | None
    clock: Callable[[], datetime]

    name: str = "email"

    async def dispatch(self, req: ContactRequest) -> DispatchResult:
        return await accounted(self.records, req, await self._dispatch(req))

    async def _dispatch(self, req: ContactRequest) -> DispatchResult:
        if req.channel != "email":
            return DispatchResult(DispatchStatus.PERMANENT, detail="wrong_channel")
        if self.sender is None or not self.from_address:
            return DispatchResult(DispatchStatus.PERMANENT, detail="email_unconfigured")
        to = req.to.strip().lower()
        if await self.records.is_suppressed(to, "email", patient_id=req.patient_id):
            return DispatchResult(DispatchStatus.BLOCKED, detail="suppressed")
        patient = await self.pms.get_patient(req.patient_id)
        if patient is None:
            return DispatchResult(DispatchStatus.PERMANENT, detail="unknown_patient")
        if to not in {c.value.strip().lower() for c in patient.emails}:
            return DispatchResult(DispatchStatus.PERMANENT, detail="address_not_on_file")
        token = secrets.token_urlsafe(32)
        unsubscribe_url = self.public_base_url + UNSUBSCRIBE_PATH + token
        try:
            rendered = await self._render(req, patient, to, unsubscribe_url)
        except ContentRejected as exc:
            log.error(
                "email_content_rejected", attempt_id=req.attempt_id, rules=[v.rule for v in exc.violations]
            )
            return DispatchResult(DispatchStatus.PERMANENT, detail=exc.code)
        if rendered is None:
            return DispatchResult(DispatchStatus.BLOCKED, detail="no_balance")
        domain = self.from_address.rsplit("@", 1)[-1]
        message_id = f"<bl.{req.attempt_id}@{domain}>"
        existing = await self.store.claim_email(
            attempt_id=req.attempt_id,
            patient_id=patient.patient_id,
            guarantor_id=patient.guarantor_id,
            to=to,
            purpose=req.purpose,
            template=rendered.template,
            message_id=message_id,
            token_sha256=token_digest(token),
        )
        if existing is not None:
            if existing.state == "sent":
                return DispatchResult(DispatchStatus.SENT, existing.message_id, "already_sent")
            # "sending": another worker is on it, or a crash left the outcome unknown: never resend.
            return DispatchResult(DispatchStatus.PERMANENT, existing.message_id, f"attempt_{existing.state}")
        message = build_message(
            from_address=self.from_address,
            from_name=self.policy.practice.outreach_name,
            to=to,
            subject=rendered.subject,
            text=rendered.text,
            html=_html(rendered.text),
            message_id=message_id,
            date=self.clock(),
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Auto-Submitted": "auto-generated",
            },
        )
        outcome = await self.sender.send(message)
        if outcome.transient:
            await self.store.release_email(req.attempt_id)
            return DispatchResult(
                DispatchStatus.TRANSIENT, detail=f"smtp_{outcome.smtp_code or 'unreachable'}"
            )
        await self.store.finish_email(req.attempt_id, sent=outcome.sent, smtp_code=outcome.smtp_code)
        if not outcome.sent:
            return DispatchResult(DispatchStatus.PERMANENT, detail=f"smtp_{outcome.smtp_code or 'refused'}")
        await self.records.record_attempt(
            patient_id=patient.patient_id,
            guarantor_id=patient.guarantor_id,
            channel="email",
            to=to,
            direction="outbound",
            counted=True,
            provider_sid=_attempt_key(req.attempt_id),
            status="sent",
        )
        return DispatchResult(DispatchStatus.SENT, message_id, rendered.template)

    async def _render(
        self, req: ContactRequest, patient: Patient, to: str, unsubscribe_url: str
    ) -> RenderedEmail | None:
        """The e-mail for this attempt (None: nothing is owed, so nothing to remind about)."""
        p = self.policy.practice
        values: dict[str, object] = {
            "practice": p.outreach_name,
            "phone": pretty_phone(p.callback_number),
            "contact": p.staff_contact_name,
            "office_hours": p.office_hours.rstrip(". "),
            "unsubscribe_url": unsubscribe_url,
        }
        detailed = await self._billing_consent(patient, to)
        if detailed:
            account = await self.pms.get_account(patient.guarantor_id)
            balance = account.aging.patient_balance if account is not None else Decimal("0")
            if balance <= 0:
                return None
            values.update(
                amount=_money(balance),
                portal=bool(p.portal_url),
                portal_url=p.portal_url or "",
                plan=req.purpose in _PLAN_PURPOSES and self.policy.plans.enabled,
            )
        template = "email_balance" if detailed else "email_limited"
        subject = render_outbound(template, "subject", lang=patient.language, **values)
        text = render_outbound(template, "text", lang=patient.language, **values)
        names = (patient.first_name, patient.last_name, patient.name)
        # The unsubscribe link is our own fixed endpoint on PUBLIC_BASE_URL (a host such as
        # billing.example.com must not read as a payment link): lint the words around it.
        words = f"{subject}\n\n{text}".replace(unsubscribe_url, "(unsubscribe link)")
        violations = lint(words, verified=detailed, policy=self.policy, channel="email", patient_names=names)
        if violations:
            raise ContentRejected("e-mail", violations)
        return RenderedEmail(template=template, subject=subject, text=text)

    async def _billing_consent(self, patient: Patient, to: str) -> bool:
        """Only the guarantor's own address with an explicit e-mail consent gets amounts."""
        if patient.patient_id != patient.guarantor_id:
            return False
        history = await self.records.contact_history(
            patient.guarantor_id, now=self.clock(), patient_ids=[patient.patient_id], values=[to]
        )
        return any(
            c.channel == "email" and c.value == to and c.basis in BILLING_CONSENT_BASES
            for c in history.consents
        )


async def email_for_link(token: str, store: OutboundEmailStore) -> OutboundEmail | None:
    """The e-mail whose unsubscribe link carries `token` (None for a malformed or unknown token)."""
    if not _TOKEN.match(token):
        return None
    return await store.email_for_token(token_digest(token))


async def unsubscribe(
    token: str, *, store: OutboundEmailStore, records: SqlRecords, policy: PracticePolicy
) -> UnsubscribeResult:
    """Record the e-mail opt-out the link in one e-mail stands for. Idempotent: one opt-out per link,
    none when the address is already suppressed; a failed write lets the patient's retry record it."""
    email = await email_for_link(token, store)
    if email is None:
        return "unknown"
    if not await store.claim_unsubscribe(email.attempt_id):
        return "already"
    try:
        if not await records.is_suppressed(email.to, "email"):
            await records.add_suppression(
                patient_id=email.patient_id,
                value=email.to,
                scope=SuppressionScope.EMAIL,
                reason="email_unsubscribe",
                source="email",
            )
        await records.enqueue_pms_write(
            ContactPreferenceWrite(
                idempotency_key=f"{policy.practice.practice_id}|{email.patient_id}|email_optout|{email.attempt_id}",
                patient_id=email.patient_id,
                email_ok=False,
                note="Patient unsubscribed from e-mails (link in a BalanceLine e-mail).",
            )
        )
    except BaseException:
        await store.release_unsubscribe(email.attempt_id)
        raise
    return "unsubscribed"


def make_email_sender(runtime: Runtime) -> EmailSender | None:
    s = runtime.settings
    if not s.email_configured:
        return None
    assert s.smtp_host is not None
    return SmtpEmailSender(
        SmtpConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            security=s.smtp_tls,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )
    )


def make_email_channel(runtime: Runtime, *, sender: EmailSender | None = None) -> EmailChannel:
    """The e-mail channel on the runtime's store, PMS and policy (off when SMTP is not configured)."""
    return EmailChannel(
        sender=sender or runtime.email_sender,
        store=OutboundEmailStore(runtime.sessions, runtime.clock),
        records=runtime.records,
        pms=runtime.pms,
        policy=runtime.policy,
        public_base_url=runtime.settings.public_base_url,
        from_address=runtime.settings.smtp_from,
        clock=runtime.clock,
    )


if TYPE_CHECKING:  # mypy proves the channel satisfies the pipeline's protocol

    def _is_channel(channel: EmailChannel) -> OutreachChannel:
        return channel

"""E-mail over SMTP (aiosmtplib): building a plain-text + HTML message and sending it.

Outcome semantics of ``SmtpEmailSender.send`` (never raises for a server or network failure):
- accepted by the server for the recipient → ``sent=True`` with the message's ``Message-ID``;
- a 5xx answer (unknown mailbox, policy rejection, bad credentials) or a configuration the server
  cannot meet (STARTTLS or AUTH not offered) → ``permanent=True``;
- 4xx answers, refused/dropped connections and timeouts → transient: a later retry may succeed.
  SMTP has no idempotency key: a timeout after ``DATA`` was accepted may duplicate a message.
Server replies can quote the address; callers must not log them verbatim.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal, Protocol, runtime_checkable

import aiosmtplib

SmtpSecurity = Literal["starttls", "tls", "none"]

_logger = logging.getLogger("telephony.smtp")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: SmtpSecurity = "starttls"  # "none" only for a relay on loopback / a trusted network
    username: str | None = None
    password: str | None = None
    timeout_s: float = 20.0
    validate_certs: bool = True


@dataclass(frozen=True, slots=True)
class EmailSendOutcome:
    sent: bool
    message_id: str | None
    smtp_code: int | None
    permanent: bool

    @property
    def transient(self) -> bool:
        return not self.sent and not self.permanent


@runtime_checkable
class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> EmailSendOutcome: ...


def build_message(
    *,
    from_address: str,
    from_name: str | None,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str,
    date: datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A ``multipart/alternative`` message (text first, HTML second) with the given ``Message-ID``
    and ``Date`` (timezone-aware)."""
    if date.tzinfo is None:
        raise ValueError("the e-mail Date must be timezone-aware")
    for name, value in {"to": to, "subject": subject, "from_address": from_address}.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"e-mail {name} must be a single line")
    msg = EmailMessage()
    msg["From"] = formataddr((from_name, from_address)) if from_name else from_address
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(date)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def _code_failure(code: int | None) -> EmailSendOutcome:
    permanent = code is not None and 500 <= code < 600
    return EmailSendOutcome(sent=False, message_id=None, smtp_code=code, permanent=permanent)


class SmtpEmailSender:
    """One SMTP session per message (outreach volume is modest; no idle connection to keep healthy)."""

    def __init__(self, config: SmtpConfig) -> None:
        if not config.host:
            raise ValueError("SMTP host is required")
        if bool(config.username) != bool(config.password):
            raise ValueError("SMTP username and password must be set together")
        self._cfg = config

    async def send(self, message: EmailMessage) -> EmailSendOutcome:
        cfg = self._cfg
        try:
            errors, _ = await aiosmtplib.send(
                message,
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username,
                password=cfg.password,
                use_tls=cfg.security == "tls",
                start_tls=cfg.security == "starttls",
                validate_certs=cfg.validate_certs,
                timeout=cfg.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            outcome = _code_failure(max(codes) if codes else None)
        except aiosmtplib.SMTPResponseException as exc:
            outcome = _code_failure(exc.code)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError, TimeoutError):
            outcome = _code_failure(None)  # refused/dropped connection, TLS handshake failure, timeout
        except aiosmtplib.SMTPException:  # e.g. STARTTLS or AUTH required but not offered: configuration
            outcome = EmailSendOutcome(sent=False, message_id=None, smtp_code=None, permanent=True)
        else:
            if errors:  # some recipient refused (single recipient here, so: not delivered)
                outcome = _code_failure(max(r.code for r in errors.values()))
            else:
                return EmailSendOutcome(
                    sent=True, message_id=str(message["Message-ID"]), smtp_code=250, permanent=False
                )
        _logger.warning("smtp not sent: code=%s permanent=%s", outcome.smtp_code, outcome.permanent)
        return outcome

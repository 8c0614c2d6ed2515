"""SMS over Twilio: sending (real twilio SDK, async) and parsing the inbound and status webhooks.

Outcome semantics of ``send`` (never raises for a Twilio or network failure):
- accepted by Twilio → ``sent=True`` with the ``SM…`` sid and Twilio's status (``queued``/``accepted``);
- error 21610 (recipient replied STOP) → ``opted_out=True, permanent=True``: suppress, never retry;
- any other 4xx (bad number, auth, unregistered sender…) → ``permanent=True``: retrying cannot help;
- 429, 5xx, timeouts and connection errors → ``permanent=False`` (transient): the caller may retry later.
  Twilio's Messages API has no idempotency key, so a timeout after the request left may duplicate a send.
Error messages can quote the phone number; callers must not log them verbatim.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from telephony.rest import DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_S, build_rest_client

OPTED_OUT_ERROR = 21610
"""Twilio: "Attempt to send to unsubscribed recipient" (the number replied STOP to this sender)."""

FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
FAILED_STATUSES = frozenset({"undelivered", "failed"})

_logger = logging.getLogger("telephony.sms")


class MalformedWebhook(ValueError):
    """A (signature-valid) Twilio webhook without a field Twilio always sends."""


@dataclass(frozen=True, slots=True)
class SmsSendOutcome:
    sent: bool
    sid: str | None
    status: str | None
    error_code: int | None
    error_message: str | None
    permanent: bool
    opted_out: bool

    @property
    def transient(self) -> bool:
        """Not sent, and a later retry may succeed."""
        return not self.sent and not self.permanent


@runtime_checkable
class SmsSender(Protocol):
    """Anything that can send one SMS: Twilio in production, ``LocalOutbox`` in the embedded default."""

    async def send(self, to: str, body: str) -> SmsSendOutcome: ...


def _failure(status: int | None, code: int | None, message: str | None) -> SmsSendOutcome:
    opted_out = code == OPTED_OUT_ERROR
    transient = not opted_out and (status is None or status == 429 or status >= 500)
    return SmsSendOutcome(
        sent=False,
        sid=None,
        status=None,
        error_code=code,
        error_message=message,
        permanent=not transient,
        opted_out=opted_out,
    )


class TwilioSmsClient:
    """Sends SMS through ``messages.create_async`` of the real twilio SDK (see ``telephony.rest``)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None,
        messaging_service_sid: str | None,
        api_base: str | None,
        status_callback_url: str | None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioSmsClient needs from_number or messaging_service_sid")
        self._client = build_rest_client(
            account_sid, auth_token, api_base=api_base, timeout=timeout, max_in_flight=max_in_flight
        )
        self._from = from_number
        self._service = messaging_service_sid
        self._status_callback = status_callback_url

    async def send(self, to: str, body: str) -> SmsSendOutcome:
        """Ask Twilio to send ``body`` to ``to`` (E.164). Never raises for Twilio/network failures."""
        kwargs: dict[str, Any] = {"to": to, "body": body}
        if self._from:
            kwargs["from_"] = self._from
        if self._service:
            kwargs["messaging_service_sid"] = self._service
        if self._status_callback:
            kwargs["status_callback"] = self._status_callback
        try:
            message = await self._client.messages.create_async(**kwargs)
        except TwilioRestException as exc:
            outcome = _failure(exc.status, exc.code if isinstance(exc.code, int) else None, exc.msg)
        except TwilioServiceException as exc:
            outcome = _failure(exc.status, exc.code, exc.detail or exc.title)
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = _failure(None, None, f"network error: {type(exc).__name__}")
        except json.JSONDecodeError:  # a 2xx whose body is not JSON: Twilio's answer is unknown
            outcome = _failure(None, None, "unreadable response from Twilio")
        else:
            return SmsSendOutcome(
                sent=True,
                sid=message.sid,
                status=None if message.status is None else str(message.status),
                error_code=message.error_code,
                error_message=message.error_message,
                permanent=False,
                opted_out=False,
            )
        _logger.warning(
            "twilio sms not sent: code=%s permanent=%s opted_out=%s",
            outcome.error_code,
            outcome.permanent,
            outcome.opted_out,
        )
        return outcome

    async def aclose(self) -> None:
        """Release pooled connections; call at shutdown from the loop that sent."""
        await self._client.http_client.close()


@dataclass(frozen=True, slots=True)
class InboundSms:
    message_sid: str
    from_: str
    to: str
    body: str
    opt_out_type: str | None
    messaging_service_sid: str | None
    num_media: int


@dataclass(frozen=True, slots=True)
class SmsStatus:
    sid: str
    status: str
    error_code: int | None
    to: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @property
    def opted_out(self) -> bool:
        """A Messaging Service can accept a send and fail it later with 21610."""
        return self.error_code == OPTED_OUT_ERROR


def _required(form: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = form.get(name)
        if value:
            return value
    raise MalformedWebhook(f"Twilio webhook without {' or '.join(names)}")


def _optional(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name) or None


def _int_field(form: Mapping[str, str], name: str) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MalformedWebhook(f"Twilio webhook field {name} is not an integer") from None


def parse_inbound(form: Mapping[str, str]) -> InboundSms:
    """The ``/twilio/sms/inbound`` form. ``Body`` is kept exactly as received (not trimmed)."""
    opt_out = (form.get("OptOutType") or "").strip().upper()
    return InboundSms(
        message_sid=_required(form, "MessageSid", "SmsMessageSid", "SmsSid"),
        from_=_required(form, "From"),
        to=_required(form, "To"),
        body=form.get("Body", ""),
        opt_out_type=opt_out or None,
        messaging_service_sid=_optional(form, "MessagingServiceSid"),
        num_media=_int_field(form, "NumMedia") or 0,
    )


def parse_status_callback(form: Mapping[str, str]) -> SmsStatus:
    """The ``/twilio/sms/status`` form (``MessageStatus``; legacy ``SmsStatus`` accepted)."""
    return SmsStatus(
        sid=_required(form, "MessageSid", "SmsSid"),
        status=_required(form, "MessageStatus", "SmsStatus").strip().lower(),
        error_code=_int_field(form, "ErrorCode"),
        to=_optional(form, "To"),
    )

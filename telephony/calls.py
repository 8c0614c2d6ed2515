"""Outbound calls over Twilio's REST API (real twilio SDK, async) and their callbacks.

- ``TwilioCallClient.dial`` places a call with answering-machine detection that does not hold the call
  (``MachineDetection=DetectMessageEnd``, ``AsyncAmd=true``): Twilio fetches ``url`` as soon as someone
  (or something) answers, and posts the AMD verdict to ``amd_callback`` once the greeting has ended.
  Status callbacks for ``initiated ringing answered completed`` go to ``status_callback``.
- ``TwilioCallClient.redirect`` replaces the live call's TwiML (e.g. to speak a voicemail over the
  media stream), ``hang_up`` ends it.
- ``parse_call_status`` / ``parse_amd`` read the signed callback forms (§2.4 of the protocol notes):
  ``SequenceNumber`` orders status callbacks of one ``CallSid`` (they may arrive out of order).

Outcome semantics (never raises for a Twilio or network failure): 4xx → ``permanent`` (retrying cannot
help), 429/5xx/connection refused → transient, a timeout after the request left → ``ambiguous`` (Twilio
may have placed the call: do not dial again blindly). Error messages can quote phone numbers; callers
must not log them verbatim.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from telephony.rest import DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_S, build_rest_client
from telephony.sms import MalformedWebhook

STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress"}) | FINAL_CALL_STATUSES
MACHINE_END = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})
ANSWERED_BY = MACHINE_END | {"human", "unknown", "fax", "machine_start"}
NOT_IN_PROGRESS_ERROR = 21220
"""Twilio: "Call is not in-progress. Cannot redirect." (the call ended before the update)."""

_logger = logging.getLogger("telephony.calls")


@dataclass(frozen=True, slots=True)
class CallOutcome:
    ok: bool
    call_sid: str | None
    status: str | None
    error_code: int | None
    permanent: bool
    ambiguous: bool = False  # the request may have reached Twilio (timeout): the call may exist

    @property
    def transient(self) -> bool:
        return not self.ok and not self.permanent and not self.ambiguous


def _failure(status: int | None, code: int | None, *, ambiguous: bool = False) -> CallOutcome:
    transient = status is None or status == 429 or status >= 500
    return CallOutcome(
        ok=False,
        call_sid=None,
        status=None,
        error_code=code,
        permanent=not transient and not ambiguous,
        ambiguous=ambiguous,
    )


async def _guard(coro: Any) -> tuple[Any, CallOutcome | None]:
    try:
        return await coro, None
    except TwilioRestException as exc:
        return None, _failure(exc.status, exc.code if isinstance(exc.code, int) else None)
    except TwilioServiceException as exc:
        return None, _failure(exc.status, exc.code)
    except aiohttp.ClientConnectorError:  # never reached Twilio: safe to retry
        return None, _failure(None, None)
    except (aiohttp.ClientError, TimeoutError):  # may have reached Twilio
        return None, _failure(None, None, ambiguous=True)
    except json.JSONDecodeError:  # a 2xx we cannot read: Twilio's answer is unknown
        return None, _failure(None, None, ambiguous=True)


class TwilioCallClient:
    """``calls.create_async`` / ``calls(sid).update_async`` of the real twilio SDK (see ``telephony.rest``)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str,
        api_base: str | None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        machine_detection_timeout: int = 30,
    ) -> None:
        if not from_number:
            raise ValueError("TwilioCallClient needs a caller-ID number (TWILIO_FROM_NUMBER)")
        self._client = build_rest_client(
            account_sid, auth_token, api_base=api_base, timeout=timeout, max_in_flight=max_in_flight
        )
        self._from = from_number
        self._amd_timeout = machine_detection_timeout

    async def dial(self, to: str, *, url: str, status_callback: str, amd_callback: str) -> CallOutcome:
        """Place one call to ``to`` (E.164) that fetches ``url`` when answered."""
        call, failed = await _guard(
            self._client.calls.create_async(
                to=to,
                from_=self._from,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_event=list(STATUS_EVENTS),
                status_callback_method="POST",
                machine_detection="DetectMessageEnd",
                machine_detection_timeout=self._amd_timeout,
                async_amd="true",
                async_amd_status_callback=amd_callback,
                async_amd_status_callback_method="POST",
                record=False,
            )
        )
        if failed is not None:
            _logger.warning(
                "twilio call not placed: code=%s permanent=%s ambiguous=%s",
                failed.error_code,
                failed.permanent,
                failed.ambiguous,
            )
            return failed
        return CallOutcome(
            ok=True,
            call_sid=call.sid,
            status=None if call.status is None else str(call.status),
            error_code=None,
            permanent=False,
        )

    async def redirect(self, call_sid: str, twiml: str) -> CallOutcome:
        """Replace what the live call is doing with ``twiml`` (ends a ``<Connect><Stream>``)."""
        return await self._update(call_sid, twiml=twiml)

    async def hang_up(self, call_sid: str) -> CallOutcome:
        return await self._update(call_sid, status="completed")

    async def _update(self, call_sid: str, **kwargs: Any) -> CallOutcome:
        call, failed = await _guard(self._client.calls(call_sid).update_async(**kwargs))
        if failed is not None:
            _logger.warning("twilio call update failed: code=%s", failed.error_code)
            return failed
        return CallOutcome(
            ok=True,
            call_sid=call.sid or call_sid,
            status=None if call.status is None else str(call.status),
            error_code=None,
            permanent=False,
        )

    async def aclose(self) -> None:
        await self._client.http_client.close()


@dataclass(frozen=True, slots=True)
class CallStatusEvent:
    call_sid: str
    status: str
    sequence: int | None
    duration_s: int | None
    answered_by: str | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_CALL_STATUSES


AnsweredKind = Literal["machine", "human", "fax", "machine_start"]


def answered_kind(answered_by: str | None) -> AnsweredKind:
    """What to do with an ``AnsweredBy`` value; None (no verdict yet) and ``unknown`` count as a person."""
    if answered_by in MACHINE_END:
        return "machine"
    if answered_by == "fax":
        return "fax"
    if answered_by == "machine_start":
        return "machine_start"
    return "human"  # human or unknown: talk (after right-party verification)


@dataclass(frozen=True, slots=True)
class AmdResult:
    call_sid: str
    answered_by: str
    detection_ms: int | None

    @property
    def kind(self) -> AnsweredKind:
        return answered_kind(self.answered_by)


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise MalformedWebhook(f"Twilio webhook without {name}")
    return value


def _int(form: Mapping[str, str], name: str) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise MalformedWebhook(f"Twilio webhook field {name} is not a non-negative integer")
    return int(raw)


def parse_call_status(form: Mapping[str, str]) -> CallStatusEvent:
    """The ``/twilio/voice/status`` form (``CallStatus``, ``SequenceNumber``, ``CallDuration``)."""
    status = _required(form, "CallStatus").strip().lower()
    if status not in CALL_STATUSES:
        raise MalformedWebhook("Twilio status callback with an unknown CallStatus")
    return CallStatusEvent(
        call_sid=_required(form, "CallSid"),
        status=status,
        sequence=_int(form, "SequenceNumber"),
        duration_s=_int(form, "CallDuration"),
        answered_by=(form.get("AnsweredBy") or None),
    )


def parse_amd(form: Mapping[str, str]) -> AmdResult:
    """The async AMD callback form (``AnsweredBy``, ``MachineDetectionDuration`` in ms)."""
    answered_by = _required(form, "AnsweredBy").strip().lower()
    if answered_by not in ANSWERED_BY:
        raise MalformedWebhook("Twilio AMD callback with an unknown AnsweredBy")
    return AmdResult(
        call_sid=_required(form, "CallSid"),
        answered_by=answered_by,
        detection_ms=_int(form, "MachineDetectionDuration"),
    )

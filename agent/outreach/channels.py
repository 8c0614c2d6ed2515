"""The seam between the outreach pipeline and the channels that actually contact a patient.

The pipeline decides *whether* and *when*; a channel only delivers. Every channel receives an
already-gated :class:`ContactRequest` whose ``attempt_id`` is the durable attempt row id and must be
used as the vendor idempotency key, and answers with a :class:`DispatchResult` whose ``detail``
is machine-readable and carries no PHI.

Counting: a channel that returns SENT (or, for a call, reaches ``initiated``) records the counted
``ContactAttemptRow`` itself (``records.record_attempt``, idempotent on its provider id), so each
attempt counts once toward the caps; the pipeline never writes contact attempts. TRANSIENT is
retried with backoff on the same ``attempt_id``; PERMANENT and BLOCKED never are.

Registration: ``agent.outreach.service.build_channels`` uses SMS (``GuardedSms``) always and the
e-mail / voice channels when their modules expose ``make_email_channel(runtime)`` /
``make_voice_channel(runtime)`` and the vendor is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

ChannelName = Literal["sms", "email", "voice"]


@dataclass(frozen=True)
class ContactRequest:
    attempt_id: str  # the durable attempt row id (idempotency key for the vendor call)
    patient_id: str
    channel: ChannelName
    to: str  # E.164 phone or email address
    purpose: str  # cadence step purpose/template key, e.g. "balance_reminder", "plan_offer"
    practice_id: str


class DispatchStatus(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"
    TRANSIENT = "failed_transient"
    PERMANENT = "failed_permanent"


@dataclass(frozen=True)
class DispatchResult:
    status: DispatchStatus
    provider_ref: str | None = None  # MessageSid / CallSid / Message-ID
    detail: str = ""  # machine-readable reason, no PHI


class OutreachChannel(Protocol):
    name: str

    async def dispatch(self, req: ContactRequest) -> DispatchResult: ...

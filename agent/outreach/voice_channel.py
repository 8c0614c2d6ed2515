"""The voice outreach channel: one outbound call per attempt through Twilio's REST API.

The call is placed with async answering-machine detection (`DetectMessageEnd`), so Twilio connects
it to `/twilio/voice/outbound` as soon as it is answered (treated as a person: the voice agent
verifies identity before saying anything about a balance) and tells `/twilio/voice/amd` later
whether a machine answered (then the limited-content voicemail replaces the stream). Status callbacks
go to `/twilio/voice/status`. Every callback URL carries the attempt id (signed with the rest of the
URL), so a call whose REST answer was lost still finds its attempt.

Order of a dispatch: channel/config checks → voice suppression (number and person) → the number must
be on the patient's record → claim the attempt (unique row: a retried job never dials twice) → REST
create → the contact attempt is recorded at once with the CallSid (counted toward the 7-in-7 cap
exactly once, whatever the call's outcome; rule 9/58). A refused request (4xx) is permanent;
5xx/429/connection refused release the claim (transient, the job may retry); a timeout leaves the
attempt `unknown` and is never redialled blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus, OutreachChannel
from agent.outreach.delivery import accounted
from agent.store.calls import CallStore
from agent.store.records import SqlRecords
from pms.protocol import PmsAdapter
from telephony.calls import TwilioCallClient

if TYPE_CHECKING:
    from agent.runtime import Runtime


OUTBOUND_PATH = "/twilio/voice/outbound"
STATUS_PATH = "/twilio/voice/status"
AMD_PATH = "/twilio/voice/amd"


def callback_url(public_base_url: str, path: str, attempt_id: str) -> str:
    return f"{public_base_url.rstrip('/')}{path}?attempt={quote(attempt_id, safe='')}"


@dataclass
class VoiceChannel:
    """`agent.outreach.channels.OutreachChannel` for outbound calls."""

    calls: TwilioCallClient | None
    store: CallStore
    records: SqlRecords
    pms: PmsAdapter
    public_base_url: str

    name: str = "voice"

    async def dispatch(self, req: ContactRequest) -> DispatchResult:
        return await accounted(self.records, req, await self._dispatch(req))

    async def _dispatch(self, req: ContactRequest) -> DispatchResult:
        if req.channel != "voice":
            return DispatchResult(DispatchStatus.PERMANENT, detail="wrong_channel")
        if self.calls is None:
            return DispatchResult(DispatchStatus.PERMANENT, detail="voice_unconfigured")
        if await self.records.is_suppressed(req.to, "voice", patient_id=req.patient_id):
            return DispatchResult(DispatchStatus.BLOCKED, detail="suppressed")
        patient = await self.pms.get_patient(req.patient_id)
        if patient is None:
            return DispatchResult(DispatchStatus.PERMANENT, detail="unknown_patient")
        if req.to not in {c.value for c in patient.phones}:
            return DispatchResult(DispatchStatus.PERMANENT, detail="number_not_on_file")
        existing = await self.store.claim_dial(
            attempt_id=req.attempt_id,
            patient_id=patient.patient_id,
            guarantor_id=patient.guarantor_id,
            to=req.to,
            purpose=req.purpose,
        )
        if existing is not None:
            if existing.call_sid:
                return DispatchResult(DispatchStatus.SENT, existing.call_sid, "already_dialed")
            return DispatchResult(DispatchStatus.PERMANENT, detail=f"attempt_{existing.dial_state}")
        base = self.public_base_url
        outcome = await self.calls.dial(
            req.to,
            url=callback_url(base, OUTBOUND_PATH, req.attempt_id),
            status_callback=callback_url(base, STATUS_PATH, req.attempt_id),
            amd_callback=callback_url(base, AMD_PATH, req.attempt_id),
        )
        if outcome.transient:
            await self.store.release_dial(req.attempt_id)
            return DispatchResult(
                DispatchStatus.TRANSIENT, detail=f"twilio_{outcome.error_code or 'unreachable'}"
            )
        if outcome.ambiguous:
            await self.store.mark_dial_failed(req.attempt_id, state="unknown", error="timeout")
            return DispatchResult(DispatchStatus.PERMANENT, detail="dial_outcome_unknown")
        if not outcome.ok or outcome.call_sid is None:
            code = f"twilio_{outcome.error_code or 'refused'}"
            await self.store.mark_dial_failed(req.attempt_id, state="failed", error=code)
            return DispatchResult(DispatchStatus.PERMANENT, detail=code)
        await self.store.mark_dialed(req.attempt_id, outcome.call_sid)
        await count_call_attempt(
            self.records,
            call_sid=outcome.call_sid,
            patient_id=patient.patient_id,
            guarantor_id=patient.guarantor_id,
            to=req.to,
            status=outcome.status or "queued",
        )
        return DispatchResult(DispatchStatus.SENT, outcome.call_sid, "dialed")


async def count_call_attempt(
    records: SqlRecords,
    *,
    call_sid: str,
    patient_id: str,
    guarantor_id: str | None,
    to: str,
    status: str | None = None,
) -> None:
    """The counted contact attempt of a placed call (idempotent on the CallSid: counted once)."""
    await records.record_attempt(
        patient_id=patient_id,
        guarantor_id=guarantor_id,
        channel="voice",
        to=to,
        direction="outbound",
        counted=True,
        provider_sid=call_sid,
        status=status,
    )


def make_call_client(runtime: Runtime) -> TwilioCallClient | None:
    """Twilio calls need an account and a caller-ID number (a Messaging Service cannot place calls)."""
    s = runtime.settings
    if not (s.twilio_account_sid and s.twilio_auth_token and s.twilio_from_number):
        return None
    return TwilioCallClient(
        s.twilio_account_sid,
        s.twilio_auth_token.get_secret_value(),
        from_number=s.twilio_from_number,
        api_base=s.twilio_api_base,
    )


def make_voice_channel(runtime: Runtime) -> VoiceChannel:
    """The voice channel on the runtime's Twilio call client, store and PMS."""
    return VoiceChannel(
        calls=runtime.call_client,
        store=CallStore(runtime.sessions, runtime.clock),
        records=runtime.records,
        pms=runtime.pms,
        public_base_url=runtime.settings.public_base_url,
    )


if TYPE_CHECKING:  # mypy proves the channel satisfies the pipeline's protocol

    def _is_channel(channel: VoiceChannel) -> OutreachChannel:
        return channel

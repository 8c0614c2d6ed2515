"""The one guarded path every outbound text takes.

Suppression is checked before every send; an agent-initiated text also passes the compliance gate
(with the decision audited); Twilio's 21610 ("replied STOP") is recorded as an opt-out and never
retried. Replies to a text the patient just sent skip the calling window and caps (it is not a new
contact) but never the suppression ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from agent.logs import get_logger
from agent.metrics import COMPLIANCE_BLOCKS, SMS_SENT
from agent.store.records import SqlRecords
from agent.store.writes import WriteBatch
from pms.protocol import PmsAdapter
from policies import compliance
from policies.config import PracticePolicy
from policies.redaction import redact
from policies.types import ContactAction, SuppressionScope
from telephony.sms import SmsSender
from tools.context import SendResult

log = get_logger(__name__)

# Purposes that may reach a number that is opted out: the single opt-out confirmation only.
_BYPASS_SUPPRESSION = frozenset({"opt_out_confirmation"})


@dataclass
class GuardedSms:
    sender: SmsSender
    records: SqlRecords
    pms: PmsAdapter
    policy: PracticePolicy
    clock: Callable[[], datetime]

    async def send_sms(
        self,
        *,
        patient_id: str | None,
        to: str,
        body: str,
        purpose: str,
        initiated_by: Literal["agent", "patient_reply", "staff"] = "agent",
        conversation_id: str | None = None,
    ) -> SendResult:
        """Send one text if allowed; `tools.context.Messenger` for tools (agent-initiated)."""
        return await self.send(
            patient_id=patient_id,
            to=to,
            body=body,
            purpose=purpose,
            initiated_by=initiated_by,
            conversation_id=conversation_id,
        )

    async def send(
        self,
        *,
        patient_id: str | None,
        to: str,
        body: str,
        purpose: str,
        initiated_by: Literal["agent", "patient_reply", "staff"] = "agent",
        conversation_id: str | None = None,
        before: WriteBatch | None = None,
        after: WriteBatch | None = None,
        known_suppressed: bool | None = None,
    ) -> SendResult:
        """`send_sms`, plus the caller's rows: `before` commits in the transaction that checks the
        suppression ledger (so it is durable before anything goes out), `after` with the record of
        the send (message + attempt), or of why nothing was sent.

        `known_suppressed`: the SMS channel's reply to a text reads the ledger for the number in
        the transaction that recorded the text, under the number's lock, moments before; it passes
        that answer (only while it is under a second old and nothing in the turn wrote to the
        ledger) instead of reading it again. None: read it here."""
        now = self.clock()
        before = before or self.records.batch(now)
        after = after or self.records.batch(now)

        def blocked(batch: WriteBatch) -> None:
            batch.audit(
                "sms.blocked",
                patient_id=patient_id,
                conversation_id=conversation_id,
                detail={"reason": "suppressed"},
            )

        check = None if purpose in _BYPASS_SUPPRESSION else to
        if check is not None and known_suppressed is not None:
            # The caller read the ledger for this number moments ago (see `known_suppressed`).
            suppressed = known_suppressed
            if suppressed:
                blocked(before)
            await self.records.apply(before)
        else:
            suppressed = await self.records.apply(before, check_suppression=check, if_suppressed=blocked)
        if suppressed:
            SMS_SENT.labels(result="suppressed").inc()
            await self.records.apply(after)
            return SendResult(sent=False, reason="suppressed")
        counted = initiated_by == "agent"
        guarantor_id: str | None = None
        if counted:
            gate = await self._gate(patient_id, to, purpose, conversation_id, now)
            if isinstance(gate, SendResult):
                await self.records.apply(after)
                return gate
            guarantor_id = gate
        outcome = await self.sender.send(to, body)
        after.at = self.clock()
        if outcome.opted_out:
            SMS_SENT.labels(result="opted_out").inc()
            after.ledger_entry(
                patient_id=patient_id,
                value=to,
                scope=SuppressionScope.SMS.value,
                action="opt_out",
                basis=None,
                reason="twilio_21610",
                source="twilio",
            )
            await self.records.apply(after)
            return SendResult(sent=False, reason="opted_out_21610")
        if not outcome.sent:
            SMS_SENT.labels(result="error").inc()
            log.warning("sms_send_failed", error_code=outcome.error_code, permanent=outcome.permanent)
            after.audit(
                "sms.failed",
                patient_id=patient_id,
                conversation_id=conversation_id,
                detail={"error_code": outcome.error_code, "permanent": outcome.permanent},
            )
            await self.records.apply(after)
            # "error" = transient (retry may help), "error_permanent" = never retry (outreach relies on it)
            return SendResult(sent=False, reason="error_permanent" if outcome.permanent else "error")
        SMS_SENT.labels(result="sent").inc()
        after.message(
            conversation_id=conversation_id,
            direction="out",
            channel="sms",
            body=redact(body),
            provider_sid=outcome.sid,
            status=outcome.status or "queued",
        )
        after.attempt(
            patient_id=patient_id,
            guarantor_id=guarantor_id,
            channel="sms",
            to=to,
            direction="outbound",
            counted=counted,
            provider_sid=outcome.sid,
        )
        await self.records.apply(after)
        return SendResult(sent=True, provider_id=outcome.sid)

    async def _gate(
        self, patient_id: str | None, to: str, purpose: str, conversation_id: str | None, now: datetime
    ) -> str | SendResult:
        """The compliance gate for an agent-initiated text (decision audited): the guarantor id if
        allowed, else the refusal."""
        patient = await self.pms.get_patient(patient_id) if patient_id else None
        if patient is None:
            return SendResult(sent=False, reason="blocked:unknown_patient")
        account = await self.pms.get_account(patient.guarantor_id)
        history = await self.records.contact_history(patient.guarantor_id, now=now)
        action = ContactAction(channel="sms", to=to, purpose=_purpose(purpose), initiated_by="agent")
        decision = compliance.check(action, patient, account, history, self.policy, now)
        await self.records.audit(
            "compliance.decision",
            patient_id=patient_id,
            conversation_id=conversation_id,
            detail={
                "channel": "sms",
                "purpose": purpose,
                "allowed": decision.allowed,
                "reason": decision.reason,
                "next_allowed_at": decision.next_allowed_at.isoformat() if decision.next_allowed_at else None,
            },
        )
        if not decision.allowed:
            COMPLIANCE_BLOCKS.labels(reason=decision.reason.split(":")[0]).inc()
            return SendResult(sent=False, reason=f"blocked:{decision.reason}")
        return patient.guarantor_id


@dataclass
class ConversationMessenger:
    """`tools.context.Messenger` for a live conversation: texts the patient asked for (a payment link
    during a call) answer their request, so the calling window does not apply; suppression still does."""

    outbound: GuardedSms
    conversation_id: str

    async def send_sms(self, *, patient_id: str | None, to: str, body: str, purpose: str) -> SendResult:
        return await self.outbound.send_sms(
            patient_id=patient_id,
            to=to,
            body=body,
            purpose=purpose,
            initiated_by="patient_reply",
            conversation_id=self.conversation_id,
        )


def _purpose(purpose: str) -> compliance.Purpose:
    allowed = ("balance", "plan_reminder", "promise_reminder", "receipt", "reply", "voicemail", "callback")
    return purpose if purpose in allowed else "balance"  # type: ignore[return-value]

"""The SMS channel: one inbound text in, at most one reply out.

Order of work for a text (each step durable before the next):
1. idempotency on MessageSid (shared state fast path, unique row in the store as the truth);
2. the keyword layer (STOP family incl. plain-language requests, HELP, START), which always works,
   even for unknown numbers and opted-out ones;
3. the conversation for this number (resumed across days), identity first;
4. the brain with guarded tools; the reply goes out through `GuardedSms` (suppression checked);
5. an audit trail and, for identified patients, a comm-log note to the PMS through the outbox.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from agent.conversation import Conversation
from agent.logs import get_logger
from agent.messaging import GuardedSms
from agent.metrics import SMS_INBOUND
from agent.pms_lookup import match_caller
from agent.state.base import SharedState
from agent.store.records import SqlRecords
from agent.store.writes import WriteBatch
from agent.turns import TurnEngine
from pms.protocol import PmsAdapter
from pms.types import CommLogWrite, ContactPreferenceWrite
from policies.config import PracticePolicy
from policies.keywords import classify_sms
from policies.redaction import redact
from policies.types import SuppressionScope
from prompts.loader import render
from tools.context import CallerState, PaymentLinks, ToolContext

log = get_logger(__name__)

IDEMPOTENCY_TTL = 7 * 24 * 3600  # a processed MessageSid is answered "duplicate" this long
HELD_TTL = 1800  # a date of birth texted before the name waits this long (in shared state) for it
SUPPRESSION_FRESH_S = 1.0  # a ledger answer read with the text is reused for its reply this long
IN_FLIGHT_TTL = 300  # a claim whose process died mid-text stops blocking Twilio's retries after this


@dataclass(frozen=True)
class InboundText:
    message_sid: str
    from_: str
    to: str
    body: str
    opt_out_type: str | None = None


@dataclass(frozen=True)
class SmsOutcome:
    kind: Literal["duplicate", "in_progress", "stop", "start", "help", "suppressed", "conversation"]
    reply: str | None
    conversation_id: str | None = None
    sent: bool = False


@dataclass
class SmsChannel:
    records: SqlRecords
    state: SharedState
    pms: PmsAdapter
    policy: PracticePolicy
    engine: TurnEngine
    outbound: GuardedSms
    payments: PaymentLinks
    clock: Callable[[], datetime]

    async def handle(self, msg: InboundText) -> SmsOutcome:
        async with self.state.claim_locked(
            f"sms-in:{msg.message_sid}",
            lock=f"sms-contact:{msg.from_}",
            in_flight_ttl=IN_FLIGHT_TTL,
            done_ttl=IDEMPOTENCY_TTL,
            lock_ttl=60,
            lock_wait=30,
        ) as claim:
            if claim == "claimed":
                # A failure below forgets the claim, so Twilio's retry is processed (the store's
                # unique MessageSid still guarantees nothing is recorded twice).
                return await self._handle_locked(msg)
        if claim == "in_flight":
            # The first delivery is still being processed (or just failed): don't tell Twilio
            # "done" for a text that may never be recorded; a non-2xx lets it retry later.
            return SmsOutcome(kind="in_progress", reply=None)
        SMS_INBOUND.labels(kind="duplicate").inc()
        return SmsOutcome(kind="duplicate", reply=None)

    async def _handle_locked(self, msg: InboundText) -> SmsOutcome:
        body = redact(msg.body)
        read_at = time.monotonic()
        opened = await self.records.open_inbound_text(
            contact=msg.from_,
            idle_days=self.policy.sms.session_idle_days,
            provider_sid=msg.message_sid,
            body=body,
        )
        if opened.conversation is not None:
            conv, recorded = opened.conversation, opened.recorded
        else:
            conv, detail = await self._new_conversation(msg.from_)
            recorded = await self.records.start_inbound_text(
                conv, provider_sid=msg.message_sid, body=body, detail=detail
            )
        if not recorded:
            SMS_INBOUND.labels(kind="duplicate").inc()
            return SmsOutcome(kind="duplicate", reply=None, conversation_id=conv.conversation_id)
        suppressed = opened.suppressed
        kw = classify_sms(msg.body, msg.opt_out_type, suppressed=suppressed)
        SMS_INBOUND.labels(kind=kw.kind).inc()
        if kw.kind == "stop":
            return await self._stop(msg, conv, kw.scope, kw.twilio_handled)
        if kw.kind == "start":
            return await self._start(msg, conv, kw.twilio_handled)
        if kw.kind == "help":
            return await self._help(msg, conv, kw.twilio_handled, suppressed)
        if suppressed:
            # They opted out earlier and wrote again without START: we may not text them.
            batch = self.records.batch()
            batch.audit(
                "sms.inbound_while_suppressed",
                patient_id=conv.state.patient_id,
                conversation_id=conv.conversation_id,
                detail={},
            )
            batch.save_conversation(conv)
            await self.records.apply(batch)
            return SmsOutcome(kind="suppressed", reply=None, conversation_id=conv.conversation_id)
        records = self.records.deferring_audits()
        ctx = ToolContext(
            pms=self.pms,
            policy=self.policy,
            records=records,
            payments=self.payments,
            clock=self.clock,
            messenger=None,
        )
        await self._restore_held(conv)
        result = await self.engine.run(conv, msg.body, ctx)
        await self._hold(conv)
        # The turn's audit events and its state commit together, before the reply goes out.
        before = records.deferred
        before.save_conversation(conv)
        sent = False
        if result.reply:
            after = self.records.batch()
            self._comm_log(after, conv, msg, result.reply)
            fresh = not records.ledger_changed and time.monotonic() - read_at < SUPPRESSION_FRESH_S
            sent = await self._reply(
                conv,
                msg,
                result.reply,
                before=before,
                after=after,
                known_suppressed=suppressed if fresh else None,
            )
        else:
            self._comm_log(before, conv, msg, result.reply)
            await self.records.apply(before)
        if conv.state.outcome == "wrong_party":  # after the one acknowledgement, never again
            await self._wrong_party(conv, msg)
        return SmsOutcome(
            kind="conversation", reply=result.reply, conversation_id=conv.conversation_id, sent=sent
        )

    # ---- keyword layer -------------------------------------------------------------------------

    async def _stop(
        self, msg: InboundText, conv: Conversation, scope: str, twilio_handled: bool
    ) -> SmsOutcome:
        sc = {"all": SuppressionScope.ALL, "voice": SuppressionScope.VOICE}.get(scope, SuppressionScope.SMS)
        patient_ids = [conv.state.patient_id] if conv.state.patient_id else conv.state.candidate_patient_ids
        batch = self.records.batch()
        batch.ledger_entry(
            patient_id=conv.state.patient_id,
            value=msg.from_,
            scope=sc.value,
            action="opt_out",
            basis=None,
            reason="patient_request",
            source="sms",
        )
        for pid in patient_ids:
            batch.pms_write(
                ContactPreferenceWrite(
                    idempotency_key=f"{self.policy.practice.practice_id}|{pid}|optout|{msg.message_sid}",
                    patient_id=pid,
                    sms_ok=False if sc in (SuppressionScope.ALL, SuppressionScope.SMS) else None,
                    do_not_call=True if sc in (SuppressionScope.ALL, SuppressionScope.VOICE) else None,
                    note=f"Patient asked by text not to be contacted ({sc.value}).",
                ),
                conversation_id=conv.conversation_id,
            )
        conv.state.outcome = "opt_out"
        conv.state.ended = True
        batch.save_conversation(conv)
        await self.records.apply(batch)  # the opt-out is durable before anything else happens
        reply: str | None = None
        sent = False
        # At most one confirmation, and none when Twilio's own opt-out handling already replied.
        if not twilio_handled and await self.state.claim(f"optout-confirm:{msg.from_}", 300):
            key = "opt_out_confirmation_voice" if sc == SuppressionScope.VOICE else "opt_out_confirmation"
            reply = render(key, channel="sms", lang=conv.state.language, practice=self.policy.practice.name)
            sent = await self._reply(conv, msg, reply, purpose="opt_out_confirmation")
        return SmsOutcome(kind="stop", reply=reply, conversation_id=conv.conversation_id, sent=sent)

    async def _start(self, msg: InboundText, conv: Conversation, twilio_handled: bool) -> SmsOutcome:
        batch = self.records.batch()
        batch.ledger_entry(
            patient_id=conv.state.patient_id,
            value=msg.from_,
            scope="sms",
            action="opt_in",
            basis="sms_opt_in",
            reason=None,
            source="sms",
        )
        batch.save_conversation(conv)
        reply: str | None = None
        sent = False
        if twilio_handled:
            await self.records.apply(batch)
        else:
            reply = render(
                "opt_in_confirmation",
                channel="sms",
                lang=conv.state.language,
                practice=self.policy.practice.name,
            )
            sent = await self._reply(conv, msg, reply, before=batch)
        return SmsOutcome(kind="start", reply=reply, conversation_id=conv.conversation_id, sent=sent)

    async def _help(
        self, msg: InboundText, conv: Conversation, twilio_handled: bool, suppressed: bool
    ) -> SmsOutcome:
        batch = self.records.batch()
        batch.save_conversation(conv)
        if twilio_handled:
            await self.records.apply(batch)
            return SmsOutcome(kind="help", reply=None, conversation_id=conv.conversation_id)
        p = self.policy.practice
        reply = self.policy.sms.help_text or render(
            "help", channel="sms", lang=conv.state.language, practice=p.name, phone=_pretty(p.callback_number)
        )
        sent = await self._reply(conv, msg, reply, before=batch, known_suppressed=suppressed)
        return SmsOutcome(kind="help", reply=reply, conversation_id=conv.conversation_id, sent=sent)

    async def _wrong_party(self, conv: Conversation, msg: InboundText) -> None:
        """The person at this number is not our patient: never contact the number again, tell staff."""
        await self.records.add_suppression(
            patient_id=None, value=msg.from_, scope=SuppressionScope.ALL, reason="wrong_number", source="sms"
        )
        candidates = conv.state.candidate_patient_ids
        await self.records.create_staff_task(
            kind="wrong_number",
            patient_id=candidates[0] if len(candidates) == 1 else None,
            conversation_id=conv.conversation_id,
            summary="The person texting from a number on file says it is a wrong number; the number is "
            "suppressed. Please confirm the patient's contact details.",
            context={"contact_last4": msg.from_[-4:], "patients_on_number": len(candidates)},
            priority="normal",
        )

    async def _reply(
        self,
        conv: Conversation,
        msg: InboundText,
        body: str,
        *,
        purpose: str = "reply",
        before: WriteBatch | None = None,
        after: WriteBatch | None = None,
        known_suppressed: bool | None = None,
    ) -> bool:
        """Answer the text just received (suppression is still checked, except for an opt-out
        confirmation). `before` commits with that check, `after` with the record of the send;
        `known_suppressed` is the ledger's answer read with the text (see `GuardedSms.send`)."""
        res = await self.outbound.send(
            patient_id=conv.state.patient_id,
            to=msg.from_,
            body=body,
            purpose=purpose,
            initiated_by="patient_reply",
            conversation_id=conv.conversation_id,
            before=before,
            after=after,
            known_suppressed=known_suppressed,
        )
        return res.sent

    # ---- conversation ----------------------------------------------------------------------------

    async def _new_conversation(self, phone: str) -> tuple[Conversation, dict[str, Any]]:
        """A conversation for a number with none open (caller ID from the PMS); not yet stored."""
        matches = await match_caller(self.pms, phone)
        state = CallerState(
            conversation_id=f"cv_{uuid.uuid4().hex[:20]}",
            channel="sms",
            contact=phone,
            candidate_patient_ids=[p.patient_id for p in matches],
        )
        if matches and all(m.language == "es" for m in matches):
            state.language = "es"
        if self.policy.verification.consented_number_is_enough_for_sms and len(matches) == 1:
            patient = matches[0]
            if any(c.value == phone and c.sms_consent == "yes" for c in patient.phones):
                state.verified = True
                state.patient_id = patient.patient_id
                state.guarantor_id = patient.guarantor_id
        conv = Conversation(state=state, direction="inbound", started_at=self.clock())
        return conv, {"channel": "sms", "matches": len(matches)}

    async def _restore_held(self, conv: Conversation) -> None:
        """Put back the transient memory (a date of birth awaiting the name) kept in shared state."""
        if conv.held_elsewhere:
            raw = await self.state.get(f"sms-held:{conv.conversation_id}")
            if raw:
                conv.restore_memory(json.loads(raw))

    async def _hold(self, conv: Conversation) -> None:
        """Keep the transient memory out of the record store: in shared state, for HELD_TTL."""
        held = conv.held_memory()
        if held:
            await self.state.set(f"sms-held:{conv.conversation_id}", json.dumps(held), HELD_TTL)
        elif conv.held_elsewhere:
            await self.state.delete(f"sms-held:{conv.conversation_id}")

    def _comm_log(self, batch: WriteBatch, conv: Conversation, msg: InboundText, reply: str) -> None:
        """One PMS comm-log note per exchange, only for a verified patient (never the wrong chart)."""
        if not (conv.state.verified and conv.state.patient_id):
            return
        tools_used = sorted({c.name for c in conv.tool_calls[-5:]})
        note = f"Text with patient (BalanceLine). Patient: {redact(msg.body)[:300]} | Reply: {redact(reply)[:300]}"
        if tools_used:
            note += f" | Actions: {', '.join(tools_used)}"
        batch.pms_write(
            CommLogWrite(
                idempotency_key=f"{self.policy.practice.practice_id}|{conv.state.patient_id}|sms|{msg.message_sid}",
                patient_id=conv.state.patient_id,
                at=self.clock(),
                mode="text",
                direction="received",
                note=note,
            ),
            conversation_id=conv.conversation_id,
        )


def _pretty(e164: str) -> str:
    digits = e164.removeprefix("+1")
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return e164

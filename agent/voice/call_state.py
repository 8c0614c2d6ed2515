"""What a voice call needs and leaves behind: timings, the app's collaborators, opening the
conversation at ``start`` and recording the call's end (outcome, summary, PMS note, audit, live event).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.brains.rules import RulesBrain
from agent.conversation import Conversation
from agent.logs import get_logger
from agent.messaging import ConversationMessenger, GuardedSms
from agent.pay_handoff import card_capture_for
from agent.state.base import SharedState
from agent.store.records import SqlRecords
from agent.store.voice_calls import VoiceCallStore
from agent.turns import TurnEngine
from agent.voice.live import publish_call
from agent.voice.stream_grants import StreamGrant
from agent.voice.wrap_up import call_outcome, call_summary, comm_log_write
from pms.protocol import PmsAdapter
from policies.config import PracticePolicy
from tools.context import CallerState, CardCapture, PaymentLinks, ToolContext

log = get_logger(__name__)


@dataclass(frozen=True)
class VoiceConfig:
    """Timings of the session (ms unless said otherwise)."""

    barge_in_min_speech_ms: int = 120  # counted from the VAD's onset (vad_onset_threshold) ...
    barge_in_loud_dbfs: float = -40.0  # ... or from a loud lead-in just before it (the VAD's score lags
    barge_in_lead_ms: int = 60  # the sound by a window or two), credited up to this much
    vad_threshold: float = 0.5  # a run of frames is speech once one reaches this probability ...
    vad_onset_threshold: float = 0.3  # ... and it runs from/until the frames below this (hysteresis)
    barge_in_commit_speech_ms: int = 700  # speech this long over the agent is a real interruption
    barge_in_release_ms: int = 1500  # no decision this long after the caller went quiet → resume
    vad_end_ms: int = 1200  # our VAD's silence that ends a turn when the STT's end event is late
    digit_hold_ms: int = 1000
    dob_end_silence_ms: int = 1200  # the local STT's end-of-speech silence while a DOB is expected
    filler_after_ms: int = 1200
    filler_again_after_ms: int = 3000  # then every 3 s: never more than ~2 s of unexplained silence
    turn_timeout_s: float = 12.0
    reprompt_after_s: float = 8.0
    max_reprompts: int = 2
    max_call_s: float = 15 * 60.0
    dtmf_timeout_s: float = 5.0
    start_timeout_s: float = 10.0
    tick_s: float = 0.05


@dataclass
class VoiceDeps:
    """What a call needs from the application (built from the runtime by ``from_runtime``)."""

    policy: PracticePolicy
    records: SqlRecords
    pms: PmsAdapter
    turns: TurnEngine
    state: SharedState
    payments: PaymentLinks
    outbound_sms: GuardedSms
    calls: VoiceCallStore
    clock: Callable[[], datetime]
    fallback_turns: TurnEngine | None = None
    card_capture: CardCapture | None = None  # keypad payments (<Pay>) when Stripe + Twilio are set up

    @classmethod
    def from_runtime(cls, rt: Any) -> VoiceDeps:
        fallback = None
        if not isinstance(rt.brain, RulesBrain):
            fallback = TurnEngine(RulesBrain(rt.policy, clock=rt.clock), rt.policy, rt.clock)
        return cls(
            policy=rt.policy,
            records=rt.records,
            pms=rt.pms,
            turns=rt.turns,
            state=rt.state,
            payments=rt.payments,
            outbound_sms=rt.outbound_sms,
            calls=VoiceCallStore(rt.sessions, rt.clock),
            clock=rt.clock,
            fallback_turns=fallback,
            card_capture=card_capture_for(rt),
        )


@dataclass
class CallResult:
    refused: bool = False
    call_sid: str | None = None
    conversation_id: str | None = None
    end_reason: str | None = None
    outcome: str | None = None
    handoff: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)


async def open_call_conversation(
    deps: VoiceDeps, grant: StreamGrant, *, call_sid: str, stream_sid: str
) -> tuple[Conversation, ToolContext]:
    """The grant's conversation (opened by the webhook, or resumed after <Pay>), else a new one."""
    d = deps
    conv = await d.records.load_conversation(grant.conversation_id) if grant.conversation_id else None
    if conv is None:
        state = CallerState(
            conversation_id=grant.conversation_id or f"cv_{uuid.uuid4().hex[:20]}",
            channel="voice",
            candidate_patient_ids=[grant.patient_id] if grant.patient_id else [],
        )
        conv = Conversation(state=state, direction=grant.direction, started_at=d.clock())
    conv.state.call_sid = call_sid
    conv.state.call_direction = grant.direction
    if grant.resume:
        conv.state.pending_handoff = None  # back from <Pay>: the outcome is spoken first
    ctx = ToolContext(
        pms=d.pms,
        policy=d.policy,
        records=d.records,
        payments=d.payments,
        clock=d.clock,
        messenger=ConversationMessenger(d.outbound_sms, conv.conversation_id),
        card_capture=d.card_capture,
    )
    await d.records.save_conversation(conv)
    await d.calls.stream_started(
        call_sid, stream_sid=stream_sid, conversation_id=conv.conversation_id, direction=grant.direction
    )
    await publish_call(
        d.state, "started", call_id=call_sid, conversation_id=conv.conversation_id, at=d.clock()
    )
    return conv, ctx


async def record_call_end(
    deps: VoiceDeps,
    conv: Conversation,
    *,
    call_sid: str,
    stream_sid: str,
    direction: str,
    reason: str,
    handoff: dict[str, Any] | None,
    stats: dict[str, Any],
) -> str | None:
    """Outcome + summary on the conversation and the call row, the PMS note, audit, live "ended"."""
    d = deps
    outcome: str | None = None
    try:
        outcome = call_outcome(conv, caller_spoke=stats.get("caller_turns", 0) > 0, handoff=handoff)
        summary = call_summary(conv, outcome=outcome, end_reason=reason, stats=stats, direction=direction)
        if not (handoff and handoff.get("kind") == "pay"):  # a <Pay> hand-off resumes this conversation
            conv.state.ended = True
            if conv.state.outcome == "none":
                conv.state.outcome = outcome  # type: ignore[assignment]
        conv.summary = summary
        await d.records.save_conversation(conv)
        await d.calls.finish(call_sid, outcome=outcome, end_reason=reason, summary=summary, stats=dict(stats))
        write = comm_log_write(
            conv,
            practice_id=d.policy.practice.practice_id,
            call_sid=call_sid,
            stream_sid=stream_sid,
            summary=summary,
            at=d.clock(),
            direction=direction,
        )
        if write is not None:
            await d.records.enqueue_pms_write(write, conversation_id=conv.conversation_id)
        await d.records.audit(
            "call.ended",
            patient_id=conv.state.patient_id,
            conversation_id=conv.conversation_id,
            detail={"call_sid": call_sid, "outcome": outcome, "reason": reason},
        )
        log.info(
            "voice_call_ended",
            call_sid=call_sid,
            conversation_id=conv.conversation_id,
            outcome=outcome,
            reason=reason,
            turns=stats.get("caller_turns", 0),
        )
    except Exception as exc:
        log.error("voice_wrap_up_failed", call_sid=call_sid, error=type(exc).__name__)
    await publish_call(d.state, "ended", call_id=call_sid, conversation_id=conv.conversation_id, at=d.clock())
    return outcome

"""After a call: the structured outcome, a short summary, and where they are written.

Outcome (``voice_calls.outcome`` and the conversation's ``outcome``): one of ``paid``, ``plan``,
``promise``, ``dispute``, ``transfer``, ``callback``, ``no_contact``, ``wrong_party`` when the call
reached one, else ``opt_out``, ``hardship``, ``link_sent`` or ``info`` (talked, nothing agreed).
``no_contact``: the caller never said anything we understood, or was a third party.
The summary names ids and actions only (no PHI); the PMS comm-log note (verified patients only, so
never on the wrong chart) goes through the outbox, idempotent per stream.
"""

from __future__ import annotations

from typing import Any

from agent.conversation import Conversation
from pms.types import CommLogWrite

CALL_OUTCOMES = ("paid", "plan", "promise", "dispute", "transfer", "callback", "no_contact", "wrong_party")

_END_REASONS = {
    "hangup": "the caller hung up",
    "completed": "the conversation ended",
    "transfer": "handed to staff",
    "pay": "handed to keypad payment",
    "silence": "no response from the caller",
    "max_duration": "time limit reached",
    "failure": "a technical problem",
    "socket_closed": "the connection closed",
}


def call_outcome(conv: Conversation, *, caller_spoke: bool, handoff: dict[str, Any] | None) -> str:
    outcome = conv.state.outcome
    if handoff and handoff.get("kind") == "transfer":
        return "transfer"
    if outcome in CALL_OUTCOMES or outcome in ("opt_out", "hardship", "link_sent"):
        return outcome
    if conv.state.third_party or not caller_spoke:
        return "no_contact"
    return "info"


def call_summary(
    conv: Conversation, *, outcome: str, end_reason: str, stats: dict[str, Any], direction: str
) -> str:
    st = conv.state
    who = "verified patient" if st.verified else ("third party" if st.third_party else "caller not verified")
    actions = sorted({c.name for c in conv.tool_calls})
    parts = [
        f"{direction.capitalize()} call with {who}",
        f"{stats.get('caller_turns', 0)} caller turns",
        f"actions: {', '.join(actions) if actions else 'none'}",
        f"outcome: {outcome.replace('_', ' ')}",
        f"ended: {_END_REASONS.get(end_reason, end_reason)}",
    ]
    if stats.get("barge_ins"):
        parts.append(f"{stats['barge_ins']} interruptions")
    return "; ".join(parts) + "."


def comm_log_write(
    conv: Conversation,
    *,
    practice_id: str,
    call_sid: str,
    stream_sid: str,
    summary: str,
    at: Any,
    direction: str,
) -> CommLogWrite | None:
    st = conv.state
    if not (st.verified and st.patient_id):
        return None
    return CommLogWrite(
        idempotency_key=f"{practice_id}|{st.patient_id}|call|{call_sid}|{stream_sid}",
        patient_id=st.patient_id,
        at=at,
        mode="phone",
        direction="received" if direction == "inbound" else "sent",
        note=f"Phone call (BalanceLine automated assistant). {summary}",
    )

"""One patient turn through the brain, with the safety checks that live in code, not prompts.

Shared by every channel (SMS, terminal chat, voice): card numbers never reach the brain or the
transcript, tool calls are recorded with redacted arguments, and the agent's reply is linted so
nothing about the debt goes out before verification.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from agent.brains.base import Brain, BrainNotice, TextChunk, ToolEvent
from agent.conversation import Conversation, ToolCallRecord
from agent.logs import get_logger
from agent.metrics import BRAIN_FALLBACKS, TOOL_CALLS
from policies import messages
from policies.config import PracticePolicy
from policies.redaction import contains_card_number, redact
from prompts.loader import render
from tools.context import ToolContext
from tools.registry import ToolBox

log = get_logger(__name__)


@dataclass
class TurnResult:
    reply: str
    tool_events: list[ToolEvent] = field(default_factory=list)
    notices: list[BrainNotice] = field(default_factory=list)
    card_number_blocked: bool = False
    lint_replaced: bool = False


def _redact_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}


@dataclass
class TurnEngine:
    brain: Brain
    policy: PracticePolicy
    clock: Callable[[], datetime]

    async def stream(
        self, conv: Conversation, text: str, ctx: ToolContext
    ) -> AsyncIterator[TextChunk | ToolEvent | BrainNotice]:
        """Run one patient turn; yields brain events as they come (voice speaks chunks early).

        The caller must pass the events' text on; the transcript is updated here.
        """
        now = self.clock()
        channel = "voice" if conv.channel == "voice" else "sms"
        if contains_card_number(text):
            conv.add_turn("patient", redact(text), now)
            line = render("card_number_redirect", channel=channel, lang=conv.state.language)
            conv.add_turn("agent", line, now)
            yield BrainNotice("card_number_blocked")
            yield TextChunk(line)
            return
        conv.add_turn("patient", redact(text), now)
        tools = ToolBox(ctx).bind(conv.state)
        spoken: list[str] = []
        async for event in self.brain.respond(conv, text, tools):
            if isinstance(event, ToolEvent):
                TOOL_CALLS.labels(tool=event.name, ok=str(event.result.ok).lower()).inc()
                conv.tool_calls.append(
                    ToolCallRecord(
                        name=event.name,
                        arguments=_redact_args(event.arguments),
                        result={
                            "ok": event.result.ok,
                            "message": redact(event.result.message),
                            "refused": event.result.refused,
                        },
                        at=self.clock(),
                    )
                )
            elif isinstance(event, BrainNotice) and event.kind == "fallback":
                BRAIN_FALLBACKS.inc()
                log.warning("brain_fallback", conversation_id=conv.conversation_id, detail=str(event.detail))
            elif isinstance(event, TextChunk):
                spoken.append(event.text)
            yield event
        conv.add_turn("agent", redact("".join(spoken).strip()), self.clock())

    async def run(self, conv: Conversation, text: str, ctx: ToolContext) -> TurnResult:
        """Run a whole turn and return the reply text, linted for the caller's verification state."""
        result = TurnResult(reply="")
        parts: list[str] = []
        async for event in self.stream(conv, text, ctx):
            if isinstance(event, TextChunk):
                parts.append(event.text)
            elif isinstance(event, ToolEvent):
                result.tool_events.append(event)
            else:
                result.notices.append(event)
                if event.kind == "card_number_blocked":
                    result.card_number_blocked = True
        reply = "".join(parts).strip()
        channel: Literal["voice", "sms"] = "voice" if conv.channel == "voice" else "sms"
        violations = messages.lint(reply, verified=conv.state.verified, policy=self.policy, channel=channel)
        if any(v.rule == "debt_before_verification" for v in violations):
            # Defence in depth: the brain produced debt wording for an unverified person.
            log.error(
                "reply_blocked_by_lint",
                conversation_id=conv.conversation_id,
                rules=[v.rule for v in violations],
            )
            reply = render(
                "identity_request",
                channel=channel,
                lang=conv.state.language,
                practice=self.policy.practice.name,
            )
            if conv.turns and conv.turns[-1].speaker == "agent":
                conv.turns[-1].text = reply
            result.lint_replaced = True
        result.reply = reply
        return result

"""One turn of the rules brain: tool calls, reply parts and the brain's memory in the conversation.

`conversation.memory["rules"]` holds (JSON-able): `pending` (the agent's open question),
`pending_intent` (a debt question asked before verification, answered once verified), `id` (a
name or date of birth given in one turn while waiting for the other; dropped as soon as
`verify_identity` is called), `promise` (amount/date collected so far), `plan_options`, `misses`
(consecutive turns not understood), `lang`.
"""

from __future__ import annotations

import logging
from typing import Any

from agent.brains.base import BrainEvent, TextChunk, ToolEvent, ToolInvoker
from agent.brains.phrases import Phrasebook, channel_of
from agent.conversation import Conversation
from policies.config import PracticePolicy
from tools.context import ToolResult

log = logging.getLogger(__name__)

DOB_MASK = "[date of birth]"  # what tool events (and so transcripts and logs) show instead of a DOB

# Lines that talk about money owed: an SMS reply containing one carries the opt-out footer (rule 26).
COLLECTION_KEYS = frozenset(
    {
        "balance",
        "balance_next",
        "plan_options",
        "plan_option_single",
        "plan_accepted",
        "plan_link",
        "link_sent",
        "link_sent_no_amount",
        "promise_confirmed",
        "explain_intro",
        "plan_monthly_too_low",
    }
)


class RulesTurn:
    """Collects what one turn does (tool events, reply lines) and updates the brain's memory."""

    def __init__(
        self, policy: PracticePolicy, conversation: Conversation, tools: ToolInvoker, text: str
    ) -> None:
        self.policy = policy
        self.conv = conversation
        self.state = conversation.state
        self.tools = tools
        self.text = text
        self.mem: dict[str, Any] = conversation.memory.setdefault("rules", {})
        self.book = Phrasebook(policy, channel_of(conversation), self.state.language)
        self.events: list[BrainEvent] = []
        self.parts: list[str] = []
        self.collection = False

    @property
    def voice(self) -> bool:
        return self.book.voice

    @property
    def pending(self) -> str | None:
        value = self.mem.get("pending")
        return str(value) if value else None

    def expect(self, question: str | None) -> None:
        """Remember the question the reply ends with (None: no open question)."""
        if question:
            self.mem["pending"] = question
        else:
            self.mem.pop("pending", None)

    async def call(self, name: str, **arguments: Any) -> ToolResult:
        args = {k: v for k, v in arguments.items() if v is not None}
        try:
            result = await self.tools.call(name, args)
        except Exception as exc:  # a tool layer bug must not leave the caller in silence
            log.error("tool %s raised %s", name, type(exc).__name__)
            result = ToolResult.refuse("tool_error", self.book.line("tool_problem"))
        shown = {**args, "date_of_birth": DOB_MASK} if "date_of_birth" in args else args
        self.events.append(ToolEvent(name=name, arguments=shown, result=result))
        return result

    def say(self, key: str, **vars: Any) -> None:
        self.parts.append(self.book.line(key, **vars))
        if key in COLLECTION_KEYS:
            self.collection = True

    def ask(self, key: str, question: str, **vars: Any) -> None:
        self.say(key, **vars)
        self.expect(question)

    def relay(self, result: ToolResult) -> None:
        """Say the tool's own (already verification-safe) sentence, made speakable on voice."""
        if result.message:
            self.parts.append(self.book.speakable(result.message))
            if result.ok and self.state.verified:
                self.collection = True

    def said_anything(self) -> bool:
        return bool(self.parts)

    def finish(self) -> list[BrainEvent]:
        if not self.parts:
            self.say("how_can_i_help")
        text = " ".join(p.strip() for p in self.parts if p.strip())
        if not self.voice and self.collection and "STOP" not in text:
            text += " " + self.book.line("sms_opt_out_footer")
        return [*self.events, TextChunk(text)]

"""The agent's reply to one caller turn: brain events → linted sentences on an ``AgentTurn``.

Each sentence is checked before it is spoken (nothing about the debt to an unverified caller: the
identity request is said instead and the rest of the reply is dropped); tool events are handed to the
session (transfers and payments become hand-offs); a brain failure re-runs the turn once on the rules
brain, and a second failure asks the session to hand the call over. ``fillers`` keeps the caller from
sitting in unexplained silence while the brain or a tool works.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from agent.brains.base import BrainNotice, TextChunk, ToolEvent
from agent.conversation import Conversation
from agent.logs import get_logger
from agent.turns import TurnEngine
from agent.voice import lines
from agent.voice.agent_turn import AgentTurn
from agent.voice.call_state import VoiceConfig, VoiceDeps
from agent.voice.turn_taking import SentenceSplitter
from policies import messages
from policies.redaction import redact
from prompts.loader import render
from tools.context import ToolContext

log = get_logger(__name__)

DOB_QUESTION = re.compile(r"date of birth|birth ?date|born", re.IGNORECASE)


class ReplyWriter:
    def __init__(
        self,
        deps: VoiceDeps,
        cfg: VoiceConfig,
        *,
        stats: dict[str, Any],
        on_tool: Callable[[ToolEvent], None],
        on_pay_handoff: Callable[[], None],
        on_dob_question: Callable[[], None],
        on_agent_line: Callable[[str], None],
        on_failure: Callable[[str], Awaitable[None]],
    ) -> None:
        self.deps = deps
        self.cfg = cfg
        self.stats = stats
        self._on_tool = on_tool
        self._on_pay_handoff = on_pay_handoff
        self._on_dob_question = on_dob_question
        self._on_agent_line = on_agent_line
        self._on_failure = on_failure
        self.dob_hint_given = False

    async def produce(self, turn: AgentTurn, conv: Conversation, ctx: ToolContext, text: str) -> None:
        """Run the turn through the brain (rules brain on failure); the turn gets the sentences."""
        engine = self.deps.turns
        try:
            for attempt in range(2):
                try:
                    async with asyncio.timeout(self.cfg.turn_timeout_s):
                        await self._stream(turn, engine, conv, ctx, text)
                    turn.reply_recorded = True
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("voice_brain_failed", call_sid=conv.state.call_sid, error=type(exc).__name__)
                    fallback = self.deps.fallback_turns
                    if attempt == 0 and fallback is not None and not turn.has_reply_text:
                        self.stats["fallbacks"].append("brain")
                        if conv.turns and conv.turns[-1].speaker == "patient":
                            conv.turns.pop()  # the re-run records the caller's turn again
                        engine = fallback
                        continue
                    turn.produced()
                    await self._on_failure("the brain failed")
                    return
            if turn.kind == "reply" and conv.turns and conv.turns[-1].speaker == "agent":
                self._on_agent_line(conv.turns[-1].text)
            await self.deps.records.save_conversation(conv)
        finally:
            turn.producer = None
            turn.produced()

    async def _stream(
        self, turn: AgentTurn, engine: TurnEngine, conv: Conversation, ctx: ToolContext, text: str
    ) -> None:
        splitter = SentenceSplitter()
        blocked = False
        async for event in engine.stream(conv, text, ctx):
            if isinstance(event, ToolEvent):
                turn.tools_run += 1
                self._on_tool(event)
            elif isinstance(event, BrainNotice) and event.kind == "fallback":
                self.stats["fallbacks"].append("llm")
            elif isinstance(event, TextChunk) and not blocked:
                for sentence in splitter.push(event.text):
                    blocked = self._emit(turn, conv, sentence)
                    if blocked:
                        break
        if not blocked:
            for sentence in splitter.flush():
                if self._emit(turn, conv, sentence):
                    blocked = True
                    break
        if blocked and conv.turns and conv.turns[-1].speaker == "agent":
            conv.turns[-1].text = redact(turn.reply_text())
        if conv.state.pending_handoff == "pay":
            self._on_pay_handoff()

    def _emit(self, turn: AgentTurn, conv: Conversation, sentence: str) -> bool:
        """Speak one sentence unless it says something about the debt to an unverified caller."""
        violations = messages.lint(
            sentence, verified=conv.state.verified, policy=self.deps.policy, channel="voice"
        )
        if any(v.rule == "debt_before_verification" for v in violations):
            log.error("voice_sentence_blocked_by_lint", conversation_id=conv.conversation_id)
            practice = self.deps.policy.practice.name
            turn.add(render("identity_request", channel="voice", lang=conv.state.language, practice=practice))
            return True
        turn.add(sentence)
        if not self.dob_hint_given and not conv.state.verified and DOB_QUESTION.search(sentence):
            self.dob_hint_given = True
            turn.add(lines.KEYPAD_DOB_HINT, filler=True)
            self._on_dob_question()
        return False

    async def fillers(self, turn: AgentTurn) -> None:
        """Never leave the caller in unexplained silence while the brain or a tool works: a filler
        after ``filler_after_ms`` without a sentence, then another every ``filler_again_after_ms``."""
        delay = self.cfg.filler_after_ms / 1000.0
        for line in (lines.FILLER, *lines.FILLERS_AGAIN):
            await asyncio.sleep(delay)
            if turn.cancelled or turn.has_reply_text or turn.producer is None:
                return
            turn.add(line, filler=True)
            self.stats["fillers"] += 1
            delay = self.cfg.filler_again_after_ms / 1000.0

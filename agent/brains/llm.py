"""`LlmBrain`: OpenAI chat completions (streamed, with tools) behind the Brain protocol.

Per turn: system prompt + a short account-context note + the redacted transcript + this turn's
text (card numbers and dates of birth masked) → `chat.completions.create(stream=True, tools=...)`.
Text deltas are released through `SpeechGuard` as they arrive; streamed tool-call deltas are
assembled by index, executed one at a time through `tools.call`, fed back as `tool` messages, and
the loop continues until the model answers in text.

The model never sees a date of birth: it passes the mask token to `verify_identity` and the brain
substitutes what the caller actually said (this turn, or held from an earlier turn until used).

Failure (no first token in time, turn deadline, API or connection error, malformed tool arguments
twice, too many tool rounds) yields `BrainNotice("fallback", ...)`; if nothing was said or done
yet the rules brain answers the turn, otherwise the turn ends politely. After repeated failures the
LLM is skipped for a few minutes (`conversation.memory["llm"]`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import openai

from agent.brains import messages as msgs
from agent.brains.base import Brain, BrainEvent, BrainNotice, TextChunk, ToolEvent, ToolInvoker
from agent.brains.guard import SpeechGuard
from agent.brains.phrases import Phrasebook, channel_of
from agent.conversation import Conversation
from policies.config import PracticePolicy
from tools.context import ToolResult

log = logging.getLogger(__name__)

FAILURES_TO_OPEN = 2  # consecutive failed turns before the LLM is skipped
REOPEN_AFTER_SECONDS = 300.0


class _Fallback(Exception):
    """Give up on the LLM for this turn."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LlmBrain:
    name = "llm"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        policy: PracticePolicy,
        fallback: Brain,
        *,
        first_token_timeout: float = 4.0,
        total_timeout: float = 20.0,
        max_tool_rounds: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.policy = policy
        self.fallback = fallback
        self.first_token_timeout = first_token_timeout
        self.total_timeout = total_timeout
        self.max_tool_rounds = max_tool_rounds
        self._clock = clock

    def now(self) -> datetime:
        tz = ZoneInfo(self.policy.practice.timezone)
        return (self._clock() if self._clock else datetime.now(tz)).astimezone(tz)

    async def respond(
        self, conversation: Conversation, user_turn: str, tools: ToolInvoker
    ) -> AsyncIterator[BrainEvent]:
        mem: dict[str, Any] = conversation.memory.setdefault("llm", {})
        if _circuit_open(mem):
            yield BrainNotice("fallback", {"reason": "circuit_open", "brain": self.fallback.name})
            async for event in self.fallback.respond(conversation, user_turn, tools):
                yield event
            return
        turn = _LlmTurn(self, conversation, user_turn, tools)
        async for event in turn.run():
            yield event


def _circuit_open(mem: dict[str, Any]) -> bool:
    if int(mem.get("failures", 0)) < FAILURES_TO_OPEN:
        return False
    if time.time() - float(mem.get("failed_at", 0.0)) > REOPEN_AFTER_SECONDS:
        mem["failures"] = FAILURES_TO_OPEN - 1  # half-open: one more failure re-opens it
        return False
    return True


class _LlmTurn:
    def __init__(self, brain: LlmBrain, conversation: Conversation, text: str, tools: ToolInvoker) -> None:
        self.brain = brain
        self.conv = conversation
        self.state = conversation.state
        self.text = text
        self.tools = tools
        self.mem: dict[str, Any] = conversation.memory.setdefault("llm", {})
        self.book = Phrasebook(brain.policy, channel_of(conversation), self.state.language)
        self.today = brain.now().date()
        self.guard = SpeechGuard(voice=self.book.voice, verified=self.state.verified)
        self.guard.allowed |= msgs.known_amounts(conversation, brain.policy, text)
        self.said = False  # any text released this turn
        self.acted = False  # any tool executed this turn
        self.last_result: ToolResult | None = None
        self.replaced = False
        self.deadline = 0.0

    async def run(self) -> AsyncIterator[BrainEvent]:
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + self.brain.total_timeout
        # once locked out, verify_identity is never called again: a date of birth must not be held
        # (it would stay in the stored conversation)
        done = self.state.verified or self.state.locked_out
        held_dob = msgs.hold_dob(self.mem, self.text, self.today, verified=done)
        messages = msgs.build(self.conv, self.brain.policy, self.text, self.today)
        bad_json = 0
        try:
            for _round in range(self.brain.max_tool_rounds + 1):
                self.guard.verified = self.state.verified
                messages[0] = msgs.system(self.conv, self.brain.policy, self.today)
                calls: list[dict[str, Any]] = []
                async for event in self._stream(messages, calls):
                    yield event
                if not calls:
                    for event in self._release(self.guard.flush()):
                        yield event
                    self.mem["failures"] = 0
                    if not self.said:
                        yield TextChunk(self.book.line("anything_else" if self.acted else "how_can_i_help"))
                    return
                messages.append(msgs.assistant_tool_calls(calls))
                parsed = [msgs.parse_arguments(c["arguments"]) for c in calls]
                if any(p is None for p in parsed):
                    bad_json += 1
                    if bad_json >= 2:
                        raise _Fallback("malformed_tool_arguments")
                for call, args in zip(calls, parsed, strict=True):
                    if args is None:
                        messages.append(msgs.tool_error(call["id"], "arguments were not a valid JSON object"))
                        continue
                    event = await self._execute(call["name"], args, held_dob)
                    yield event
                    messages.append(msgs.tool_message(call["id"], event.result))
            raise _Fallback("max_tool_rounds")
        except _Fallback as exc:
            async for event in self._fall_back(exc.reason):
                yield event
        except (TimeoutError, openai.APIError) as exc:
            async for event in self._fall_back(type(exc).__name__):
                yield event

    async def _stream(
        self, messages: list[dict[str, Any]], calls: list[dict[str, Any]]
    ) -> AsyncIterator[BrainEvent]:
        """One model round: release text as it arrives; collect tool calls into `calls`."""
        loop = asyncio.get_running_loop()
        first_deadline = min(self.deadline, loop.time() + self.brain.first_token_timeout)
        stream = await _within(
            self.brain.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.brain.model,
                messages=messages,
                tools=self.tools.schemas(),
                tool_choice="auto",
                parallel_tool_calls=False,
                stream=True,
            ),
            first_deadline,
        )
        assembler = msgs.ToolCallAssembler()
        got_token = False
        iterator = stream.__aiter__()
        try:
            while True:
                try:
                    limit = self.deadline if got_token else first_deadline
                    chunk = await _within(iterator.__anext__(), limit)
                except StopAsyncIteration:
                    break
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    if delta.tool_calls:
                        got_token = True
                        assembler.add(delta.tool_calls)
                    if delta.content:
                        got_token = True
                        for event in self._release(self.guard.feed(delta.content)):
                            yield event
        finally:
            await stream.close()
        calls.extend(assembler.calls())

    def _release(self, segments: list[str]) -> list[BrainEvent]:
        out: list[BrainEvent] = []
        for segment in segments:
            if segment:
                self.said = True
                out.append(TextChunk(segment))
            elif not self.replaced:
                self.replaced = True
                why = self.guard.blocked[-1] if self.guard.blocked else "amount"
                key = "identity_request" if why == "unverified" else "amount_withheld"
                out.append(BrainNotice("reply_guarded", {"reason": why}))
                out.append(TextChunk(self.book.line(key) + " "))
                self.said = True
        return out

    async def _execute(self, name: str, args: dict[str, Any], held_dob: str | None) -> ToolEvent:
        shown = dict(args)
        if name == "verify_identity":
            args = msgs.with_dob(args, self.mem, held_dob)
            shown = {**args, "date_of_birth": msgs.DOB_MASK} if "date_of_birth" in args else shown
        result = await self.tools.call(name, args)
        self.acted = True
        self.last_result = result
        self.guard.allow(result.data)
        self.guard.allow(result.message)
        return ToolEvent(name=name, arguments=shown, result=result)

    async def _fall_back(self, reason: str) -> AsyncIterator[BrainEvent]:
        self.guard.discard()
        self.mem["failures"] = int(self.mem.get("failures", 0)) + 1
        self.mem["failed_at"] = time.time()
        log.warning("llm brain falling back: %s", reason)
        yield BrainNotice(
            "fallback",
            {"reason": reason, "brain": self.brain.fallback.name, "said": self.said, "acted": self.acted},
        )
        if not self.said and not self.acted:
            async for event in self.brain.fallback.respond(self.conv, self.text, self.tools):
                yield event
            return
        parts = []
        if not self.said and self.last_result is not None:
            parts.append(self.book.speakable(self.last_result.message))
        else:
            parts.append(self.book.line("llm_fallback"))
        parts.append(self.book.line("anything_else"))
        yield TextChunk((" " if self.said else "") + " ".join(parts))


async def _within(awaitable: Any, deadline: float) -> Any:
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise TimeoutError
    return await asyncio.wait_for(awaitable, timeout=remaining)


def make_llm_brain(
    api_key: str,
    base_url: str | None,
    model: str,
    policy: PracticePolicy,
    fallback: Brain,
    **options: Any,
) -> LlmBrain:
    """An `LlmBrain` on the OpenAI SDK (any OpenAI-compatible `base_url`; SDK retries off: we fall back)."""
    total = float(options.get("total_timeout", 20.0))
    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url or None, timeout=total, max_retries=0)
    return LlmBrain(client, model, policy, fallback, **options)

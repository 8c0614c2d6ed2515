"""The Brain protocol: `respond(conversation, user_turn, tools)` streams text and tool events.

A brain never executes side effects itself: it asks `tools.call(name, arguments)`, which validates
arguments, applies the guards (verification, ledger amounts, policy) and audits. The brain only
decides what to say and which tool to ask for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.conversation import Conversation
from tools.context import ToolResult


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class ToolEvent:
    name: str
    arguments: dict[str, Any]
    result: ToolResult


@dataclass(frozen=True)
class BrainNotice:
    """Operational notes (e.g. "fell back to rules brain"); never spoken."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


BrainEvent = TextChunk | ToolEvent | BrainNotice


class ToolInvoker(Protocol):
    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI chat-completions `tools` entries for the tools available right now."""
        ...

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult: ...


class Brain(Protocol):
    name: str

    def respond(
        self, conversation: Conversation, user_turn: str, tools: ToolInvoker
    ) -> AsyncIterator[BrainEvent]: ...

"""Shared helpers for brain tests: a practice policy, conversations, and a turn runner."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent.brains.base import Brain, BrainEvent, BrainNotice, TextChunk, ToolEvent
from agent.brains.rules import RulesBrain
from agent.conversation import Conversation
from policies.config import PracticeIdentity, PracticePolicy
from tests.brains.scripted_tools import Account, ScriptedTools
from tools.context import CallerState

TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)  # a Monday
POLICY = PracticePolicy(
    practice=PracticeIdentity(
        practice_id="bright-smile",
        name="Bright Smile Dental",
        callback_number="+15125550100",
        staff_contact_name="Maria",
        timezone="America/Chicago",
    )
)


def make_conversation(channel: str = "sms", direction: str = "inbound") -> Conversation:
    state = CallerState(conversation_id="c1", channel=channel, contact="+15125550199")  # type: ignore[arg-type]
    return Conversation(state=state, direction=direction, started_at=NOW)  # type: ignore[arg-type]


class Chat:
    """Runs turns through a brain the way the turn engine does (patient turn added first)."""

    def __init__(
        self, brain: Brain, channel: str = "sms", direction: str = "inbound", account: Account | None = None
    ) -> None:
        self.brain = brain
        self.conv = make_conversation(channel, direction)
        self.tools = ScriptedTools(self.conv.state, account or Account(), now=NOW)
        self.events: list[BrainEvent] = []

    async def say(self, text: str) -> str:
        self.conv.add_turn("patient", text, NOW)
        start = len(self.events)
        async for event in self.brain.respond(self.conv, text, self.tools):
            self.events.append(event)
        reply = "".join(e.text for e in self.events[start:] if isinstance(e, TextChunk)).strip()
        self.conv.add_turn("agent", reply, NOW)
        return reply

    def tool_events(self) -> list[ToolEvent]:
        return [e for e in self.events if isinstance(e, ToolEvent)]

    def notices(self) -> list[BrainNotice]:
        return [e for e in self.events if isinstance(e, BrainNotice)]


@pytest.fixture
def rules() -> RulesBrain:
    return RulesBrain(POLICY, clock=lambda: NOW)

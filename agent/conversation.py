"""A conversation: channel-agnostic state of one exchange with one person.

It survives across turns and, for SMS, across days (persisted as JSON in the record store).
Transcripts are stored redacted; `CallerState` (from `tools`) carries verification and outcome.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from tools.context import CallerState

Speaker = Literal["patient", "agent"]


@dataclass
class Turn:
    speaker: Speaker
    text: str  # already redacted
    at: datetime


@dataclass
class ToolCallRecord:
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]
    at: datetime


@dataclass
class Conversation:
    state: CallerState
    direction: Literal["inbound", "outbound"] = "inbound"
    started_at: datetime | None = None
    turns: list[Turn] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    summary: str | None = None
    # brain-private scratch space (e.g. the rules brain's pending question); JSON-able only
    memory: dict[str, Any] = field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        return self.state.conversation_id

    @property
    def channel(self) -> str:
        return self.state.channel

    def add_turn(self, speaker: Speaker, text: str, at: datetime) -> Turn:
        turn = Turn(speaker=speaker, text=text, at=at)
        self.turns.append(turn)
        return turn

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return _jsonable(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        st = dict(data["state"])
        if st.get("disclosed_balance") is not None:
            from decimal import Decimal

            st["disclosed_balance"] = Decimal(st["disclosed_balance"])
        state = CallerState(**st)
        return cls(
            state=state,
            direction=data.get("direction", "inbound"),
            started_at=_dt(data.get("started_at")),
            turns=[Turn(t["speaker"], t["text"], _dt_req(t["at"])) for t in data.get("turns", [])],
            tool_calls=[
                ToolCallRecord(c["name"], c["arguments"], c["result"], _dt_req(c["at"]))
                for c in data.get("tool_calls", [])
            ],
            summary=data.get("summary"),
            memory=dict(data.get("memory", {})),
        )


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def _dt_req(v: str) -> datetime:
    return datetime.fromisoformat(v)


def _jsonable(v: Any) -> Any:
    from datetime import date
    from decimal import Decimal

    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v

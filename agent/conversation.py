"""A conversation: channel-agnostic state of one exchange with one person.

It survives across turns and, for SMS, across days (persisted as JSON in the record store).
Transcripts are stored redacted; `CallerState` (from `tools`) carries verification and outcome.
Brain memory listed in `TRANSIENT_MEMORY` is never stored (see `held_memory`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from tools.context import CallerState

Speaker = Literal["patient", "agent"]

# Brain memory that must not reach the record store: a date of birth typed before the name waits
# for it there (RulesBrain: memory["rules"]["id"]["dob"]; LlmBrain: memory["llm"]["dob"]). `to_json`
# leaves these out and lists in `held_elsewhere` which ones were set, so a channel that resumes a
# conversation later (SMS) can keep the values in shared state with a short TTL and put them back.
TRANSIENT_MEMORY: tuple[tuple[str, ...], ...] = (("rules", "id", "dob"), ("llm", "dob"))


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
    # transient memory paths ("rules.id.dob") that were set when the conversation was last stored
    held_elsewhere: list[str] = field(default_factory=list)

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

    def held_memory(self) -> dict[str, Any]:
        """The transient memory values set now, by dotted path (JSON-able)."""
        out: dict[str, Any] = {}
        for path in TRANSIENT_MEMORY:
            node: Any = self.memory
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and node.get(path[-1]) is not None:
                out[".".join(path)] = _jsonable(node[path[-1]])
        return out

    def restore_memory(self, held: dict[str, Any]) -> None:
        """Put transient values (from `held_memory`) back into memory."""
        known = {".".join(p): p for p in TRANSIENT_MEMORY}
        for dotted, value in held.items():
            path = known.get(dotted)
            if path is None:
                continue
            node = self.memory
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value

    def to_json(self) -> dict[str, Any]:
        """Everything but the transient memory (`held_elsewhere` lists what was left out)."""
        data: dict[str, Any] = {
            "state": {f.name: _jsonable(getattr(self.state, f.name)) for f in fields(self.state)},
            "direction": self.direction,
            "started_at": _jsonable(self.started_at),
            "turns": [{"speaker": t.speaker, "text": t.text, "at": t.at.isoformat()} for t in self.turns],
            "tool_calls": [
                {
                    "name": c.name,
                    "arguments": _jsonable(c.arguments),
                    "result": _jsonable(c.result),
                    "at": c.at.isoformat(),
                }
                for c in self.tool_calls
            ],
            "summary": self.summary,
            "memory": _jsonable(self.memory),  # a copy: transient entries are removed below
        }
        held = self.held_memory()
        for dotted in held:
            *parents, leaf = dotted.split(".")
            node = data["memory"]
            for key in parents:
                node = node[key]
            del node[leaf]
        data["held_elsewhere"] = sorted(held)
        return data

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
            held_elsewhere=list(data.get("held_elsewhere", [])),
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

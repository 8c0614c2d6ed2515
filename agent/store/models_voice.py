"""Voice calls: one row per Twilio call leg that reached the media websocket (or was answered).

The row is the durable seam between the media websocket and the webhooks that follow it on any
replica: the session writes the pending hand-off (`handoff`: a warm transfer or a `<Pay>`) before it
closes the stream, and `/twilio/voice/after-stream` reads it by CallSid. Nothing here is PHI: ids,
timings, counters and the structured outcome; the redacted transcript lives on the conversation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base
from pms.local.models import UtcDateTime

_ID = 64


class VoiceCallRow(Base):
    __tablename__ = "voice_calls"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(_ID), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="ringing")  # ringing|live|ended
    stream_sid: Mapped[str | None] = mapped_column(String(64))
    # pending hand-off for after-stream: {"kind": "transfer", "transfer_id": ...} or {"kind": "pay", ...}
    handoff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(32))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # turns, barge-ins, fallbacks, latencies
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

"""Outbound dial state and outreach e-mails (one row per outreach attempt on each channel).

- `outbound_calls`: one row per attempt the voice channel dials, claimed *before* the REST request
  (unique `attempt_id`, so a retried job never dials twice) and keyed by `call_sid` afterwards. Status
  callbacks apply only with a higher `SequenceNumber` than `last_sequence`; the first terminal status
  sets `final_status` once. The AMD verdict (`answered_by`), the voicemail and the follow-up text are
  each claimed by a conditional update, so a replayed or concurrent callback acts at most once.
- `outbound_emails`: one row per e-mail attempt (unique `attempt_id`), holding the SHA-256 of the
  random unsubscribe token that the e-mail's link and `List-Unsubscribe` header carry.
Nothing here is PHI beyond the contact value the attempt went to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base
from pms.local.models import UtcDateTime

_ID = 64


class OutboundCallRow(Base):
    __tablename__ = "outbound_calls"

    attempt_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[str] = mapped_column(String(_ID), index=True)
    guarantor_id: Mapped[str | None] = mapped_column(String(_ID))
    to: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(40))
    # dialing (claimed) | placed | failed | unknown (timeout: Twilio may have placed it)
    dial_state: Mapped[str] = mapped_column(String(16))
    dial_error: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str | None] = mapped_column(String(16))  # last applied CallStatus
    last_sequence: Mapped[int | None] = mapped_column(Integer)
    final_status: Mapped[str | None] = mapped_column(String(16))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    answered_by: Mapped[str | None] = mapped_column(String(24))
    # machine/fax answer: None | pending | left (voicemail spoken) | failed | hung_up
    voicemail: Mapped[str | None] = mapped_column(String(16))
    # None | pending | sent | skipped:<reason> | blocked:<reason>
    followup_sms: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutboundEmailRow(Base):
    __tablename__ = "outbound_emails"

    attempt_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(_ID), index=True)
    guarantor_id: Mapped[str | None] = mapped_column(String(_ID))
    to: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(40))
    template: Mapped[str] = mapped_column(String(40))  # which content variant went out
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    unsubscribe_token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # sending | sent | failed
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

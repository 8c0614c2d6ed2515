"""Outreach e-mails in the store (see `models_calls.OutboundEmailRow`): one row per attempt, claimed
before the SMTP session so a retried job never sends the same attempt twice, and the unsubscribe
token (stored only as its SHA-256) that lets a patient opt out without logging in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from agent.store.base import StoreBase
from agent.store.calls import claim_row
from agent.store.models_calls import OutboundEmailRow


@dataclass(frozen=True)
class OutboundEmail:
    attempt_id: str
    patient_id: str
    guarantor_id: str | None
    to: str
    template: str
    message_id: str
    state: str
    unsubscribed_at: datetime | None


def _email(row: OutboundEmailRow) -> OutboundEmail:
    return OutboundEmail(
        attempt_id=row.attempt_id,
        patient_id=row.patient_id,
        guarantor_id=row.guarantor_id,
        to=row.to,
        template=row.template,
        message_id=row.message_id,
        state=row.state,
        unsubscribed_at=row.unsubscribed_at,
    )


class OutboundEmailStore(StoreBase):
    async def claim_email(
        self,
        *,
        attempt_id: str,
        patient_id: str,
        guarantor_id: str | None,
        to: str,
        purpose: str,
        template: str,
        message_id: str,
        token_sha256: str,
    ) -> OutboundEmail | None:
        """Claim the send for this attempt. None = claimed now; else the existing row."""
        values = {
            "attempt_id": attempt_id,
            "patient_id": patient_id,
            "guarantor_id": guarantor_id,
            "to": to,
            "purpose": purpose,
            "template": template,
            "message_id": message_id,
            "unsubscribe_token_sha256": token_sha256,
            "state": "sending",
            "created_at": self._now(),
        }
        async with self._tx() as s:
            row = await claim_row(s, OutboundEmailRow, values)
            return None if row is None else _email(row)

    async def release_email(self, attempt_id: str) -> None:
        """Undo a claim after a transient failure (nothing was accepted), so a retry may send."""
        async with self._tx() as s:
            await s.execute(
                delete(OutboundEmailRow).where(
                    OutboundEmailRow.attempt_id == attempt_id, OutboundEmailRow.state == "sending"
                )
            )

    async def finish_email(self, attempt_id: str, *, sent: bool, smtp_code: int | None) -> None:
        now = self._now()
        async with self._tx() as s:
            row = await s.get(OutboundEmailRow, attempt_id)
            if row is None:
                return
            row.state = "sent" if sent else "failed"
            row.smtp_code = smtp_code
            row.sent_at = now if sent else None
            s.add(
                self._audit_row(
                    "email.sent" if sent else "email.failed",
                    patient_id=row.patient_id,
                    conversation_id=None,
                    detail={
                        "attempt_id": attempt_id,
                        "template": row.template,
                        "smtp_code": smtp_code,
                    },
                    at=now,
                )
            )

    async def email_for_token(self, token_sha256: str) -> OutboundEmail | None:
        async with self._tx() as s:
            row = await s.scalar(
                select(OutboundEmailRow).where(OutboundEmailRow.unsubscribe_token_sha256 == token_sha256)
            )
            return None if row is None else _email(row)

    async def claim_unsubscribe(self, attempt_id: str) -> bool:
        """True for exactly one click of this e-mail's link (later clicks change nothing)."""
        async with self._tx() as s:
            result: Any = await s.execute(
                update(OutboundEmailRow)
                .where(OutboundEmailRow.attempt_id == attempt_id, OutboundEmailRow.unsubscribed_at.is_(None))
                .values(unsubscribed_at=self._now())
            )
            return bool(result.rowcount == 1)

    async def release_unsubscribe(self, attempt_id: str) -> None:
        """Undo a claim whose suppression write failed, so the patient's retry records it."""
        async with self._tx() as s:
            await s.execute(
                update(OutboundEmailRow)
                .where(OutboundEmailRow.attempt_id == attempt_id)
                .values(unsubscribed_at=None)
            )

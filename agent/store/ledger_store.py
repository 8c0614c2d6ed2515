"""The consent/suppression ledger and account flags, as the SMS, voice and e-mail channels write them.

The ledger is append-only; `agent.store.consent` reads it (opt-out, START-restores-SMS-only, …).
Every write also writes an audit event (with only the last 4 digits of the contact value).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import or_, select

from agent.store import consent as ledger
from agent.store.base import StoreBase, upsert
from agent.store.models import AccountFlagRow, ConsentEntryRow
from agent.store.writes import WriteBatch, write_batch
from policies.types import SuppressionScope


class LedgerStore(StoreBase):
    async def add_suppression(
        self,
        *,
        patient_id: str | None,
        value: str | None,
        scope: SuppressionScope | str,
        reason: str,
        source: str,
    ) -> None:
        await self._ledger(
            patient_id=patient_id,
            value=value,
            scope=str(SuppressionScope(scope).value),
            action="opt_out",
            basis=None,
            reason=reason,
            source=source,
        )

    async def add_consent(
        self,
        *,
        patient_id: str | None,
        value: str | None,
        channel: str,
        source: str,
        action: Literal["opt_in", "consent"] = "opt_in",
        basis: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record an opt-in (lifts an opt-out of `channel` only; START → "sms") or a consent basis
        (never lifts an opt-out). `channel` is voice, sms, email or all."""
        await self._ledger(
            patient_id=patient_id,
            value=value,
            scope=str(SuppressionScope(channel).value),
            action=action,
            basis=basis,
            reason=reason,
            source=source,
        )

    async def _ledger(
        self,
        *,
        patient_id: str | None,
        value: str | None,
        scope: str,
        action: str,
        basis: str | None,
        reason: str | None,
        source: str,
    ) -> None:
        batch = WriteBatch(at=self._now(), actor=self._actor)
        batch.ledger_entry(
            patient_id=patient_id,
            value=value,
            scope=scope,
            action=action,
            basis=basis,
            reason=reason,
            source=source,
        )
        async with self._core() as c:
            await write_batch(c, batch)

    async def _entries(
        self, s: Any, *, patient_ids: Sequence[str], values: Sequence[str]
    ) -> list[ledger.Entry]:
        """Every entry for these people or values, plus the full history of any value an entry for
        these people names (a START from that number may not know whose number it is)."""
        norm = sorted({v for v in (ledger.normalise_value(x) for x in values) if v})
        conds = []
        if patient_ids:
            theirs = ConsentEntryRow.patient_id.in_(list(patient_ids))
            conds.append(theirs)
            their_values = select(ConsentEntryRow.value).where(theirs, ConsentEntryRow.value.is_not(None))
            conds.append(ConsentEntryRow.value.in_(their_values.scalar_subquery()))
        if norm:
            conds.append(ConsentEntryRow.value.in_(norm))
        if not conds:
            return []
        t = ConsentEntryRow.__table__.c
        q = select(t.id, t.patient_id, t.value, t.scope, t.action, t.basis, t.reason, t.at).where(or_(*conds))
        return [ledger.Entry(*row) for row in (await s.execute(q)).all()]

    async def consent_state(
        self, patient_id: str | None, values: Sequence[str]
    ) -> dict[str, ledger.ConsentState]:
        """{"sms"|"voice"|"email": "opted_in"|"opted_out"|"unknown"} from BalanceLine's ledger only
        (callers merge the PMS's own consent fields)."""
        pids = [patient_id] if patient_id else []
        async with self._tx() as s:
            entries = await self._entries(s, patient_ids=pids, values=values)
        return ledger.channel_state(entries, patient_ids=pids, values=values)

    async def is_suppressed(self, value: str, channel: str, *, patient_id: str | None = None) -> bool:
        """True if `value` (or, when given, the person) has a live opt-out covering `channel`."""
        async with self._core() as c:
            return await self._suppressed(c, value, channel, patient_id=patient_id)

    async def _suppressed(self, s: Any, value: str, channel: str, *, patient_id: str | None = None) -> bool:
        """`is_suppressed` inside the caller's transaction (`s`: a session or a connection)."""
        pids = [patient_id] if patient_id else []
        entries = await self._entries(s, patient_ids=pids, values=[value])
        return ledger.suppressed(entries, channel, patient_ids=pids, values=[value])

    # ---- account flags -------------------------------------------------------------------------

    async def set_account_flag(self, *, guarantor_id: str, flag: str, on: bool, reason: str) -> None:
        now = self._now()
        async with self._tx() as s:
            stmt = upsert(s, AccountFlagRow).values(
                guarantor_id=guarantor_id, flag=flag, on=on, reason=reason, set_at=now
            )
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["guarantor_id", "flag"], set_={"on": on, "reason": reason, "set_at": now}
                )
            )
            s.add(
                self._audit_row(
                    "flag.set" if on else "flag.cleared",
                    patient_id=guarantor_id,
                    conversation_id=None,
                    detail={"flag": flag, "reason": reason},
                    at=now,
                )
            )

    async def account_flags(self, guarantor_id: str) -> set[str]:
        q = select(AccountFlagRow.flag).where(AccountFlagRow.guarantor_id == guarantor_id, AccountFlagRow.on)
        async with self._tx() as s:
            return set((await s.scalars(q)).all())

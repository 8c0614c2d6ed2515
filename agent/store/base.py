"""Plumbing shared by the record-store classes: sessions, the clock, audit rows, portable upserts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from agent.store.db import make_session_factory
from agent.store.models import AuditEventRow, Base, new_id


def utc_now() -> datetime:
    return datetime.now(UTC)


def jsonable(value: Any) -> Any:
    """Decimal → str, date/datetime → ISO 8601, enums → value, tuples/sets → lists (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class StoreBase:
    """Holds the session factory and clock; every public method runs in one short transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
        clock: Callable[[], datetime] = utc_now,
        *,
        actor: str = "agent",
    ) -> None:
        self._sessions = make_session_factory(sessions) if isinstance(sessions, AsyncEngine) else sessions
        self._engine: AsyncEngine = self._sessions.kw["bind"]
        self._clock = clock
        self._actor = actor

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the record store's clock must return timezone-aware datetimes")
        return now

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _core(self) -> AsyncIterator[AsyncConnection]:
        """One transaction on a bare connection, for Core statements (no ORM session to set up)."""
        async with self._engine.begin() as conn:
            yield conn

    def _audit_row(
        self,
        kind: str,
        *,
        patient_id: str | None,
        conversation_id: str | None,
        detail: dict[str, Any],
        actor: str | None = None,
        at: datetime | None = None,
    ) -> AuditEventRow:
        return audit_row(
            kind,
            at=at or self._now(),
            actor=actor or self._actor,
            patient_id=patient_id,
            conversation_id=conversation_id,
            detail=detail,
        )


def audit_row(
    kind: str,
    *,
    at: datetime,
    actor: str,
    patient_id: str | None,
    conversation_id: str | None,
    detail: dict[str, Any],
) -> AuditEventRow:
    """An audit event to add to the caller's session (so it commits with the effect it records)."""
    return AuditEventRow(
        id=new_id("ae_"),
        at=at,
        kind=kind,
        actor=actor,
        patient_id=patient_id,
        conversation_id=conversation_id,
        detail=jsonable(detail),
    )


def upsert(session: AsyncSession, model: type[Base]) -> Any:
    """The dialect's INSERT (with `on_conflict_do_nothing` / `on_conflict_do_update`) for `model`."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect {name!r}")

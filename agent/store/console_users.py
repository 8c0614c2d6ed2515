"""`ConsoleStore`: staff users and their server-side sessions (see agent/console/auth.py).

Passwords arrive here already hashed; session ids arrive already digested. Every change to a user
writes an audit event with the username and role only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from agent.store.base import StoreBase
from agent.store.models import new_id
from agent.store.models_console import ConsoleSessionRow, ConsoleUserRow

ROLES = ("admin", "billing_manager", "collector")


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class ConsoleUser:
    user_id: str
    username: str
    role: str
    disabled: bool
    password_hash: str


@dataclass(frozen=True)
class ConsoleSession:
    session_id: str
    user: ConsoleUser
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def _user(row: ConsoleUserRow) -> ConsoleUser:
    return ConsoleUser(row.id, row.username, row.role, row.disabled, row.password_hash)


class ConsoleStore(StoreBase):
    async def add_user(self, username: str, password_hash: str, role: str, *, actor: str) -> ConsoleUser:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        now = self._now()
        async with self._tx() as s:
            if await s.scalar(select(ConsoleUserRow.id).where(ConsoleUserRow.username == username)):
                raise UserError(f"user {username!r} already exists")
            row = ConsoleUserRow(
                id=new_id("usr_"),
                username=username,
                password_hash=password_hash,
                role=role,
                disabled=False,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.add(
                self._audit_row(
                    "console.user_added",
                    patient_id=None,
                    conversation_id=None,
                    detail={"username": username, "role": role},
                    actor=actor,
                )
            )
        return _user(row)

    async def set_disabled(self, username: str, disabled: bool, *, actor: str) -> None:
        """Disable (revoking every session at once) or re-enable a user."""
        async with self._tx() as s:
            row = await s.scalar(select(ConsoleUserRow).where(ConsoleUserRow.username == username))
            if row is None:
                raise UserError(f"no user {username!r}")
            row.disabled = disabled
            row.updated_at = self._now()
            if disabled:
                await s.execute(
                    update(ConsoleSessionRow).where(ConsoleSessionRow.user_id == row.id).values(revoked=True)
                )
            s.add(
                self._audit_row(
                    "console.user_disabled" if disabled else "console.user_enabled",
                    patient_id=None,
                    conversation_id=None,
                    detail={"username": username},
                    actor=actor,
                )
            )

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(ConsoleUserRow)
                .where(ConsoleUserRow.id == user_id)
                .values(password_hash=password_hash, updated_at=self._now())
            )

    async def get_user(self, username: str) -> ConsoleUser | None:
        async with self._tx() as s:
            row = await s.scalar(select(ConsoleUserRow).where(ConsoleUserRow.username == username))
        return _user(row) if row else None

    async def list_users(self) -> list[ConsoleUser]:
        async with self._tx() as s:
            rows = (await s.scalars(select(ConsoleUserRow).order_by(ConsoleUserRow.username))).all()
        return [_user(r) for r in rows]

    async def count_users(self) -> int:
        return len(await self.list_users())

    async def create_session(
        self, user: ConsoleUser, session_id: str, csrf_token: str, *, absolute: timedelta
    ) -> None:
        now = self._now()
        async with self._tx() as s:
            s.add(
                ConsoleSessionRow(
                    id=session_id,
                    user_id=user.user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + absolute,
                    revoked=False,
                )
            )
            await s.execute(
                update(ConsoleUserRow).where(ConsoleUserRow.id == user.user_id).values(last_login_at=now)
            )
            s.add(
                self._audit_row(
                    "console.login",
                    patient_id=None,
                    conversation_id=None,
                    detail={"username": user.username, "role": user.role},
                    actor=user.username,
                )
            )

    async def load_session(
        self, session_id: str, *, idle: timedelta, touch_after: timedelta, touch: bool = True
    ) -> ConsoleSession | None:
        """The live session (not revoked, not idle for longer than `idle`, before its absolute
        expiry, user enabled), its last-seen time refreshed at most every `touch_after` (never when
        `touch` is false: a background check such as an open event stream is not activity)."""
        now = self._now()
        async with self._tx() as s:
            found = (
                await s.execute(
                    select(ConsoleSessionRow, ConsoleUserRow)
                    .join(ConsoleUserRow, ConsoleUserRow.id == ConsoleSessionRow.user_id)
                    .where(ConsoleSessionRow.id == session_id)
                )
            ).first()
            if found is None:
                return None
            sess, user = found
            if sess.revoked or user.disabled or now >= sess.expires_at or now - sess.last_seen_at > idle:
                return None
            if touch and now - sess.last_seen_at >= touch_after:
                sess.last_seen_at = now
        return ConsoleSession(
            sess.id, _user(user), sess.csrf_token, sess.created_at, sess.last_seen_at, sess.expires_at
        )

    async def revoke_session(self, session_id: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(ConsoleSessionRow).where(ConsoleSessionRow.id == session_id).values(revoked=True)
            )

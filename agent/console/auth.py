"""Console authentication: argon2id password hashes, server-side sessions, CSRF, role checks.

- Passwords: argon2id (argon2-cffi) with OWASP's recommended parameters (19 MiB, 2 passes, 1
  lane: ~50 ms here, cheap for a login, ruinous for a GPU farm), rehashed on login when the
  parameters change. A login for an unknown user still spends one hash so timing
  does not reveal which usernames exist.
- Sessions: a random 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure when
  PUBLIC_BASE_URL is https); the database holds only its SHA-256. Idle expiry 30 min, absolute 12 h.
- CSRF: a per-session synchronizer token, sent back as the `csrf_token` form field or the
  `X-CSRF-Token` header on every state-changing request. The login form uses a double-submit
  cookie (there is no session yet).
- Roles: `agent.console.access` decides from the matched route's path template.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request, Response, WebSocket

from agent.console import access
from agent.runtime import Runtime
from agent.store.console_users import ConsoleSession, ConsoleStore, ConsoleUser

SESSION_COOKIE = "bl_session"
LOGIN_CSRF_COOKIE = "bl_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOUCH_AFTER = timedelta(seconds=60)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a console password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(user: ConsoleUser | None, password: str) -> bool:
    """Constant-work verification (a missing user costs the same hash as a wrong password)."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(user: ConsoleUser) -> bool:
    return _hasher.check_needs_rehash(user.password_hash)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_of(rt: Runtime) -> ConsoleStore:
    return ConsoleStore(rt.sessions, rt.clock)


def cookie_secure(rt: Runtime) -> bool:
    return rt.settings.public_base_url.startswith("https://")


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of this request."""

    user: ConsoleUser
    session: ConsoleSession

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    def may(self, path: str, method: str = "GET") -> bool:
        return access.allowed(self.role, path, method)


async def start_session(rt: Runtime, response: Response, user: ConsoleUser) -> None:
    token = secrets.token_urlsafe(32)
    await store_of(rt).create_session(
        user, digest(token), secrets.token_urlsafe(32), absolute=ABSOLUTE_TIMEOUT
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(rt),
        path="/",
    )


async def end_session(rt: Runtime, request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await store_of(rt).revoke_session(digest(token))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(rt))


async def session_of(rt: Runtime, cookies: dict[str, str], *, touch: bool = True) -> Staff | None:
    token = cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    sess = await store_of(rt).load_session(
        digest(token), idle=IDLE_TIMEOUT, touch_after=TOUCH_AFTER, touch=touch
    )
    return Staff(sess.user, sess) if sess else None


def _route_path(request: Request | WebSocket) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path))


async def csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return bool(sent) and hmac.compare_digest(str(sent), expected)


async def authorize(request: Request, staff: Staff | None) -> Staff:
    """Role and CSRF checks for one request of a signed-in user (raises 401/403)."""
    if staff is None:
        raise HTTPException(status_code=401, detail="sign in at /console/login")
    if not staff.may(_route_path(request), request.method):
        if _wants_page(request):  # a person in a browser: a page that says so, still a 403
            raise HTTPException(status_code=303, headers={"Location": "/console/forbidden"})
        raise HTTPException(status_code=403, detail=f"the {staff.role} role may not use this")
    if access.access_of(request.method) == "write" and not await csrf_ok(request, staff.csrf):
        raise HTTPException(status_code=403, detail="missing or invalid CSRF token; reload the page")
    return staff


async def require_staff(request: Request) -> Staff:
    """Console dependency: the signed-in, authorised staff member, or a redirect to the login page
    (for a page) / 401 (for anything else)."""
    rt: Runtime = request.app.state.runtime
    staff = await session_of(rt, request.cookies)
    if staff is None and _wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(status_code=303, headers={"Location": f"/console/login?next={_quote(target)}"})
    return await authorize(request, staff)


async def websocket_staff(ws: WebSocket) -> Staff | None:
    """The authorised staff member of a console websocket (same-origin only), or None."""
    rt: Runtime = ws.app.state.runtime
    origin = ws.headers.get("origin")
    host = ws.headers.get("host")
    if origin is not None and host is not None and origin.split("://", 1)[-1] != host:
        return None
    staff = await session_of(rt, ws.cookies)
    if staff is None or not staff.may(_route_path(ws), "GET"):
        return None
    return staff


def _wants_page(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/?=&")


def safe_next(value: str | None) -> str:
    """Only same-site console paths are valid login targets (no open redirect)."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/worklist"

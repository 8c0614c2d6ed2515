"""The staff console under /console: sign-in, worklist, account pages with staff actions, audit.

Every route except the login page, static assets and the bare `/console/` redirect sits behind
`require_staff` (session + role from `agent.console.access` + CSRF on writes); the softphone
websocket checks the same session itself. Live pages, the dashboard, approvals and the try-it
pages live in `agent.console.*`; `routers` lists them all for the app.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from agent.accounts import account_detail
from agent.api_models import AccountDetail
from agent.console import actions, approvals, dashboard, live, softphone, try_it, worklist
from agent.console.auth import (
    LOGIN_CSRF_COOKIE,
    Staff,
    check_password,
    cookie_secure,
    end_session,
    hash_password,
    needs_rehash,
    require_staff,
    safe_next,
    session_of,
    start_session,
    store_of,
)
from agent.console.templating import HERE, render
from agent.console.views import account_view
from agent.logs import get_logger
from agent.routes.deps import get_runtime

log = get_logger(__name__)

public = APIRouter(prefix="/console", include_in_schema=False)
router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(require_staff)])
StaffDep = Annotated[Staff, Depends(require_staff)]

STATIC_FILES = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "live.js": "text/javascript",
    "sms.js": "text/javascript",
    "softphone.js": "text/javascript",
    "mic-worklet.js": "text/javascript",
}
LOGIN_LIMIT = 10  # failed sign-ins per username (x3 per client address) per LOGIN_WINDOW_S
LOGIN_WINDOW_S = 300


# ---- public: login, static, redirect ----------------------------------------------------------


@public.get("/")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/worklist", status_code=303)


@public.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404)
    return FileResponse(
        HERE / "static" / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"}
    )


def _login_page(
    request: Request, *, error: str | None = None, next_: str = "", no_users: bool = False, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(
        request,
        "login.html",
        None,
        status_code=status,
        error=error,
        next=safe_next(next_),
        login_csrf=token,
        no_users=no_users,
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(get_runtime(request)),
        path="/console/login",
    )
    return resp


@public.get("/forbidden")
async def forbidden(request: Request) -> Response:
    staff = await session_of(get_runtime(request), request.cookies, touch=False)
    return render(request, "forbidden.html", staff, status_code=403)


@public.get("/login")
async def login_form(request: Request, next: str = "") -> Response:
    no_users = await store_of(get_runtime(request)).count_users() == 0
    return _login_page(request, next_=next, no_users=no_users)


@public.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    rt = get_runtime(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return _login_page(
            request, error="Your sign-in form expired; please try again.", next_=next, status=403
        )
    client = request.client.host if request.client else "?"
    keys = (f"console-login:u:{username.lower()}", f"console-login:ip:{client}")
    if any([await rt.state.get(f"{key}:blocked") for key in keys]):
        log.warning("console.login_throttled")
        return _login_page(
            request, error="Too many failed attempts; wait a few minutes.", next_=next, status=429
        )
    store = store_of(rt)
    user = await store.get_user(username)
    if not check_password(user, password) or user is None or user.disabled:
        log.info("console.login_failed")
        # only failures count: an office of colleagues behind one address signs in freely
        for key, limit in zip(keys, (LOGIN_LIMIT, LOGIN_LIMIT * 3), strict=True):
            if not await rt.state.hit(key, limit=limit, window_seconds=LOGIN_WINDOW_S):
                await rt.state.set(f"{key}:blocked", "1", LOGIN_WINDOW_S)
        return _login_page(request, error="Wrong username or password.", next_=next, status=401)
    if needs_rehash(user):
        await store.set_password_hash(user.user_id, hash_password(password))
    resp = RedirectResponse(safe_next(next), status_code=303)
    await start_session(rt, resp, user)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    log.info("console.login", user_id=user.user_id, role=user.role)
    return resp


# ---- signed in ----------------------------------------------------------------------------------


@router.post("/logout")
async def logout(request: Request) -> Response:
    resp = RedirectResponse("/console/login", status_code=303)
    await end_session(get_runtime(request), request, resp)
    return resp


@router.get("/worklist")
async def worklist_page(request: Request, staff: StaffDep, page: int = 1) -> Response:
    from agent.pms_health import pms_health

    rt = get_runtime(request)
    view = await worklist.build(rt, page=max(page, 1), app=request.app, cookies=dict(request.cookies))
    return render(request, "worklist.html", staff, view=view, health=await pms_health(rt, probe_seconds=2))


@router.get("/accounts/{patient_id}")
async def account_page(
    request: Request, staff: StaffDep, patient_id: str, done: str = "", error: str = ""
) -> Response:
    view = await account_view(get_runtime(request), patient_id)
    if view is None:
        raise HTTPException(status_code=404, detail="no such account")
    return render(
        request,
        "account.html",
        staff,
        a=view,
        d=view.detail,
        flash=done or error or None,
        flash_error=bool(error),
    )


def _back(patient_id: str, *, done: str = "", error: str = "") -> RedirectResponse:
    from urllib.parse import urlencode

    query = urlencode({"done": done} if done else {"error": error})
    return RedirectResponse(f"/console/accounts/{patient_id}?{query}", status_code=303)


async def _act(patient_id: str, effect: Awaitable[None], done: str) -> RedirectResponse:
    """Run one staff action; back to the account page with what happened (or why not)."""
    try:
        await effect
    except actions.ActionError as exc:
        return _back(patient_id, error=str(exc))
    return _back(patient_id, done=done)


async def _account_or_404(request: Request, patient_id: str) -> AccountDetail:
    detail = await account_detail(get_runtime(request), patient_id)
    if detail is None:
        raise HTTPException(status_code=404, detail="no such account")
    return detail


@router.post("/accounts/{patient_id}/pause")
async def pause(
    request: Request, staff: StaffDep, patient_id: str, on: Annotated[str, Form()] = "1"
) -> Response:
    d = await _account_or_404(request, patient_id)
    paused = on == "1"
    await actions.pause_outreach(
        get_runtime(request),
        guarantor_id=d.guarantor_id,
        patient_id=d.patient_id,
        on=paused,
        actor=staff.username,
    )
    return _back(patient_id, done="Outreach paused." if paused else "Outreach resumed.")


@router.post("/accounts/{patient_id}/note")
async def note(
    request: Request, staff: StaffDep, patient_id: str, text: Annotated[str, Form(max_length=4000)] = ""
) -> Response:
    d = await _account_or_404(request, patient_id)
    effect = actions.add_note(get_runtime(request), patient_id=d.patient_id, text=text, actor=staff.username)
    return await _act(patient_id, effect, "Note saved; it is on its way to the PMS.")


@router.post("/accounts/{patient_id}/dispute-resolved")
async def dispute_resolved(
    request: Request, staff: StaffDep, patient_id: str, resolution: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    d = await _account_or_404(request, patient_id)
    effect = actions.resolve_dispute(
        get_runtime(request),
        guarantor_id=d.guarantor_id,
        patient_id=d.patient_id,
        resolution=resolution,
        actor=staff.username,
    )
    return await _act(patient_id, effect, "Dispute marked resolved.")


@router.post("/accounts/{patient_id}/consent")
async def consent(
    request: Request,
    staff: StaffDep,
    patient_id: str,
    phone: Annotated[str, Form(max_length=20)],
    channel: Annotated[Literal["sms", "voice"], Form()],
) -> Response:
    d = await _account_or_404(request, patient_id)
    effect = actions.record_phone_consent(
        get_runtime(request),
        patient_id=d.patient_id,
        phone=phone,
        channel=channel,
        known_phones=list(d.phones),
        actor=staff.username,
    )
    return await _act(patient_id, effect, f"{'Text' if channel == 'sms' else 'Call'} consent recorded.")


@router.get("/audit")
async def audit_page(
    request: Request,
    staff: StaffDep,
    patient_id: str = "",
    kind: str = "",
    actor: str = "",
    since: str = "",
) -> Response:
    error = None
    since_at: datetime | None = None
    if since:
        try:
            since_at = datetime.fromisoformat(since)
            if since_at.tzinfo is None:
                since_at = since_at.replace(tzinfo=UTC)
        except ValueError:
            error = "Since must be a date like 2026-11-01."
    events = await get_runtime(request).records.list_audit(
        patient_id=patient_id or None, since=since_at, limit=1000
    )
    events = [
        e
        for e in events
        if (not kind or kind.lower() in e["kind"].lower())
        and (not actor or actor.lower() == e["actor"].lower())
    ][:300]
    return render(
        request,
        "audit.html",
        staff,
        events=events,
        q={"patient_id": patient_id, "kind": kind, "actor": actor, "since": since},
        flash=error,
        flash_error=bool(error),
    )


@router.get("/users")
async def users_page(request: Request, staff: StaffDep) -> Response:
    users = await store_of(get_runtime(request)).list_users()
    return render(request, "users.html", staff, users=users)


# Included flat (each with its own /console prefix) so every route's path template is complete,
# which is what the role table in agent.console.access matches.
routers = [public, router, live.router, approvals.router, dashboard.router, try_it.router, softphone.router]

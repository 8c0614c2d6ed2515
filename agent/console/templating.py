"""Jinja2 rendering for the console: autoescaped templates from the package, with the signed-in
user, their navigation and CSRF token in every page's context."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from agent.console.access import nav_for
from agent.console.auth import Staff

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def money(value: Decimal | str | int | float | None) -> str:
    if value is None or value == "":
        return "—"
    d = Decimal(str(value))
    sign = "-" if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


def label(value: str | None) -> str:
    return (value or "").replace("_", " ")


def _local(rt_tz: str, value: datetime | date | None, fmt: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(rt_tz)).strftime(fmt)
    return value.strftime("%b %d, %Y")


templates.env.filters["money"] = money
templates.env.filters["label"] = label


def render(
    request: Request, name: str, staff: Staff | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    rt = request.app.state.runtime
    tz = rt.policy.practice.timezone
    base = {
        "staff": staff,
        "nav": nav_for(staff.role) if staff else [],
        "csrf": staff.csrf if staff else "",
        "practice": rt.policy.practice.name,
        "path": request.url.path,
        "when": lambda v, fmt="%b %d, %Y %I:%M %p": _local(tz, v, fmt),
    }
    response = templates.TemplateResponse(request, name, base | context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; form-action 'self'"
    )
    return response

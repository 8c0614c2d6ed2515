"""Unsubscribe from outreach e-mails: no login, the random token in the link is the authority.

- `GET /email/unsubscribe/{token}`: a confirmation page with one button (changes nothing, so link
  scanners and previews that fetch the URL do not unsubscribe anyone).
- `POST /email/unsubscribe/{token}`: records the e-mail opt-out for that address (idempotent). Mail
  clients use the same URL for RFC 8058 one-click (`List-Unsubscribe=One-Click` in the body).
An unknown token answers 404 with the practice's phone number; nothing about the patient is shown.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agent.brains.phrases import pretty_phone
from agent.metrics import WEBHOOKS
from agent.outreach.email_channel import UNSUBSCRIBE_PATH, email_for_link, unsubscribe
from agent.routes.deps import get_runtime
from agent.runtime import Runtime
from agent.store.outbound_emails import OutboundEmailStore

router = APIRouter(prefix=UNSUBSCRIBE_PATH.rstrip("/"), tags=["email"])


def _page(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(doc, status_code=status_code, headers={"Cache-Control": "no-store"})


def _practice(runtime: Runtime) -> tuple[str, str]:
    p = runtime.policy.practice
    return html.escape(p.outreach_name), html.escape(pretty_phone(p.callback_number))


def _unknown(runtime: Runtime) -> HTMLResponse:
    name, phone = _practice(runtime)
    return _page(
        "This link is not valid",
        f"<p>This unsubscribe link is not valid. To stop e-mails from {name}, call {phone}.</p>",
        status_code=404,
    )


@router.get("/{token}")
async def confirm_page(token: str, request: Request) -> HTMLResponse:
    runtime = get_runtime(request)
    store = OutboundEmailStore(runtime.sessions, runtime.clock)
    if await email_for_link(token, store) is None:
        return _unknown(runtime)
    name, _ = _practice(runtime)
    return _page(
        f"Unsubscribe from {runtime.policy.practice.outreach_name} e-mails",
        f'<form method="post"><p>Stop e-mails from {name} to this address?</p>'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/{token}")
async def confirm(token: str, request: Request) -> HTMLResponse:
    runtime = get_runtime(request)
    result = await unsubscribe(
        token,
        store=OutboundEmailStore(runtime.sessions, runtime.clock),
        records=runtime.records,
        policy=runtime.policy,
    )
    WEBHOOKS.labels(route="email_unsubscribe", result=result).inc()
    if result == "unknown":
        return _unknown(runtime)
    name, phone = _practice(runtime)
    return _page(
        "You are unsubscribed",
        f"<p>{name} will not send e-mails to this address anymore. Questions? Call {phone}.</p>",
    )

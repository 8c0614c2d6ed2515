"""`POST /stripe/webhook`: raw-body signature first (5-minute tolerance, both directions), then the
event, idempotent on its id (agent/stripe_events.py). Plus the plain pages Checkout returns to.

400 for a missing, bad, stale or future-dated signature or a body that is not an event; 503 when
`STRIPE_WEBHOOK_SECRET` is not set; 409 while another worker is processing the same event (Stripe
retries); 200 otherwise, duplicates included.
"""

from __future__ import annotations

import html
import json
import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from agent.metrics import WEBHOOK_LATENCY, WEBHOOKS
from agent.payments import CHECKOUT_CANCELLED_PATH, CHECKOUT_COMPLETE_PATH, payment_poster, plan_charger
from agent.routes.deps import get_runtime
from agent.runtime import Runtime
from agent.store.payments import PaymentStore
from agent.stripe_events import EventInProgress, MalformedEvent, StripeEventHandler
from tools.payments.stripe_signature import StripeSignatureError, verify_signature

router = APIRouter(tags=["stripe"])
ROUTE = "stripe_webhook"


def event_handler(runtime: Runtime) -> StripeEventHandler:
    return StripeEventHandler(
        store=PaymentStore(runtime.sessions, runtime.clock),
        records=runtime.records,
        state=runtime.state,
        policy=runtime.policy,
        clock=runtime.clock,
        poster=payment_poster(runtime),
        plans=plan_charger(runtime),
    )


@router.post("/stripe/webhook")
async def stripe_webhook(request: Request) -> JSONResponse:
    started = time.perf_counter()
    runtime = get_runtime(request)
    secret = runtime.settings.stripe_webhook_secret
    if secret is None or not secret.get_secret_value():
        WEBHOOKS.labels(route=ROUTE, result="unconfigured").inc()
        raise HTTPException(status_code=503, detail="Stripe is not configured on this server")
    payload = await request.body()
    try:
        verify_signature(
            payload, request.headers.get("stripe-signature"), secret.get_secret_value(), now=runtime.clock()
        )
    except StripeSignatureError as exc:
        WEBHOOKS.labels(route=ROUTE, result="bad_signature").inc()
        raise HTTPException(status_code=400, detail="invalid Stripe signature") from exc
    try:
        event = json.loads(payload)
        if not isinstance(event, dict):
            raise MalformedEvent("not an object")
        outcome = await event_handler(runtime).handle(event)
    except (ValueError, MalformedEvent) as exc:
        WEBHOOKS.labels(route=ROUTE, result="malformed").inc()
        raise HTTPException(status_code=400, detail="not a Stripe event") from exc
    except EventInProgress as exc:
        WEBHOOKS.labels(route=ROUTE, result="in_progress").inc()
        raise HTTPException(status_code=409, detail="event is being processed; retry later") from exc
    WEBHOOKS.labels(route=ROUTE, result=outcome).inc()
    WEBHOOK_LATENCY.labels(route=ROUTE).observe(time.perf_counter() - started)
    return JSONResponse({"received": True, "outcome": outcome})


def _page(request: Request, text: str) -> HTMLResponse:
    name = html.escape(get_runtime(request).policy.practice.name)
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head>"
        f"<body><p>{text}</p><p>{name}</p></body></html>"
    )


@router.get(CHECKOUT_COMPLETE_PATH, include_in_schema=False)
async def checkout_complete(request: Request) -> HTMLResponse:
    return _page(request, "Thank you. Your payment was received; you can close this page.")


@router.get(CHECKOUT_CANCELLED_PATH, include_in_schema=False)
async def checkout_cancelled(request: Request) -> HTMLResponse:
    return _page(request, "No payment was made. You can use the link in your text again before it expires.")

"""Twilio `<Pay>` callbacks: `POST /twilio/pay/done` (the action) and `POST /twilio/pay/status`.

Both are signature-checked (403 bad or missing signature, 503 when Twilio is not configured) and
idempotent. Neither stores card data: the action's masked card fields are ignored except the card
type, and progress callbacks keep only the step, error type and attempt (agent/pay_handoff.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from agent.metrics import WEBHOOKS
from agent.pay_handoff import PAY_DONE_PATH, PAY_STATUS_PATH, finish_pay, handoff_store, progress_fields
from agent.routes.deps import get_runtime
from agent.routes.deps import twilio_form as _form
from telephony.twiml import TWIML_MEDIA_TYPE

router = APIRouter(tags=["twilio"])


@router.post(PAY_DONE_PATH)
async def pay_done(request: Request) -> Response:
    form = await _form(request, "pay_done")
    outcome, twiml = await finish_pay(get_runtime(request), form)
    WEBHOOKS.labels(route="pay_done", result=outcome).inc()
    return Response(content=twiml, media_type=TWIML_MEDIA_TYPE)


@router.post(PAY_STATUS_PATH)
async def pay_status(request: Request) -> Response:
    form = await _form(request, "pay_status")
    call_sid = form.get("CallSid", "")
    found = bool(call_sid) and await handoff_store(get_runtime(request)).record_progress(
        call_sid, progress_fields(form)
    )
    WEBHOOKS.labels(route="pay_status", result="recorded" if found else "no_pending_handoff").inc()
    return Response(status_code=204)

"""Twilio SMS webhooks: signature-checked, idempotent on MessageSid, with load shedding.

Each process handles at most `MAX_IN_FLIGHT` inbound texts at once; beyond that it answers 503 with
Retry-After at once (before reading the body), and Twilio delivers the text again later. Past
capacity that keeps the accepted texts fast instead of letting every request queue into a timeout.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request, Response

from agent.metrics import WEBHOOK_LATENCY, WEBHOOKS
from agent.routes.deps import get_runtime
from agent.routes.deps import twilio_form as _form
from agent.sms import InboundText
from telephony.sms import MalformedWebhook, parse_inbound, parse_status_callback
from telephony.twiml import empty_messaging_response

router = APIRouter(prefix="/twilio/sms", tags=["twilio"])
TWIML = "application/xml"
MAX_IN_FLIGHT = 48  # inbound texts being processed per process; more are shed (503 + Retry-After)
SHED_RETRY_AFTER = "2"
_in_flight = 0


@router.post("/inbound")
async def sms_inbound(request: Request) -> Response:
    global _in_flight
    if _in_flight >= MAX_IN_FLIGHT:
        WEBHOOKS.labels(route="sms_inbound", result="shed").inc()
        return Response(
            content="busy, retry later", status_code=503, headers={"Retry-After": SHED_RETRY_AFTER}
        )
    _in_flight += 1
    try:
        return await _sms_inbound(request)
    finally:
        _in_flight -= 1


async def _sms_inbound(request: Request) -> Response:
    started = time.perf_counter()
    form = await _form(request, "sms_inbound")
    try:
        inbound = parse_inbound(form)
    except MalformedWebhook as exc:
        WEBHOOKS.labels(route="sms_inbound", result="malformed").inc()
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    runtime = get_runtime(request)
    outcome = await runtime.sms.handle(
        InboundText(
            message_sid=inbound.message_sid,
            from_=inbound.from_,
            to=inbound.to,
            body=inbound.body,
            opt_out_type=inbound.opt_out_type,
        )
    )
    WEBHOOKS.labels(route="sms_inbound", result=outcome.kind).inc()
    if outcome.kind == "in_progress":
        raise HTTPException(
            status_code=503, detail="this MessageSid is still being processed", headers={"Retry-After": "5"}
        )
    WEBHOOK_LATENCY.labels(route="sms_inbound").observe(time.perf_counter() - started)
    return Response(content=empty_messaging_response(), media_type=TWIML)


@router.post("/status")
async def sms_status(request: Request) -> Response:
    form = await _form(request, "sms_status")
    try:
        status = parse_status_callback(form)
    except MalformedWebhook as exc:
        WEBHOOKS.labels(route="sms_status", result="malformed").inc()
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    runtime = get_runtime(request)
    await runtime.records.update_message_status(status.sid, status.status, status.error_code)
    if status.error_code == 21610:
        # Delivery failed because the patient had replied STOP to this sender: record the opt-out.
        to = status.to or form.get("To")
        if to:
            from policies.types import SuppressionScope

            await runtime.records.add_suppression(
                patient_id=None, value=to, scope=SuppressionScope.SMS, reason="twilio_21610", source="twilio"
            )
    WEBHOOKS.labels(route="sms_status", result=status.status or "unknown").inc()
    return Response(content=empty_messaging_response(), media_type=TWIML)

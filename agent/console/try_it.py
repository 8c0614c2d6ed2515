"""Try the agent without a phone: an SMS simulator and a browser softphone.

- SMS: the text goes through the same `SmsChannel` as a Twilio webhook (keywords, identity,
  brain, tools, audit, PMS comm log), as the chosen demo patient's number. Replies are delivered to
  an in-memory outbox, never to a real phone, even when Twilio is configured.
- Softphone: the browser speaks Twilio's Media Streams framing (connected/start/media/mark/stop,
  8 kHz mu-law, 20 ms frames) over `/console/try/phone/ws`, which runs the same voice session as
  `/twilio/media` (see `agent.console.softphone`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from agent.console.auth import Staff, require_staff
from agent.console.templating import render
from agent.messaging import GuardedSms
from agent.runtime import Runtime
from agent.sms import InboundText, SmsChannel
from pms.demo.personas import PERSONAS
from telephony.sms_local import LocalOutbox

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(require_staff)])
StaffDep = Annotated[Staff, Depends(require_staff)]


def _personas() -> list[dict[str, str]]:
    return [
        {
            "key": p.key,
            "name": p.name,
            "phone": p.phone,
            "shows": p.demonstrates,
            "dob": p.date_of_birth.isoformat(),
        }
        for p in PERSONAS.values()
        if p.phone
    ]


def simulator_channel(rt: Runtime) -> SmsChannel:
    """The app's SMS channel, with replies kept in memory instead of sent to a phone."""
    outbox = LocalOutbox(from_number=rt.policy.practice.callback_number, maxlen=200, clock=rt.clock)
    outbound = GuardedSms(sender=outbox, records=rt.records, pms=rt.pms, policy=rt.policy, clock=rt.clock)
    return SmsChannel(
        records=rt.records,
        state=rt.state,
        pms=rt.pms,
        policy=rt.policy,
        engine=rt.turns,
        outbound=outbound,
        payments=rt.payments,
        clock=rt.clock,
    )


@router.get("/try/sms")
async def sms_page(request: Request, staff: StaffDep) -> Response:
    return render(request, "try_sms.html", staff, personas=_personas())


@router.post("/try/sms")
async def sms_send(
    request: Request,
    staff: StaffDep,
    persona: Annotated[str, Form(max_length=64)],
    body: Annotated[str, Form(min_length=1, max_length=1600)],
) -> JSONResponse:
    chosen = PERSONAS.get(persona)
    if chosen is None or not chosen.phone:
        raise HTTPException(status_code=422, detail="pick one of the demo patients")
    rt: Runtime = request.app.state.runtime
    outcome = await simulator_channel(rt).handle(
        InboundText(
            message_sid=f"SMconsole{uuid.uuid4().hex}",
            from_=chosen.phone,
            to=rt.policy.practice.callback_number,
            body=body,
        )
    )
    await rt.records.audit(
        "console.sms_simulated",
        patient_id=None,
        conversation_id=outcome.conversation_id,
        detail={"persona": chosen.key},
        actor=staff.username,
    )
    return JSONResponse(
        {"kind": outcome.kind, "reply": outcome.reply, "conversation_id": outcome.conversation_id}
    )


@router.get("/try/phone")
async def phone_page(request: Request, staff: StaffDep) -> Response:
    from agent.console.softphone import session_available

    return render(request, "try_phone.html", staff, personas=_personas(), available=session_available())

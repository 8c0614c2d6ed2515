"""Helpers for the payment tests: a verified voice (or SMS) conversation and its toolbox on the app."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from agent.conversation import Conversation
from agent.messaging import ConversationMessenger
from agent.pay_handoff import card_capture_for
from pms.demo.personas import PERSONAS, Persona
from tests.integration.harness import App
from tools.context import CallerState, ToolContext, ToolResult
from tools.registry import ToolBox

PAYER = PERSONAS["prompt_payer"]  # $240.00, mobile with SMS consent
PLANNER = PERSONAS["plan_candidate"]  # $1,850.00


def start_call(
    app: App, who: Persona = PAYER, *, call_sid: str | None = None, channel: str = "voice"
) -> CallerState:
    """A conversation with `who` already verified (as verify_identity would leave it), saved."""
    state = CallerState(
        conversation_id=f"cv_{uuid.uuid4().hex[:20]}",
        channel=channel,  # type: ignore[arg-type]
        contact=who.phone,
        patient_id=who.patient_id,
        guarantor_id=who.guarantor_id,
        verified=True,
        call_sid=(call_sid or f"CA{uuid.uuid4().hex}") if channel == "voice" else None,
    )
    conv = Conversation(state=state, direction="inbound", started_at=app.clock())
    app.run(app.runtime.records.save_conversation(conv))
    return state


def tool(app: App, state: CallerState, name: str, **arguments: Any) -> ToolResult:
    """Invoke a tool the way a brain does (through the ToolBox), then save the conversation."""
    rt = app.runtime
    ctx = ToolContext(
        pms=rt.pms,
        policy=rt.policy,
        records=rt.records,
        payments=rt.payments,
        clock=rt.clock,
        messenger=ConversationMessenger(rt.outbound_sms, state.conversation_id)
        if state.channel == "voice"
        else None,
        card_capture=card_capture_for(rt) if state.channel == "voice" else None,
    )

    async def go() -> ToolResult:
        result = await ToolBox(ctx).invoke(state, name, arguments)
        conv = await rt.records.load_conversation(state.conversation_id)
        assert conv is not None
        conv.state = state
        await rt.records.save_conversation(conv)
        return result

    return app.run(go())  # type: ignore[no-any-return]


def accept_first_plan(app: App, state: CallerState) -> dict[str, Any]:
    offered = tool(app, state, "offer_plan")
    assert offered.ok, offered.message
    plan = next(o for o in offered.data["options"] if not o["needs_staff_approval"])
    accepted = tool(app, state, "accept_plan", plan_key=plan["plan_key"])
    assert accepted.ok, accepted.message
    return dict(plan)


def pay_by_keypad(app: App, state: CallerState, amount: str, confirmation: str) -> Any:
    """take_payment on the call, then Twilio's signed <Pay> action reporting success."""
    result = tool(app, state, "take_payment", amount=amount)
    assert result.ok and result.data.get("handoff") == "pay", result.message
    form = {
        "AccountSid": app.twilio.account_sid,
        "CallSid": state.call_sid or "",
        "Result": "success",
        "PaymentConfirmationCode": confirmation,
        "PaymentCardNumber": "xxxx-xxxx-xxxx-4242",
        "PaymentCardType": "visa",
    }
    response = app.post_signed("/twilio/pay/done", form)
    assert response.status_code == 200, response.text
    return response


def count(app: App, model: Any, *where: Any) -> int:
    """Rows of `model` matching `where`, read on the app's own loop."""

    async def q() -> int:
        async with app.runtime.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return int(app.run(q()))


def rows(app: App, model: Any, *where: Any) -> list[Any]:
    async def q() -> list[Any]:
        async with app.runtime.sessions() as s:
            return list((await s.scalars(select(model).where(*where))).all())

    return list(app.run(q()))

"""Card payment during a call: take_payment → <Pay> TwiML → signed /twilio/pay/done (every Result) →
a new <Connect><Stream> resuming the same conversation; plus /twilio/pay/status and the fallbacks.

Real app (embedded and PostgreSQL/Redis), Twilio callbacks signed with twilio's RequestValidator.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from agent.pay_handoff import (
    PAY_CANCELLED,
    PAY_DECLINED,
    PAY_FAILED,
    PAY_SUCCESS,
    pay_twiml_after_stream,
)
from agent.settings import Settings
from agent.store.migrate import upgrade
from agent.store.models import OutboxRow, PaymentRow
from agent.store.models_payments import PayHandoffRow, PlanInstallmentRow, PlanScheduleRow
from agent.voice.stream_grants import TOKEN_PARAMETER, StreamGrant, StreamGrants
from pms.demo.personas import PERSONAS
from tests.fakes.stripe_checkout import FakeCheckout
from tests.integration.harness import App, open_app, run_sync
from tests.payments.calls import PAYER, PLANNER, accept_first_plan, count, rows, start_call, tool
from tests.payments.conftest import API_KEY
from tests.phi_scan import leaked

CARD = "4242424242424242"
CALLER = PERSONAS["appointment_tomorrow"]  # $195.00; calls that end without a payment


def pay_element(twiml: str) -> dict[str, str]:
    root = ET.fromstring(twiml)
    element = root.find("Pay")
    assert element is not None, twiml
    return dict(element.attrib)


def redeem(app: App, twiml: str) -> StreamGrant:
    root = ET.fromstring(twiml)
    connect = root.find("Connect")
    assert connect is not None, twiml
    assert connect.attrib["action"] == "https://billing.example.com/twilio/voice/after-stream"
    stream = connect.find("Stream")
    assert stream is not None and stream.attrib["url"] == "wss://billing.example.com/twilio/media"
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    grant = app.run(StreamGrants(app.runtime.state).redeem(params[TOKEN_PARAMETER]))
    assert grant is not None
    return grant  # type: ignore[no-any-return]


def receipts(app: App) -> list[str]:
    return [b for b in app.replies_to(PAYER.phone or "") if "received your payment of $240.00" in b]


def done_form(app: App, call_sid: str, result: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": app.twilio.account_sid,
        "CallSid": call_sid,
        "Result": result,
        "PaymentCardNumber": "xxxx-xxxx-xxxx-4242" if result == "success" else "",
        "PaymentCardType": "visa",
        "ExpirationDate": "1230",
        "SecurityCode": "***",
        "PaymentCardPostalCode": "60601",
        **extra,
    }


def test_take_payment_then_pay_success_resumes_and_posts_once(stripe_app: App) -> None:
    app = stripe_app
    receipts_before = len(receipts(app))
    state = start_call(app)
    result = tool(app, state, "take_payment", amount="full")
    assert result.ok and result.data["handoff"] == "pay", result.message
    assert result.data["amount"] == "240.00" and "keypad" in result.message
    assert state.pending_handoff == "pay"
    assert state.call_sid is not None

    twiml = app.run(pay_twiml_after_stream(app.runtime, state.call_sid))
    attrs = pay_element(twiml)
    assert attrs["chargeAmount"] == "240.00" and attrs["currency"] == "usd"
    assert attrs["paymentConnector"] == "Default" and attrs["tokenType"] == "one-time"
    assert attrs["action"] == "https://billing.example.com/twilio/pay/done"
    assert attrs["statusCallback"] == "https://billing.example.com/twilio/pay/status"
    assert attrs["description"] == "Account balance payment"

    form = done_form(app, state.call_sid, "success", PaymentConfirmationCode="ch_test_keypad1")
    first = app.post_signed("/twilio/pay/done", form)
    assert first.status_code == 200, first.text
    grant = redeem(app, first.text)
    assert grant.resume == PAY_SUCCESS and grant.call_sid == state.call_sid
    assert grant.conversation_id == state.conversation_id and grant.direction == "inbound"

    again = app.post_signed("/twilio/pay/done", form)  # Twilio retries the action
    assert again.status_code == 200 and redeem(app, again.text).resume == PAY_SUCCESS

    [payment] = rows(app, PaymentRow, PaymentRow.guarantor_id == PAYER.guarantor_id)
    assert payment.processor_ref == "ch_test_keypad1" and str(payment.amount) == "240.00"
    assert count(app, OutboxRow, OutboxRow.idempotency_key.endswith("|payment|ch_test_keypad1")) == 1
    app.drain_outbox()
    posted = app.run(app.runtime.pms.get_payments(PAYER.guarantor_id))
    assert [str(p.amount) for p in posted if p.processor_ref == "ch_test_keypad1"] == ["240.00"]
    conv = app.run(app.runtime.records.load_conversation(state.conversation_id))
    assert conv.state.pending_handoff is None and conv.state.outcome == "paid"
    assert len(receipts(app)) == receipts_before + 1
    # no card data anywhere in what we stored for the hand-off
    handoff = rows(app, PayHandoffRow)[0]
    assert (
        handoff.status == "success"
        and CARD not in repr(handoff.__dict__)
        and leaked(repr(handoff.__dict__), ["1230"]) == []  # the expiry, as a word (ids are random)
    )
    assert app.run(pay_twiml_after_stream(app.runtime, state.call_sid)) is None  # nothing pending now


UNSUCCESSFUL = [
    ("payment-connector-error", PAY_DECLINED, "declined"),
    ("too-many-failed-attempts", PAY_FAILED, "failed"),
    ("validation-error", PAY_FAILED, "failed"),
    ("input-timeout", PAY_FAILED, "failed"),
    ("internal-error", PAY_FAILED, "failed"),
    ("caller-interrupted-with-star", PAY_CANCELLED, "cancelled"),
    ("something-new-from-twilio", PAY_FAILED, "failed"),
]


def test_every_unsuccessful_result_resumes_with_its_outcome_and_records_no_payment(stripe_app: App) -> None:
    app = stripe_app
    for result, outcome, status in UNSUCCESSFUL:
        state = start_call(app, CALLER)
        assert tool(app, state, "take_payment", amount="100").ok
        assert state.call_sid is not None
        form = done_form(app, state.call_sid, result, PaymentError="declined", PayErrorCode="64017")
        for _ in range(2):  # and again: idempotent
            response = app.post_signed("/twilio/pay/done", form)
            assert response.status_code == 200
            assert redeem(app, response.text).resume == outcome, result
        [handoff] = rows(app, PayHandoffRow, PayHandoffRow.call_sid == state.call_sid)
        assert (handoff.status, handoff.result) == (status, result)
        conv = app.run(app.runtime.records.load_conversation(state.conversation_id))
        assert conv.state.pending_handoff is None and conv.state.outcome != "paid"
    assert count(app, PaymentRow, PaymentRow.guarantor_id == CALLER.guarantor_id) == 0
    assert count(app, OutboxRow, OutboxRow.kind == "payment") == count(app, PaymentRow)  # one per payment


def test_caller_hung_up_ends_the_call(stripe_app: App) -> None:
    app = stripe_app
    state = start_call(app, CALLER)
    assert tool(app, state, "take_payment").ok
    assert state.call_sid is not None
    response = app.post_signed("/twilio/pay/done", done_form(app, state.call_sid, "caller-hung-up"))
    assert response.status_code == 200 and "<Hangup" in response.text and "<Stream" not in response.text
    [handoff] = rows(app, PayHandoffRow, PayHandoffRow.call_sid == state.call_sid)
    assert handoff.status == "cancelled"


def test_signatures_and_unknown_calls(stripe_app: App) -> None:
    app = stripe_app
    form = done_form(app, "CAunknown", "success", PaymentConfirmationCode="ch_x")
    assert app.client.post("/twilio/pay/done", data=form).status_code == 403
    assert app.post_signed("/twilio/pay/done", form, token="wrong-token").status_code == 403
    assert app.post_signed("/twilio/pay/status", {"CallSid": "CAx"}, token="bad").status_code == 403
    unknown = app.post_signed("/twilio/pay/done", form)
    assert unknown.status_code == 200 and "<Hangup" in unknown.text
    assert count(app, PaymentRow, PaymentRow.processor_ref == "ch_x") == 0


def test_unconfigured_twilio_is_503(tmp_path: Any, fake_twilio: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/n.db"
    run_sync(upgrade(url))
    settings = Settings(_env_file=None, DATABASE_URL=url, PUBLIC_BASE_URL="https://billing.example.com")  # type: ignore[call-arg]
    app = open_app(settings, fake_twilio)
    try:
        assert app.client.post("/twilio/pay/done", data={"CallSid": "CA1"}).status_code == 503
        assert app.client.post("/twilio/pay/status", data={"CallSid": "CA1"}).status_code == 503
    finally:
        app.client.__exit__(None, None, None)


def test_status_callbacks_keep_progress_without_card_data(stripe_app: App) -> None:
    app = stripe_app
    state = start_call(app, PERSONAS["statement_yesterday"])
    assert tool(app, state, "take_payment").ok
    assert state.call_sid is not None
    progress = {
        "AccountSid": app.twilio.account_sid,
        "CallSid": state.call_sid,
        "For": "security-code",
        "ErrorType": "invalid-security-code",
        "Attempt": "1",
        "PaymentCardNumber": "xxxx-xxxx-xxxx-4242",
        "PaymentCardType": "visa",
        "ExpirationDate": "1230",
        "SecurityCode": "***",
        "PaymentCardPostalCode": "60601",
    }
    for _ in range(2):
        assert app.post_signed("/twilio/pay/status", progress).status_code == 204
    [handoff] = rows(app, PayHandoffRow, PayHandoffRow.call_sid == state.call_sid)
    assert handoff.status == "pending"
    assert handoff.last_status == {
        "For": "security-code",
        "ErrorType": "invalid-security-code",
        "Attempt": "1",
        "PaymentCardType": "visa",
    }
    assert app.post_signed("/twilio/pay/status", {**progress, "CallSid": "CAnone"}).status_code == 204


def test_take_payment_guards(stripe_app: App) -> None:
    app = stripe_app
    who = PERSONAS["spanish_speaker"]  # $320.00
    state = start_call(app, who)
    state.verified = False
    refused = tool(app, state, "take_payment", amount="full")
    assert refused.refused == "not_verified" and "320" not in refused.message
    state.verified = True
    assert tool(app, state, "take_payment", amount="500").refused == "above_balance"
    assert tool(app, state, "take_payment", amount="5").refused == "below_minimum"
    assert tool(app, state, "take_payment", amount="installment").refused == "no_plan"
    assert tool(app, state, "take_payment", amount="full", extra=1).refused == "invalid_arguments"
    assert count(app, PayHandoffRow, PayHandoffRow.guarantor_id == who.guarantor_id) == 0


def test_without_stripe_take_payment_texts_the_portal_link_and_says_so(portal_app: App) -> None:
    app = portal_app
    state = start_call(app)
    result = tool(app, state, "take_payment", amount="full")
    assert result.ok, result.message
    assert "can't take a card payment over the phone" in result.message
    assert "portal" in result.message and result.data["provider"] == "portal"
    assert state.pending_handoff is None and count(app, PayHandoffRow) == 0
    [text] = [b for b in app.replies_to(PAYER.phone or "") if "portal" in b]
    assert app.runtime.policy.practice.portal_url in text and "$240.00" in text
    ready = app.client.get("/readyz").json()["checks"]
    assert ready["providers"]["payments"] == "portal"
    assert ready["stripe"]["configured"] is False and ready["stripe"]["fallback"] == "portal"


def test_readyz_reports_stripe_reachable(stripe_app: App) -> None:
    checks = stripe_app.client.get("/readyz").json()["checks"]
    assert checks["providers"]["payments"] == "stripe"
    assert checks["stripe"]["configured"] is True and checks["stripe"]["reachable"] is True
    assert checks["stripe"]["pay_connector"] == "Default" and checks["stripe"]["webhook_secret"] is True


def test_plan_first_payment_by_keypad_saves_the_card_and_schedules_the_rest(stripe_app: App) -> None:
    import stripe

    app = stripe_app
    checkout: FakeCheckout = app.checkout  # type: ignore[attr-defined]
    state = start_call(app, PLANNER)
    plan = accept_first_plan(app, state)
    result = tool(app, state, "take_payment", amount="installment")
    assert result.ok and result.data["saves_card_for_plan"] is True, result.message
    first = plan["down_payment"] if plan["down_payment"] != "0.00" else plan["installment_amount"]
    assert result.data["amount"] == first
    assert state.call_sid is not None
    attrs = pay_element(app.run(pay_twiml_after_stream(app.runtime, state.call_sid)))
    assert attrs["tokenType"] == "reusable" and attrs["chargeAmount"] == first
    # what Twilio's Stripe connector leaves behind with tokenType=reusable: a Customer with the card
    client = stripe.StripeClient(API_KEY, base_addresses={"api": checkout.localstripe_base})
    customer = client.v1.customers.create(params={"description": "pay connector"}).id
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer}).id
    form = done_form(
        app,
        state.call_sid,
        "success",
        PaymentConfirmationCode="ch_plan_first",
        ProfileId=customer,
        PaymentToken=card,
    )
    response = app.post_signed("/twilio/pay/done", form)
    assert redeem(app, response.text).resume == PAY_SUCCESS
    app.post_signed("/twilio/pay/done", form)
    [schedule] = rows(app, PlanScheduleRow)
    assert schedule.customer_ref == customer and schedule.payment_method_ref == card
    installments = rows(app, PlanInstallmentRow)
    remaining = plan["installments"] - (0 if plan["down_payment"] != "0.00" else 1)
    assert len(installments) == remaining and all(i.status == "scheduled" for i in installments)
    detail = app.client.get(
        f"/api/accounts/{PLANNER.guarantor_id}", headers={"Authorization": "Bearer test-token"}
    ).json()
    [autopay] = detail["autopay_plans"]
    assert autopay["remaining_installments"] == remaining and autopay["failed_attempts"] == 0
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", autopay["next_due"])


def test_after_stream_route_serves_pay_and_the_resume_opens_a_new_stream(stripe_app: App) -> None:
    """Through the voice routes: the session marked the call's hand-off as "pay" and closed the
    stream; Twilio's signed after-stream request gets <Pay>; the <Pay> action gets the resume stream."""
    from agent.store.voice_calls import VoiceCallStore

    app = stripe_app
    who = PERSONAS["large_balance_needs_approval"]
    state = start_call(app, who)
    assert state.call_sid is not None
    calls = VoiceCallStore(app.runtime.sessions, app.runtime.clock)
    app.run(calls.open_call(state.call_sid, direction="inbound", conversation_id=state.conversation_id))
    assert tool(app, state, "take_payment", amount="100").ok
    app.run(calls.set_handoff(state.call_sid, {"kind": "pay"}))
    base = {"AccountSid": app.twilio.account_sid, "CallSid": state.call_sid, "CallStatus": "in-progress"}
    served = app.post_signed("/twilio/voice/after-stream", base)
    assert served.status_code == 200, served.text
    attrs = pay_element(served.text)
    assert attrs["chargeAmount"] == "100.00" and attrs["action"].endswith("/twilio/pay/done")
    done = app.post_signed(
        "/twilio/pay/done", done_form(app, state.call_sid, "success", PaymentConfirmationCode="ch_route_1")
    )
    grant = redeem(app, done.text)
    assert grant.resume == PAY_SUCCESS and grant.conversation_id == state.conversation_id
    assert count(app, PaymentRow, PaymentRow.processor_ref == "ch_route_1") == 1

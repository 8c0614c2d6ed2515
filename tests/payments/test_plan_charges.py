"""Payment plans that charge themselves, with the real stripe SDK against localstripe and a settable clock:
the card saved by the first payment (Checkout), the 3-day reminder, off-session installment charges,
a declined installment retried after 48 h (exactly one payment everywhere), two declines (link + staff
task), a replayed attempt (Stripe idempotency), and a PMS write that times out after succeeding.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe

from agent.outbox import OutboxDrainer
from agent.payments import plan_charger
from agent.store.models import OutboxRow, PaymentRow, StaffTaskRow
from agent.store.models_payments import PlanInstallmentRow, PlanScheduleRow
from pms.demo.personas import PERSONAS, Persona
from pms.types import PaymentWrite, WriteResult
from tests.fakes.stripe_checkout import FakeCheckout, body, event, sign
from tests.integration.harness import App
from tests.payments.calls import PLANNER, accept_first_plan, count, rows, start_call
from tests.payments.conftest import API_KEY, SECRET
from tools.payments.stripe_charges import installment_key

URL = re.compile(r"https://checkout\.stripe\.com/c/pay/(cs_test_[0-9a-f]+)")
API = {"Authorization": "Bearer test-token"}
TERMS = {
    "plan_key": "m3",
    "total": "300.00",
    "down_payment": "0.00",
    "installment_amount": "100.00",
    "installments": 3,
    "frequency": "monthly",
    "first_due": "2026-11-20",
    "needs_staff_approval": False,
    "last_installment_amount": None,
    "months": 3,
}


def at(day: date, hour: int = 16) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)  # 16:00 UTC = 10:00 in Chicago


def tick(app: App) -> dict[str, int]:
    return app.run(plan_charger(app.runtime).tick())  # type: ignore[no-any-return]


def post_event(app: App, evt: dict[str, Any]) -> Any:
    payload = body(evt)
    response = app.client.post(
        "/stripe/webhook", content=payload, headers=sign(payload, SECRET, int(app.clock.now.timestamp()))
    )
    assert response.status_code == 200, response.text
    return response.json()


def stripe_client(app: App) -> stripe.StripeClient:
    checkout: FakeCheckout = app.checkout  # type: ignore[attr-defined]
    return stripe.StripeClient(API_KEY, base_addresses={"api": checkout.localstripe_base})


def customer_with_card(app: App, card: str) -> tuple[str, str]:
    """A Stripe customer whose default payment method is `card` (a localstripe test card id)."""
    client = stripe_client(app)
    customer = client.v1.customers.create(params={"description": "plan payer"}).id
    pm = client.v1.payment_methods.attach(card, params={"customer": customer}).id
    client.v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": pm}})
    return customer, pm


def start_plan(app: App, who: Persona, customer: str, source_ref: str) -> str:
    """A plan whose first payment (installment 1) was taken: installments 2 and 3 remain."""
    return app.run(  # type: ignore[no-any-return]
        plan_charger(app.runtime).activate(
            source_ref=source_ref,
            guarantor_id=who.guarantor_id,
            patient_id=who.patient_id,
            conversation_id=None,
            terms=TERMS,
            customer_ref=customer,
            payment_method_ref=None,
        )
    )


def installments(app: App, plan_id: str) -> list[PlanInstallmentRow]:
    return sorted(rows(app, PlanInstallmentRow, PlanInstallmentRow.plan_id == plan_id), key=lambda i: i.seq)


def reminders(app: App) -> list[str]:
    return [b for b in app.replies_to(PLANNER.phone or "") if "reminder that your plan payment" in b]


def test_checkout_first_payment_saves_the_card_then_reminder_and_installment_charge(stripe_app: App) -> None:
    app = stripe_app
    app.clock.now = at(date(2026, 11, 2))
    checkout: FakeCheckout = app.checkout  # type: ignore[attr-defined]
    state = start_call(app, PLANNER, channel="sms")
    plan = accept_first_plan(app, state)
    session_id = URL.search(
        app.run(app.runtime.records.load_conversation(state.conversation_id)).state.effects[
            next(k for k in state.effects if "|plan|" in k)
        ]["data"]["payment_url"]
    ).group(1)  # type: ignore[union-attr]
    sent = next(
        r
        for r in checkout.requests
        if r[1] == "/v1/checkout/sessions" and r[2]["metadata"]["purpose"] == "plan_first_payment"
    )
    assert sent[2]["customer_creation"] == "always"
    assert sent[2]["payment_intent_data"]["setup_future_usage"] == "off_session"
    pi = checkout.pay(session_id, API_KEY)
    intent = stripe_client(app).v1.payment_intents.retrieve(pi).to_dict()
    assert post_event(app, event("checkout.session.completed", checkout.session(session_id)))["outcome"] == (
        "payment_recorded"
    )
    assert post_event(app, event("payment_intent.succeeded", intent))["outcome"] == "payment_recorded"
    [schedule] = rows(app, PlanScheduleRow, PlanScheduleRow.source_ref == pi)
    assert schedule.customer_ref == checkout.session(session_id)["customer"]
    assert schedule.payment_method_ref == intent["payment_method"]
    todo = installments(app, schedule.id)
    assert len(todo) == plan["installments"] - (0 if plan["down_payment"] != "0.00" else 1)
    nxt = todo[0]

    before = len(reminders(app))
    app.clock.now = at(nxt.due_on - timedelta(days=4))
    assert tick(app)["reminded"] == 0
    app.clock.now = at(nxt.due_on - timedelta(days=3), hour=9)  # 03:00 in Chicago: not at night
    assert tick(app)["reminded"] == 0
    app.clock.now = at(nxt.due_on - timedelta(days=3))
    assert tick(app)["reminded"] == 1 and tick(app)["reminded"] == 0  # once
    sent = reminders(app)
    assert len(sent) == before + 1 and f"${nxt.amount:,.2f}" in sent[-1]

    app.clock.now = at(nxt.due_on)
    assert tick(app)["paid"] == 1 and tick(app)["paid"] == 0
    [paid] = [i for i in installments(app, schedule.id) if i.seq == nxt.seq]
    assert paid.status == "paid" and paid.processor_ref
    # Stripe's own webhook for the installment arrives too: still one payment, one PMS write
    charged = stripe_client(app).v1.payment_intents.retrieve(paid.processor_ref).to_dict()
    assert charged["metadata"]["purpose"] == "plan_installment"
    post_event(app, event("payment_intent.succeeded", charged))
    assert count(app, PaymentRow, PaymentRow.processor_ref == paid.processor_ref) == 1
    assert count(app, OutboxRow, OutboxRow.idempotency_key.endswith(f"|payment|{paid.processor_ref}")) == 1
    detail = app.client.get(f"/api/accounts/{PLANNER.guarantor_id}", headers=API).json()
    [autopay] = [a for a in detail["autopay_plans"] if a["autopay_id"] == schedule.id]
    assert autopay["remaining_installments"] == len(todo) - 1
    assert autopay["schedule"][0]["status"] == "paid"


def test_declined_installment_retried_after_48h_gives_exactly_one_payment(stripe_app: App) -> None:
    app = stripe_app
    who = PERSONAS["statement_yesterday"]
    app.clock.now = at(date(2026, 12, 1))
    customer, _ = customer_with_card(app, "pm_card_chargeCustomerFail")  # 4000000000000341
    plan_id = start_plan(app, who, customer, f"ch_first_{customer}")
    second = installments(app, plan_id)[0]
    assert (second.seq, second.due_on, second.amount) == (2, date(2026, 12, 20), Decimal("100.00"))

    app.clock.now = at(second.due_on)
    assert tick(app)["retry"] == 1
    [declined] = [i for i in installments(app, plan_id) if i.seq == 2]
    assert (declined.status, declined.attempts, declined.last_error) == ("retry", 1, "card_declined")
    assert declined.next_attempt_at == app.clock.now + timedelta(hours=48)
    assert count(app, PaymentRow, PaymentRow.guarantor_id == who.guarantor_id) == 0

    customer_with_card_update(app, customer, "pm_card_visa")  # the patient updates their card
    app.clock.now += timedelta(hours=47)
    assert tick(app)["paid"] == 0
    app.clock.now += timedelta(hours=1)
    assert tick(app)["paid"] == 1
    assert tick(app)["paid"] == 0
    [done] = [i for i in installments(app, plan_id) if i.seq == 2]
    assert done.status == "paid" and done.attempts == 1
    [payment] = rows(app, PaymentRow, PaymentRow.guarantor_id == who.guarantor_id)
    assert payment.processor_ref == done.processor_ref and payment.amount == Decimal("100.00")
    # the declined attempt's and the successful attempt's PaymentIntents are different; one payment
    intents = stripe_client(app).v1.payment_intents.list(params={"limit": 100}).to_dict()["data"]
    ours = [i for i in intents if i.get("customer") == customer]
    assert sorted(i["status"] for i in ours) == ["requires_payment_method", "succeeded"]
    app.drain_outbox()
    posted = [
        p
        for p in app.run(app.runtime.pms.get_payments(who.guarantor_id))
        if p.processor_ref == payment.processor_ref
    ]
    assert len(posted) == 1
    detail = app.client.get(f"/api/accounts/{who.guarantor_id}", headers=API).json()
    [autopay] = [a for a in detail["autopay_plans"] if a["autopay_id"] == plan_id]
    assert autopay["failed_attempts"] == 1 and autopay["paid_installments"] == 2
    assert autopay["next_due"] == "2027-01-20"


def customer_with_card_update(app: App, customer: str, card: str) -> None:
    client = stripe_client(app)
    pm = client.v1.payment_methods.attach(card, params={"customer": customer}).id
    client.v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": pm}})


def test_two_declines_send_a_link_and_give_staff_a_task(stripe_app: App) -> None:
    app = stripe_app
    who = PERSONAS["prompt_payer"]
    app.clock.now = at(date(2026, 12, 1))
    customer, _ = customer_with_card(app, "pm_card_chargeCustomerFail")
    plan_id = start_plan(app, who, customer, f"ch_first_{customer}")
    app.clock.now = at(date(2026, 12, 20))
    assert tick(app)["retry"] == 1
    texts_before = len(app.replies_to(who.phone or ""))
    app.clock.now += timedelta(hours=48)
    assert tick(app)["failed"] == 1
    assert tick(app)["failed"] == 0  # a failed installment is not charged again
    [failed] = [i for i in installments(app, plan_id) if i.seq == 2]
    assert (failed.status, failed.attempts) == ("failed", 2)
    [task] = rows(
        app,
        StaffTaskRow,
        StaffTaskRow.kind == "plan_payment_failed",
        StaffTaskRow.patient_id == who.patient_id,
    )
    assert task.context["link_sent"] is True and task.priority == "high"
    [text] = app.replies_to(who.phone or "")[texts_before:]
    assert "couldn't charge your saved card" in text
    assert "checkout.stripe.com" in text and "$100.00" in text
    assert count(app, PaymentRow, PaymentRow.guarantor_id == who.guarantor_id) == 0


def test_a_replayed_attempt_never_charges_twice(stripe_app: App) -> None:
    """The tick crashed after Stripe charged but before we wrote it down: the next tick sends the same
    idempotency key, Stripe replays the same PaymentIntent, and one payment is recorded."""
    app = stripe_app
    who = PERSONAS["appointment_tomorrow"]
    app.clock.now = at(date(2026, 12, 1))
    customer, _ = customer_with_card(app, "pm_card_visa")
    plan_id = start_plan(app, who, customer, f"ch_first_{customer}")
    charger = plan_charger(app.runtime)
    assert charger.charges is not None
    practice = app.runtime.policy.practice.practice_id
    key = installment_key(
        practice_id=practice, guarantor_id=who.guarantor_id, plan_id=plan_id, installment=2, attempt=1
    )
    meta = {
        "practice_id": practice,
        "guarantor_id": who.guarantor_id,
        "purpose": "plan_installment",
        "plan_id": plan_id,
        "installment": "2",
        "attempt": "1",
    }
    lost = app.run(
        charger.charges.charge_off_session(
            customer=customer,
            payment_method=None,
            amount=Decimal("100.00"),
            currency="usd",
            metadata=meta,
            idempotency_key=key,
        )
    )
    assert lost.status == "succeeded"
    app.clock.now = at(date(2026, 12, 20))
    assert tick(app)["paid"] == 1
    [paid] = [i for i in installments(app, plan_id) if i.seq == 2]
    assert paid.processor_ref == lost.payment_intent
    intents = stripe_client(app).v1.payment_intents.list(params={"limit": 100}).to_dict()["data"]
    assert len([i for i in intents if i.get("customer") == customer]) == 1
    assert count(app, PaymentRow, PaymentRow.guarantor_id == who.guarantor_id) == 1


class TimesOutAfterWriting:
    """The real PMS adapter, except that the first payment write lands and then times out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.timed_out = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def record_payment(self, req: PaymentWrite) -> WriteResult:
        result = await self.inner.record_payment(req)
        if not self.timed_out:
            self.timed_out += 1
            raise TimeoutError("the PMS answered too late")
        return result  # type: ignore[no-any-return]


def test_pms_write_that_times_out_after_succeeding_posts_one_payment(stripe_app: App) -> None:
    app = stripe_app
    who = PERSONAS["spanish_speaker"]
    app.clock.now = at(date(2026, 12, 1))
    customer, _ = customer_with_card(app, "pm_card_visa")
    plan_id = start_plan(app, who, customer, f"ch_first_{customer}")
    app.clock.now = at(date(2026, 12, 20))
    assert tick(app)["paid"] == 1
    [paid] = [i for i in installments(app, plan_id) if i.seq == 2]
    flaky = TimesOutAfterWriting(app.runtime.pms)
    drainer = OutboxDrainer(app.runtime.sessions, flaky, app.clock)  # type: ignore[arg-type]
    key = f"|payment|{paid.processor_ref}"
    for _ in range(4):
        app.run(drainer.drain_once())
        app.clock.now += timedelta(minutes=10)
    assert flaky.timed_out == 1
    [row] = rows(app, OutboxRow, OutboxRow.idempotency_key.endswith(key))
    assert row.state == "CONFIRMED"
    posted = [
        p
        for p in app.run(app.runtime.pms.get_payments(who.guarantor_id))
        if p.processor_ref == paid.processor_ref
    ]
    assert len(posted) == 1


def test_installment_dates_and_amounts() -> None:
    from agent.plan_charges import due_date, remaining_installments

    assert due_date(date(2027, 1, 31), "monthly", 1) == date(2027, 2, 28)  # month end clamps
    assert due_date(date(2027, 1, 31), "monthly", 2) == date(2027, 3, 31)
    assert due_date(date(2026, 12, 15), "every_other_week", 2) == date(2027, 1, 12)
    assert due_date(date(2026, 12, 15), "quarterly", 1) == date(2027, 3, 15)
    with_down = {**TERMS, "down_payment": "50.00", "last_installment_amount": "80.00"}
    assert remaining_installments(with_down) == [
        (1, date(2026, 11, 20), Decimal("100.00")),
        (2, date(2026, 12, 20), Decimal("100.00")),
        (3, date(2027, 1, 20), Decimal("80.00")),
    ]
    assert [seq for seq, _, _ in remaining_installments(TERMS)] == [
        2,
        3,
    ]  # installment 1 was the first payment

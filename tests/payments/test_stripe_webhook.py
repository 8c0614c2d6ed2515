"""POST /stripe/webhook on the real app: signatures, idempotency, out-of-order events, refunds, and
the whole path from a patient's PAY text to the payment in the local PMS.

Stripe is loopback: Checkout Sessions from tests/fakes/stripe_checkout.py, PaymentIntents, charges
and refunds from localstripe, all through the real stripe SDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from agent.store.models import (
    AuditEventRow,
    OutboxRow,
    PaymentLinkRow,
    PaymentRow,
    StaffTaskRow,
    StripeEventRow,
)
from pms.demo.personas import PERSONAS
from tests.fakes.stripe_checkout import FakeCheckout, body, event, sign
from tests.fakes.twilio_rest import FakeTwilio
from tests.integration.harness import App, make_settings, open_app, prepare_database, run_sync
from tests.payments.calls import count, rows

SECRET = "whsec_test"
API_KEY = "sk_test_balanceline"
PAYER = PERSONAS["prompt_payer"]
URL = re.compile(r"https://checkout\.stripe\.com/c/pay/(cs_test_[0-9a-f]+)")


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(params=["embedded", "services"])
def app(
    request: pytest.FixtureRequest, tmp_path: Any, fake_twilio: FakeTwilio, checkout: FakeCheckout
) -> Iterator[App]:
    if request.param == "embedded":
        db_url, redis_url = f"sqlite+aiosqlite:///{tmp_path}/bl.db", None
    else:
        db_url = request.getfixturevalue("fresh_pg_url")
        redis_url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/2"
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    run_sync(prepare_database(db_url))
    fake_twilio.reset()
    settings = make_settings(
        db_url,
        redis_url,
        fake_twilio,
        STRIPE_API_KEY=API_KEY,
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE=checkout.base_url,
    )
    application = open_app(settings, fake_twilio)
    checkout.clock = application.clock
    try:
        yield application
    finally:
        application.client.__exit__(None, None, None)


# ---- helpers -------------------------------------------------------------------------------------


def post_event(app: App, evt: dict[str, Any], *, t: int | None = None, secret: str = SECRET) -> Any:
    payload = body(evt)
    stamp = int(app.clock.now.timestamp()) if t is None else t
    return app.client.post("/stripe/webhook", content=payload, headers=sign(payload, secret, stamp))


def verify_and_pay(app: App) -> str:
    """The payer verifies by SMS and texts PAY; returns the Checkout Session id from the reply."""
    app.text(PAYER.phone, "what do I owe?")
    app.text(PAYER.phone, f"{PAYER.name} {PAYER.date_of_birth.strftime('%m/%d/%Y')}")
    app.text(PAYER.phone, "PAY")
    reply = app.replies_to(PAYER.phone)[-1]
    found = URL.search(reply)
    assert found, reply
    assert "240.00" in reply
    return found.group(1)


def localstripe(checkout: FakeCheckout) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": checkout.localstripe_base})


# ---- authentication ------------------------------------------------------------------------------


def test_unconfigured_is_503(tmp_path: Any, fake_twilio: FakeTwilio) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    run_sync(prepare_database(url))
    application = open_app(make_settings(url, None, fake_twilio), fake_twilio)
    try:
        evt = event("checkout.session.completed", {"id": "cs_1"})
        assert post_event(application, evt).status_code == 503
        # no Stripe: the runtime keeps the portal link
        assert type(application.runtime.payments).__name__ == "PortalLinks"
    finally:
        application.client.__exit__(None, None, None)


def test_documented_vector_through_the_route(app: App) -> None:
    from datetime import UTC, datetime

    payload = '{"id":"evt_1","object":"event"}'
    header = {
        "Stripe-Signature": "t=1700000000,v1=4c15fb2a43f93ef61eaa3e0893866d57cad9cad4223242cfb96f362480cb4021"
    }
    app.clock.now = datetime.fromtimestamp(1700000000 + 300, UTC)
    r = app.client.post("/stripe/webhook", content=payload, headers=header)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "ignored"
    app.clock.now = datetime.fromtimestamp(1700000000 + 301, UTC)
    payload2 = payload  # same event again, now stale: refused before anything else
    assert app.client.post("/stripe/webhook", content=payload2, headers=header).status_code == 400


def test_bad_stale_future_or_missing_signatures_are_400_and_change_nothing(app: App) -> None:
    evt = event("checkout.session.expired", {"id": "cs_x", "metadata": {}})
    now = int(app.clock.now.timestamp())
    payload = body(evt)
    assert app.client.post("/stripe/webhook", content=payload).status_code == 400
    assert post_event(app, evt, secret="whsec_wrong").status_code == 400
    assert post_event(app, evt, t=now - 301).status_code == 400
    assert post_event(app, evt, t=now + 301).status_code == 400
    tampered = payload.replace("cs_x", "cs_y")
    headers = sign(payload, SECRET, now)
    assert app.client.post("/stripe/webhook", content=tampered, headers=headers).status_code == 400
    assert count(app, StripeEventRow) == 0
    # a signed body that is not JSON is refused after the signature check
    junk = "not json"
    assert (
        app.client.post("/stripe/webhook", content=junk, headers=sign(junk, SECRET, now)).status_code == 400
    )


# ---- payments ------------------------------------------------------------------------------------


def test_pay_text_to_pms_payment_end_to_end(app: App, checkout: FakeCheckout) -> None:
    sid = verify_and_pay(app)
    link = rows(app, PaymentLinkRow, PaymentLinkRow.id == sid)
    assert link and link[0].status == "open" and str(link[0].amount) == "240.00"
    session = checkout.session(sid)
    assert session["amount_total"] == 24000
    assert session["metadata"]["guarantor_id"] == PAYER.guarantor_id
    assert PAYER.name.split()[0] not in json.dumps(session)  # internal ids only

    pi = checkout.pay(sid, API_KEY)
    r = post_event(app, event("checkout.session.completed", checkout.session(sid)))
    assert r.status_code == 200 and r.json()["outcome"] == "payment_recorded"
    app.drain_outbox()
    app.drain_outbox()

    payments = [p for p in app.run(app.runtime.pms.get_payments(PAYER.guarantor_id)) if p.processor_ref == pi]
    assert len(payments) == 1
    assert str(payments[0].amount) == "240.00" and payments[0].method == "card"
    assert rows(app, PaymentLinkRow, PaymentLinkRow.id == sid)[0].status == "paid"
    outbox = rows(app, OutboxRow, OutboxRow.kind == "payment")
    assert [o.idempotency_key for o in outbox] == [f"maple-grove|payment|{pi}"]
    assert outbox[0].state == "CONFIRMED"


def test_duplicates_and_out_of_order_events_record_one_payment(app: App, checkout: FakeCheckout) -> None:
    sid = verify_and_pay(app)
    pi = checkout.pay(sid, API_KEY)
    intent = localstripe(checkout).v1.payment_intents.retrieve(pi).to_dict()
    completed = event("checkout.session.completed", checkout.session(sid))
    succeeded = event("payment_intent.succeeded", intent)
    expired = event("checkout.session.expired", {**checkout.session(sid), "status": "expired"})
    # the PaymentIntent event first, then the session, each delivered twice, then a late expiry
    outcomes = [post_event(app, e).json()["outcome"] for e in (succeeded, completed, succeeded, completed)]
    assert outcomes == ["payment_recorded", "payment_recorded", "duplicate", "duplicate"]
    assert post_event(app, expired).json()["outcome"] == "link_expired"
    # a redelivery of the same session under a new event id (Stripe resends) changes nothing either
    again = event("checkout.session.completed", checkout.session(sid))
    assert post_event(app, again).status_code == 200
    app.drain_outbox()

    assert count(app, PaymentRow) == 1
    assert count(app, OutboxRow, OutboxRow.kind == "payment") == 1
    assert count(app, AuditEventRow, AuditEventRow.kind == "payment.recorded") == 1
    assert rows(app, PaymentLinkRow, PaymentLinkRow.id == sid)[0].status == "paid"  # expiry came late
    posted = [p for p in app.run(app.runtime.pms.get_payments(PAYER.guarantor_id)) if p.processor_ref == pi]
    assert len(posted) == 1
    assert count(app, StripeEventRow, StripeEventRow.status == "done") == 4


def test_expired_link_is_marked_and_unpaid_completion_is_not_a_payment(
    app: App, checkout: FakeCheckout
) -> None:
    sid = verify_and_pay(app)
    unpaid = event("checkout.session.completed", {**checkout.session(sid), "payment_status": "unpaid"})
    assert post_event(app, unpaid).json()["outcome"] == "pending"
    assert post_event(app, event("checkout.session.expired", checkout.expire_now(sid))).status_code == 200
    assert rows(app, PaymentLinkRow, PaymentLinkRow.id == sid)[0].status == "expired"
    assert count(app, PaymentRow) == 0
    assert count(app, OutboxRow, OutboxRow.kind == "payment") == 0


def test_failed_payment_is_audited_only(app: App, checkout: FakeCheckout) -> None:
    sid = verify_and_pay(app)
    meta = checkout.session(sid)["metadata"]
    failed = {
        "id": "pi_failed1",
        "object": "payment_intent",
        "amount": 24000,
        "currency": "usd",
        "status": "requires_payment_method",
        "metadata": meta,
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
    }
    assert (
        post_event(app, event("payment_intent.payment_failed", failed)).json()["outcome"] == "payment_failed"
    )
    audits = rows(app, AuditEventRow, AuditEventRow.kind == "payment.failed")
    assert len(audits) == 1 and audits[0].detail["code"] == "card_declined"
    assert count(app, PaymentRow) == 0


def test_refund_is_recorded_with_a_staff_task_and_never_posted(app: App, checkout: FakeCheckout) -> None:
    sid = verify_and_pay(app)
    pi = checkout.pay(sid, API_KEY)
    client = localstripe(checkout)
    charge_id = client.v1.payment_intents.retrieve(pi).to_dict()["latest_charge"]["id"]
    client.v1.refunds.create(params={"payment_intent": pi, "amount": 10000})
    charge = client.v1.charges.retrieve(charge_id).to_dict()
    assert charge["amount_refunded"] == 10000
    refund_evt_first = event("charge.refunded", charge)
    # the refund arrives before the payment event (out of order), twice
    assert post_event(app, refund_evt_first).json()["outcome"] == "refund_recorded"
    assert post_event(app, refund_evt_first).json()["outcome"] == "duplicate"
    assert post_event(app, event("checkout.session.completed", checkout.session(sid))).status_code == 200
    app.drain_outbox()

    payments = rows(app, PaymentRow)
    assert len(payments) == 1
    assert payments[0].status == "partially_refunded" and str(payments[0].refunded_amount) == "100.00"
    assert payments[0].guarantor_id == PAYER.guarantor_id
    tasks = rows(app, StaffTaskRow, StaffTaskRow.kind == "refund_review")
    assert len(tasks) == 1 and pi in tasks[0].summary
    assert count(app, AuditEventRow, AuditEventRow.kind == "payment.refunded") == 1
    # the payment was posted once; the refund is for staff, never posted automatically
    posted = [p for p in app.run(app.runtime.pms.get_payments(PAYER.guarantor_id)) if p.processor_ref == pi]
    assert len(posted) == 1
    assert count(app, OutboxRow, OutboxRow.kind == "payment") == 1


def test_concurrent_deliveries_record_one_payment(app: App, checkout: FakeCheckout) -> None:
    import asyncio

    from agent.routes.stripe_webhook import event_handler
    from agent.stripe_events import EventInProgress

    sid = verify_and_pay(app)
    pi = checkout.pay(sid, API_KEY)
    intent = localstripe(checkout).v1.payment_intents.retrieve(pi).to_dict()
    completed = event("checkout.session.completed", checkout.session(sid))
    succeeded = event("payment_intent.succeeded", intent)

    async def deliver_all() -> list[Any]:
        handlers = [event_handler(app.runtime) for _ in range(4)]
        evts = [completed, completed, succeeded, succeeded]
        return await asyncio.gather(
            *(h.handle(e) for h, e in zip(handlers, evts, strict=True)), return_exceptions=True
        )

    results = app.run(deliver_all())
    for r in results:  # a delivery racing one in flight is refused (409, Stripe retries) or a duplicate
        assert r in ("payment_recorded", "duplicate") or isinstance(r, EventInProgress), r
    # Stripe's retries of everything afterwards are duplicates
    assert post_event(app, completed).json()["outcome"] == "duplicate"
    assert post_event(app, succeeded).json()["outcome"] == "duplicate"
    assert count(app, PaymentRow) == 1
    assert count(app, OutboxRow, OutboxRow.kind == "payment") == 1
    assert count(app, AuditEventRow, AuditEventRow.kind == "payment.recorded") == 1

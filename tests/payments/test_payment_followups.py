"""After a confirmed payment: promises kept / partly kept / broken, SMS receipts (never to an opted-out
number), and the Stripe events Twilio's <Pay> connector causes (no second payment)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from agent.payment_promises import PostedPayment, match_promises
from agent.payments import plan_charger
from agent.store.models import AuditEventRow, PaymentRow
from pms.demo.personas import PERSONAS
from pms.types import Promise
from policies.types import SuppressionScope
from tests.fakes.stripe_checkout import body, event, sign
from tests.integration.harness import App
from tests.payments.calls import count, pay_by_keypad, start_call, tool
from tests.payments.conftest import SECRET

API = {"Authorization": "Bearer test-token"}
D = date(2026, 11, 10)


def promise(pid: str, amount: str, due: date, made: date = date(2026, 11, 1)) -> Promise:
    return Promise(
        promise_id=pid,
        guarantor_id="g",
        amount=Decimal(amount),
        due_on=due,
        created_at=datetime(made.year, made.month, made.day, tzinfo=UTC),
    )


def paid(ref: str, amount: str, on: date) -> PostedPayment:
    return PostedPayment(ref, Decimal(amount), on)


def test_match_promises_rules() -> None:
    promises = [promise("a", "100.00", D), promise("b", "50.00", D + timedelta(days=10))]
    # paid in full within the grace days → kept as soon as it is paid; the later one still open
    assert match_promises(promises, [paid("p1", "100.00", D + timedelta(days=3))], grace_days=3, today=D) == {
        "a": "kept"
    }
    # one day past the grace window does not count; once the window closed with nothing → broken
    late = [paid("p1", "100.00", D + timedelta(days=4))]
    assert match_promises(promises[:1], late, grace_days=3, today=D + timedelta(days=4)) == {"a": "broken"}
    # part paid and the window closed → partly kept; still inside the window → nothing yet
    part = [paid("p1", "60.00", D)]
    assert match_promises(promises[:1], part, grace_days=3, today=D + timedelta(days=2)) == {}
    assert match_promises(promises[:1], part, grace_days=3, today=D + timedelta(days=4)) == {
        "a": "partly_kept"
    }
    # a payment made before the promise was made does not keep it; each payment counts once
    early = [paid("p0", "100.00", date(2026, 10, 31))]
    assert match_promises(promises[:1], early, grace_days=3, today=D + timedelta(days=9)) == {"a": "broken"}
    both = match_promises(promises, [paid("p1", "120.00", D)], grace_days=0, today=D + timedelta(days=30))
    assert both == {"a": "kept", "b": "partly_kept"}


def test_promises_are_settled_by_payments_and_the_sweep(stripe_app: App) -> None:
    app = stripe_app
    app.clock.now = datetime(2026, 11, 2, 16, tzinfo=UTC)
    keeper = start_call(app, PERSONAS["landline_only"])
    assert tool(app, keeper, "log_promise", amount="100", date="2026-11-06").ok
    breaker = start_call(app, PERSONAS["on_time_plan"])
    assert tool(app, breaker, "log_promise", amount="50", date="2026-11-06").ok
    partial = start_call(app, PERSONAS["disputer_denied_claim"])
    assert tool(app, partial, "log_promise", amount="200", date="2026-11-06").ok

    pay_by_keypad(app, keeper, "100", "ch_keeps_promise")
    pay_by_keypad(app, partial, "100", "ch_half_promise")

    def status(state: Any) -> str:
        assert state.guarantor_id
        [p] = app.run(app.runtime.records.list_promises(state.guarantor_id))
        return str(p.status)

    assert (status(keeper), status(breaker), status(partial)) == ("kept", "open", "open")
    app.clock.now = datetime(2026, 11, 9, 16, tzinfo=UTC)  # due 11-06 + 3 grace days: not yet past
    app.run(plan_charger(app.runtime).tick())
    assert status(breaker) == "open"
    app.clock.now = datetime(2026, 11, 10, 16, tzinfo=UTC)
    assert app.run(plan_charger(app.runtime).tick())["promises"] >= 2
    assert (status(keeper), status(breaker), status(partial)) == ("kept", "broken", "partly_kept")


def test_receipts_only_to_consented_not_opted_out_numbers(stripe_app: App) -> None:
    app = stripe_app
    app.clock.now = datetime(2026, 11, 2, 16, tzinfo=UTC)
    texted = PERSONAS["appointment_tomorrow"]  # $195.00, consented mobile
    before = len(app.replies_to(texted.phone or ""))
    pay_by_keypad(app, start_call(app, texted), "full", "ch_receipt_ok")
    receipt = app.replies_to(texted.phone or "")[before:]
    assert receipt == [
        f"{app.runtime.policy.practice.name}: we received your payment of $195.00. Thank you! Reply STOP to opt out."
    ]
    assert texted.name.split()[0] not in receipt[0]

    # no consent on file (unknown) or PMS says no ('replied STOP 20 days ago'): no receipt, audited
    unknown = PERSONAS["small_balance"]
    before = len(app.replies_to(unknown.phone or ""))
    pay_by_keypad(app, start_call(app, unknown), "full", "ch_receipt_unknown")
    assert app.replies_to(unknown.phone or "")[before:] == []
    opted = PERSONAS["sms_opted_out"]
    before = len(app.replies_to(opted.phone or ""))
    pay_by_keypad(app, start_call(app, opted), "50", "ch_receipt_optout")
    assert app.replies_to(opted.phone or "")[before:] == []
    assert (
        count(
            app,
            AuditEventRow,
            AuditEventRow.kind == "payment.receipt_skipped",
            AuditEventRow.patient_id == opted.patient_id,
        )
        == 1
    )

    # opted out in our own ledger (STOP by text) although the PMS still says yes: the guard blocks it
    stopped = PERSONAS["shared_family_phone"]
    state = start_call(app, stopped)
    app.run(
        app.runtime.records.add_suppression(
            patient_id=stopped.patient_id,
            value=stopped.phone,
            scope=SuppressionScope.SMS,
            reason="stop",
            source="sms",
        )
    )
    before = len(app.replies_to(stopped.phone or ""))
    pay_by_keypad(app, state, "50", "ch_receipt_stopped")
    assert app.replies_to(stopped.phone or "")[before:] == []
    assert count(app, PaymentRow, PaymentRow.processor_ref == "ch_receipt_stopped") == 1


def test_connector_charge_events_from_stripe_do_not_double_count(stripe_app: App) -> None:
    """Twilio's Stripe connector makes the charge, so Stripe also sends its events — without our
    metadata. They are audited as unmatched; the <Pay> action already recorded the one payment."""
    app = stripe_app
    who = PERSONAS["statement_yesterday"]
    pay_by_keypad(app, start_call(app, who), "100", "ch_connector_1")
    charge = {
        "id": "ch_connector_1",
        "object": "charge",
        "amount": 10000,
        "currency": "usd",
        "payment_intent": "pi_connector_1",
        "metadata": {},
    }
    intent = {
        "id": "pi_connector_1",
        "object": "payment_intent",
        "amount": 10000,
        "amount_received": 10000,
        "currency": "usd",
        "metadata": {},
    }
    for evt in (event("payment_intent.succeeded", intent), event("charge.succeeded", charge)):
        payload = body(evt)
        stamp = int(app.clock.now.timestamp())
        r = app.client.post("/stripe/webhook", content=payload, headers=sign(payload, SECRET, stamp))
        assert r.status_code == 200 and r.json()["outcome"] in ("unmatched", "ignored")
    assert count(app, PaymentRow, PaymentRow.guarantor_id == who.guarantor_id) == 1


def test_webhook_accepts_a_rotated_secret_signature_among_several(stripe_app: App) -> None:
    """During secret rotation Stripe sends several v1 signatures; one valid one is enough."""
    app = stripe_app
    evt = event("checkout.session.expired", {"id": "cs_rotation", "metadata": {}})
    payload = body(evt)
    stamp = int(app.clock.now.timestamp())
    good = sign(payload, SECRET, stamp)["Stripe-Signature"]
    old = sign(payload, "whsec_old", stamp)["Stripe-Signature"].split(",v1=")[1]
    headers = {"Stripe-Signature": f"{good},v1={old}", "Content-Type": "application/json"}
    assert app.client.post("/stripe/webhook", content=payload, headers=headers).status_code == 200
    only_old = {"Stripe-Signature": f"t={stamp},v1={old}", "Content-Type": "application/json"}
    evt2 = body(event("checkout.session.expired", {"id": "cs_rotation2", "metadata": {}}))
    assert app.client.post("/stripe/webhook", content=evt2, headers=only_old).status_code == 400


def test_a_card_number_texted_in_is_never_stored_or_logged(stripe_app: App, capfd: Any) -> None:
    """SMS/tool level (the voice session has its own scan): a patient texts their card number; the
    reply redirects them to a secure link and no table or log line holds a Luhn-valid card number."""
    from sqlalchemy import text

    from agent.store.db import all_metadata
    from policies.redaction import contains_card_number

    app = stripe_app
    who = PERSONAS["payment_just_posted"]
    assert who.phone
    app.text(who.phone, "can I just pay with my card 4242 4242 4242 4242 exp 12/30 cvv 123")
    app.text(who.phone, "4000 0566 5566 5556")
    reply = app.replies_to(who.phone)[-1].lower()
    assert "card" in reply and ("link" in reply or "keypad" in reply or "don't" in reply or "do not" in reply)

    async def dump() -> list[str]:
        out: list[str] = []
        async with app.runtime.db.connect() as conn:
            for metadata in all_metadata():
                for table in metadata.sorted_tables:
                    for row in (await conn.execute(text(f'SELECT * FROM "{table.name}"'))).all():
                        out.extend(str(v) for v in row)
        return out

    # Our own ids (obx_…, ae_…) and processor ids (ch_…) are random letters and digits: now and then one
    # holds a Luhn-valid run of 13+ digits. They are not what is searched for, wherever they appear.
    opaque_id = re.compile(r"\b[a-z]{2,4}_[0-9A-Za-z]+\b")

    def found(value: str) -> bool:
        return contains_card_number(opaque_id.sub("", value))

    stored = app.run(dump())
    assert stored and not [v for v in stored if found(v)]
    assert found("note: card 4242 4242 4242 4242, outbox obx_1") and not found("obx_5374289672374")
    logged = capfd.readouterr()
    assert not found(logged.out) and not found(logged.err)


def test_refund_of_a_keypad_payment_finds_it_by_charge_id(stripe_app: App) -> None:
    from agent.store.models import StaffTaskRow
    from tests.payments.calls import rows

    app = stripe_app
    who = PERSONAS["hawaii"]
    pay_by_keypad(app, start_call(app, who), "50", "ch_keypad_refund")
    refund = {
        "id": "ch_keypad_refund",
        "object": "charge",
        "amount": 5000,
        "amount_refunded": 5000,
        "currency": "usd",
        "payment_intent": "pi_connector_refund",
        "metadata": {},
    }
    payload = body(event("charge.refunded", refund))
    stamp = int(app.clock.now.timestamp())
    r = app.client.post("/stripe/webhook", content=payload, headers=sign(payload, SECRET, stamp))
    assert r.status_code == 200 and r.json()["outcome"] == "refund_recorded"
    [payment] = rows(app, PaymentRow, PaymentRow.guarantor_id == who.guarantor_id)
    assert (payment.processor_ref, payment.status) == ("ch_keypad_refund", "refunded")
    assert count(app, PaymentRow, PaymentRow.processor_ref == "pi_connector_refund") == 0
    [task] = rows(
        app, StaffTaskRow, StaffTaskRow.kind == "refund_review", StaffTaskRow.patient_id == who.guarantor_id
    )
    assert "ch_keypad_refund" in str(task.context)

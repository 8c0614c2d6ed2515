"""log_promise and send_payment_link: amounts bounded by the ledger and policy; links to verified numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.tools.conftest import JOSE, SMALL, StripeStyleLinks, World
from tools.context import SendResult


@pytest.mark.parametrize(
    ("amount", "when", "refused"),
    [
        (10, "friday", "below_minimum"),  # policy min_partial_payment is 25
        ("24.99", "friday", "below_minimum"),
        ("550.01", "friday", "above_balance"),  # balance is 550.00
        (100000, "friday", "above_balance"),
        (100, "2026-05-01", "date_in_past"),
        (100, "2026-07-30", "too_far_out"),  # promise_max_days_out is 30
        (100, "in 5 weeks", "too_far_out"),
        (100, "when I can", "unclear_date"),
    ],
)
async def test_promise_bounds(world: World, amount: Any, when: str, refused: str) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "log_promise", {"amount": amount, "date": when})
    assert result.refused == refused, result.message
    assert await world.records.list_promises(JOSE.patient_id) == []
    assert await world.outbox(state.conversation_id) == []


async def test_promise_is_recorded_and_written_back(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(
        state, "log_promise", {"amount": "a hundred and twenty five", "date": "next friday"}
    )
    assert result.ok, result.message
    assert result.data["amount"] == "125.00" and result.data["due_on"] == "2026-05-22"
    assert "$125.00" in result.message and "Friday, May 22, 2026" in result.message
    (promise,) = await world.records.list_promises(JOSE.patient_id)
    assert promise.amount == Decimal("125.00") and promise.due_on == date(2026, 5, 22)
    rows = {r.kind: r for r in await world.outbox(state.conversation_id)}
    assert set(rows) == {"promise", "comm_log"}
    assert rows["promise"].payload["amount"] == "125.00" and rows["promise"].payload["due_on"] == "2026-05-22"
    assert state.outcome == "promise"
    other = await box.invoke(state, "log_promise", {"amount": 100, "date": "the 25th"})
    assert other.refused == "already_promised"


async def test_the_whole_balance_is_a_valid_promise_even_below_the_minimum(world: World) -> None:
    box = world.box()
    state = await world.verified(box, SMALL)  # owes 40.00
    assert (
        await box.invoke(state, "log_promise", {"amount": 20, "date": "tomorrow"})
    ).refused == "below_minimum"
    assert (await box.invoke(state, "log_promise", {"amount": 40, "date": "tomorrow"})).ok


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("full", "550.00"), ("100", "100.00"), (25, "25.00"), ("$550", "550.00"), ("fifty bucks", "50.00")],
)
async def test_link_amounts_are_computed_server_side(world: World, amount: Any, expected: str) -> None:
    links = StripeStyleLinks()
    box = world.box(payments=links)
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "send_payment_link", {"amount": amount})
    assert result.ok, result.message
    assert [c["amount"] for c in links.calls] == [Decimal(expected)]
    assert result.data["amount"] == expected and result.data["sent"] is True
    (sms,) = world.messenger.sent
    assert sms["to"] == JOSE.phone and sms["patient_id"] == JOSE.patient_id
    assert links.calls[0]["guarantor_id"] == JOSE.patient_id
    assert "https://checkout.example/c/" in sms["body"] and f"${Decimal(expected):,.2f}" in sms["body"]
    assert "Reply STOP" in sms["body"] and world.policy.practice.name in sms["body"]
    assert "ending in 0111" in result.message and state.outcome == "link_sent"


@pytest.mark.parametrize(
    ("amount", "refused"),
    [("550.01", "above_balance"), (10, "below_minimum"), ("installment", "no_plan")],
)
async def test_link_amounts_out_of_bounds_are_refused(world: World, amount: Any, refused: str) -> None:
    links = StripeStyleLinks()
    box = world.box(payments=links)
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "send_payment_link", {"amount": amount})
    assert result.refused == refused
    assert links.calls == [] and world.messenger.sent == []


async def test_installment_link_uses_the_accepted_plan(world: World) -> None:
    links = StripeStyleLinks()
    box = world.box(payments=links)
    state = await world.verified(box, JOSE)
    offer = await box.invoke(state, "offer_plan", {})
    option = offer.data["options"][0]
    await box.invoke(state, "accept_plan", {"plan_key": option["plan_key"]})
    result = await box.invoke(state, "send_payment_link", {"amount": "installment"})
    assert result.ok and result.data["amount"] == option["installment_amount"]
    assert [c["attempt"] for c in links.calls] == [1, 2]  # each link its own provider attempt


async def test_portal_fallback_is_described_truthfully(world: World) -> None:
    box = world.box()  # PortalLinks from the demo policy
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "send_payment_link", {"amount": 100})
    assert result.ok and result.data["provider"] == "portal"
    (sms,) = world.messenger.sent
    assert world.policy.practice.portal_url in sms["body"] and "account details" in sms["body"]
    assert "$100.00" in sms["body"]


async def test_on_sms_the_link_goes_in_the_reply(world: World) -> None:
    box = world.box(voice=False)
    state = await world.verified(box, JOSE, channel="sms")
    result = await box.invoke(state, "send_payment_link", {})
    assert result.ok and result.data["delivery"] == "reply"
    assert result.data["payment_url"] == world.policy.practice.portal_url
    assert "secure portal" in result.message and "account details" in result.message
    assert world.messenger.sent == []


async def test_no_text_without_a_consented_mobile(world: World) -> None:
    links = StripeStyleLinks()
    box = world.box(payments=links)
    state = await world.verified(box, SMALL)  # landline, no SMS consent
    result = await box.invoke(state, "send_payment_link", {})
    assert result.refused == "not_sent" and world.messenger.sent == []
    assert "text" in result.message and state.outcome != "link_sent"


async def test_failed_send_is_not_claimed(world: World) -> None:
    world.messenger.result = SendResult(sent=False, reason="suppressed")
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "send_payment_link", {})
    assert result.refused == "not_sent" and "wasn't able" in result.message


async def test_no_portal_configured(world: World) -> None:
    practice = world.policy.practice.model_copy(update={"portal_url": None})
    policy = world.policy.model_copy(update={"practice": practice})
    box = world.box(policy=policy)
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "send_payment_link", {})
    assert result.refused == "payments_unavailable" and world.messenger.sent == []

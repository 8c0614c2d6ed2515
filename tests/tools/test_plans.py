"""offer_plan / accept_plan: terms from policy only, offered keys only, staff approval for large balances."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agent.store.models import PlanOfferRow
from policies import plans
from tests.tools.conftest import AS_OF, BIG, JOSE, SMALL, World


async def test_offer_comes_from_policy_over_the_pms_balance(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "offer_plan", {})
    assert result.ok
    expected = plans.options(Decimal("550.00"), world.policy, AS_OF)
    assert [o["plan_key"] for o in result.data["options"]] == [t.plan_key for t in expected]
    for o, t in zip(result.data["options"], expected, strict=True):
        assert Decimal(o["installment_amount"]) == t.installment_amount and Decimal(o["total"]) == Decimal(
            "550"
        )
    assert [p["plan_key"] for p in state.offered_plans] == [t.plan_key for t in expected]
    assert state.offer_id == result.data["offer_id"]
    async with world.records._sessions() as s:
        row = await s.get(PlanOfferRow, state.offer_id)
    assert row is not None and row.guarantor_id == JOSE.patient_id and len(row.options) == len(expected)
    # asking again with the same terms reuses the recorded offer
    again = await box.invoke(state, "offer_plan", {})
    assert again.data["offer_id"] == result.data["offer_id"]


async def test_accept_an_offered_plan_writes_it_back_and_links_the_first_payment(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    offer = await box.invoke(state, "offer_plan", {})
    chosen = offer.data["options"][-1]
    result = await box.invoke(state, "accept_plan", {"plan_key": chosen["plan_key"]})
    assert result.ok and result.data["status"] == "accepted"
    assert state.accepted_plan_key == chosen["plan_key"] and state.outcome == "plan"
    writes = [r for r in await world.outbox(state.conversation_id) if r.kind != "comm_log"]
    assert len(writes) == 1
    payload = writes[0].payload
    assert writes[0].kind == "payment_plan"
    assert Decimal(str(payload["installment_amount"])) == Decimal(chosen["installment_amount"])
    assert int(payload["installments"]) == chosen["installments"]
    assert (
        writes[0].idempotency_key == f"{world.policy.practice.practice_id}|{JOSE.patient_id}|"
        f"{state.conversation_id}|plan|{chosen['plan_key']}"
    )
    assert any(r.kind == "comm_log" for r in await world.outbox(state.conversation_id))
    first = Decimal(chosen["down_payment"]) or Decimal(chosen["installment_amount"])
    assert Decimal(result.data["amount"]) == first
    assert world.messenger.sent and world.messenger.sent[0]["to"] == JOSE.phone
    assert "noted that on your account" in result.message  # LocalPms writes plans directly


async def test_only_offered_keys_can_be_accepted(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    before_offer = await box.invoke(state, "accept_plan", {"plan_key": "m3"})
    assert before_offer.refused == "not_offered"
    await box.invoke(state, "offer_plan", {})
    for key in ("m99", "w3", "M3x"):
        assert (await box.invoke(state, "accept_plan", {"plan_key": key})).refused == "not_offered"
    assert await world.outbox(state.conversation_id) == []
    assert state.accepted_plan_key is None and state.outcome != "plan"


async def test_an_offer_in_another_conversation_does_not_count(world: World) -> None:
    box = world.box()
    first = await world.verified(box, JOSE)
    offer = await box.invoke(first, "offer_plan", {})
    second = await world.verified(box, JOSE)
    key = offer.data["options"][0]["plan_key"]
    assert (await box.invoke(second, "accept_plan", {"plan_key": key})).refused == "not_offered"


async def test_patient_proposed_monthly_amount(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    ok = await box.invoke(state, "offer_plan", {"monthly": "$200"})
    assert ok.ok and len(ok.data["options"]) == 1
    option = ok.data["options"][0]
    assert Decimal(option["installment_amount"]) == Decimal("200.00")
    assert "requested_monthly" not in ok.data
    low = await box.invoke(state, "offer_plan", {"monthly": "ten dollars"})
    assert low.ok
    minimum = Decimal(low.data["options"][0]["installment_amount"])
    assert minimum >= world.policy.plans.min_monthly and minimum > Decimal("10")
    assert "can't go as low as $10.00" in low.message and f"${minimum:,.2f}" in low.message
    accepted = await box.invoke(state, "accept_plan", {"plan_key": low.data["options"][0]["plan_key"]})
    assert accepted.ok and accepted.data["plan"]["installment_amount"] == str(minimum)


async def test_large_balance_needs_staff_approval(world: World) -> None:
    box = world.box()
    state = await world.verified(box, BIG)
    offer = await box.invoke(state, "offer_plan", {})
    assert offer.ok and all(o["needs_staff_approval"] for o in offer.data["options"])
    assert "approve" in offer.message
    key = offer.data["options"][0]["plan_key"]
    result = await box.invoke(state, "accept_plan", {"plan_key": key})
    assert result.ok and result.data["status"] == "pending_approval"
    assert "approval" in result.message and "confirm" in result.message
    assert not any(
        r.kind != "comm_log" for r in await world.outbox(state.conversation_id)
    )  # no plan write yet
    (task,) = await world.records.list_staff_tasks(kind="plan_approval")
    assert task["patient_id"] == BIG.patient_id and task["context"]["plan"]["plan_key"] == key
    assert world.messenger.sent == []  # no payment link before approval
    async with world.records._sessions() as s:
        row = await s.get(PlanOfferRow, state.offer_id)
    assert row is not None and row.status == "pending_approval" and row.accepted_key == key


async def test_small_balance_gets_no_plan(world: World) -> None:
    box = world.box()
    state = await world.verified(box, SMALL)
    result = await box.invoke(state, "offer_plan", {})
    assert result.refused == "no_plan_available" and "$25.00" in result.message
    assert state.offered_plans == []


async def test_one_plan_per_conversation(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    offer = await box.invoke(state, "offer_plan", {})
    keys = [o["plan_key"] for o in offer.data["options"]]
    assert (await box.invoke(state, "accept_plan", {"plan_key": keys[0]})).ok
    assert (await box.invoke(state, "accept_plan", {"plan_key": keys[1]})).refused == "already_accepted"


async def test_plan_that_no_longer_fits_the_balance_is_refused(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    await box.invoke(state, "offer_plan", {})
    key = state.offered_plans[0]["plan_key"]
    state.offered_plans[0]["total"] = "500.00"  # e.g. the balance changed since the offer
    state.offered_plans[0]["first_due"] = date(2026, 6, 1).isoformat()
    result = await box.invoke(state, "accept_plan", {"plan_key": key})
    assert result.refused == "outside_policy" and result.data["problems"]
    assert await world.outbox(state.conversation_id) == []

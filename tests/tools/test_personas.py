"""The demo practice's named personas through the tools: who may be verified, and what may be collected."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pms.demo import PERSONAS, Persona
from tests.tools.conftest import World
from tools.context import CallerState


async def _verify(
    world: World, persona: Persona, candidates: list[str] | None = None
) -> tuple[CallerState, bool]:
    box = world.box()
    found = await world.pms.find_patients_by_phone(persona.phone) if persona.phone else []
    state = world.state(contact=persona.phone, candidates=candidates or [p.patient_id for p in found])
    result = await box.invoke(
        state,
        "verify_identity",
        {"full_name": persona.name, "date_of_birth": persona.date_of_birth.isoformat()},
    )
    return state, result.ok


@pytest.mark.parametrize(
    "key",
    [
        "prompt_payer",
        "plan_candidate",
        "small_balance",
        "on_time_plan",
        "spanish_speaker",
        "large_balance_needs_approval",
        "disputer_denied_claim",
    ],
)
async def test_persona_balance_is_the_persona_balance(world: World, key: str) -> None:
    persona = PERSONAS[key]
    state, ok = await _verify(world, persona)
    assert ok and state.patient_id == persona.patient_id and state.guarantor_id == persona.guarantor_id
    result = await world.box().invoke(state, "lookup_balance", {})
    assert Decimal(result.data["patient_balance"]) == persona.patient_balance


@pytest.mark.parametrize("key", ["deceased", "minor_with_parent_guarantor"])
async def test_persona_that_cannot_be_verified_goes_to_staff(world: World, key: str) -> None:
    state, ok = await _verify(world, PERSONAS[key])
    assert not ok and not state.verified and state.third_party


@pytest.mark.parametrize("key", ["attorney", "agency"])
async def test_no_collection_on_attorney_or_agency_accounts(world: World, key: str) -> None:
    persona = PERSONAS[key]
    state, ok = await _verify(world, persona)
    assert ok
    box = world.box()
    assert (await box.invoke(state, "lookup_balance", {})).ok  # they may hear what the records say
    calls: list[tuple[str, dict[str, Any]]] = [
        ("offer_plan", {}),
        ("log_promise", {"amount": 50, "date": "friday"}),
        ("send_payment_link", {"amount": "full"}),
    ]
    for name, args in calls:
        result = await box.invoke(state, name, args)
        assert result.refused == "staff_required", name
    assert await world.outbox(state.conversation_id) == [] and world.messenger.sent == []


async def test_credit_balance_is_never_dunned(world: World) -> None:
    state, ok = await _verify(world, PERSONAS["credit_balance"])
    assert ok
    box = world.box()
    lookup = await box.invoke(state, "lookup_balance", {})
    assert "credit of $85.00" in lookup.message and "nothing is due" in lookup.message
    assert (await box.invoke(state, "send_payment_link", {})).refused == "no_balance"
    assert (await box.invoke(state, "offer_plan", {})).refused == "no_balance"


async def test_installment_link_for_an_existing_pms_plan(world: World) -> None:
    persona = PERSONAS["on_time_plan"]
    state, ok = await _verify(world, persona)
    assert ok
    plan = next(p for p in await world.pms.get_payment_plans(persona.guarantor_id) if p.status == "active")
    result = await world.box().invoke(state, "send_payment_link", {"amount": "installment"})
    assert result.ok and Decimal(result.data["amount"]) == min(
        plan.installment_amount, persona.patient_balance
    )


async def test_shared_family_phone_verifies_the_right_spouse(world: World) -> None:
    persona = PERSONAS["shared_family_phone"]
    found = await world.pms.find_patients_by_phone(persona.phone or "")
    assert len({p.guarantor_id for p in found}) >= 2  # two accounts behind one number
    state, ok = await _verify(world, persona)
    assert ok and state.patient_id == persona.patient_id and state.guarantor_id == persona.guarantor_id

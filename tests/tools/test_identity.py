"""verify_identity: name AND date of birth, tolerant spelling, no nicknames, lockout, representatives."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tools.conftest import BIG, DECEASED, JOSE, MARIA, SOFIA, World
from tools.base import LOCKED_OUT_MESSAGE
from tools.identity import NO_MATCH_MESSAGE


async def _verify(world: World, state: Any, **args: Any) -> Any:
    return await world.box().invoke(state, "verify_identity", args)


@pytest.mark.parametrize(
    "args",
    [
        {"full_name": "José Núñez-García", "date_of_birth": "03/14/1985"},
        {"full_name": "jose nunez garcia", "date_of_birth": "3-14-85"},
        {"full_name": "JOSE NUNEZGARCIA", "date_of_birth": "1985-03-14"},
        {"full_name": "Núñez-García, José", "date_of_birth": "March 14 1985"},
        {"full_name": "Jose Antonio Nunez-Garcia", "date_of_birth": "14th of March, 1985"},
        {
            "first_name": "jose",
            "last_name": "nuñez garcía",
            "date_of_birth": "march fourteenth nineteen eighty five",
        },
    ],
)
async def test_verifies_with_messy_names_and_dates(world: World, args: dict[str, str]) -> None:
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    result = await _verify(world, state, **args)
    assert result.ok, result.message
    assert state.verified and state.patient_id == JOSE.patient_id and state.guarantor_id == JOSE.patient_id
    assert result.data["first_name"] == "José"
    assert state.verification_attempts == 0


async def test_verifies_an_unknown_number_by_name_and_dob_lookup(world: World) -> None:
    state = world.state(contact="+13125559999")  # calling from a number not on file
    result = await _verify(world, state, full_name="Robert O'Brien", date_of_birth="7/4/70")
    assert result.ok and state.patient_id == BIG.patient_id
    state2 = world.state(contact="+13125559998")
    assert (await _verify(world, state2, full_name="robert obrien", date_of_birth="July 4th, 1970")).ok


async def test_verifies_demo_patients_found_by_phone(world: World) -> None:
    """Real demo people: every adult guarantor with a phone verifies through the candidates list."""
    checked = 0
    page = await world.pms.list_accounts(has_balance=True, limit=15)
    for account in page.items:
        p = account.guarantor
        if (
            not p.phones
            or p.date_of_birth is None
            or p.patient_id.startswith("t-")
            or p.status != "active"
            or "deceased" in p.flags
        ):
            continue
        found = await world.pms.find_patients_by_phone(p.phones[0].value)
        state = world.state(contact=p.phones[0].value, candidates=[x.patient_id for x in found])
        dob = p.date_of_birth.strftime("%B %d %Y")
        result = await _verify(world, state, full_name=f"{p.first_name} {p.last_name}", date_of_birth=dob)
        assert result.ok, (p.patient_id, result.message)
        assert state.patient_id == p.patient_id
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    "args",
    [
        {"full_name": "Joe Nunez-Garcia", "date_of_birth": "03/14/1985"},  # nickname
        {"full_name": "J Nunez-Garcia", "date_of_birth": "03/14/1985"},  # initial only
        {"full_name": "Juan Nunez-Garcia", "date_of_birth": "03/14/1985"},  # another first name
        {"full_name": "Jose Nunez", "date_of_birth": "03/14/1985"},  # half the last name
        {"full_name": "Jose Nunez-Garcia", "date_of_birth": "03/15/1985"},  # wrong day
        {"full_name": "Jose Nunez-Garcia", "date_of_birth": "03/14/1958"},  # wrong year
        {"full_name": "Nobody Atall", "date_of_birth": "01/01/1990"},  # no such person
        {"full_name": "Garcia", "date_of_birth": "03/14/1985"},  # a single name
    ],
)
async def test_mismatches_fail_without_saying_why(world: World, args: dict[str, str]) -> None:
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    result = await _verify(world, state, **args)
    assert not result.ok and result.refused == "not_matched"
    assert result.message == NO_MATCH_MESSAGE  # identical for every kind of mismatch
    assert not state.verified and state.patient_id is None and state.verification_attempts == 1


async def test_lockout_after_max_attempts(world: World) -> None:
    limit = world.policy.verification.max_attempts
    box = world.box()
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    for i in range(limit):
        result = await box.invoke(
            state, "verify_identity", {"full_name": "Joe Nunez", "date_of_birth": "1/1/80"}
        )
        assert result.refused == ("locked_out" if i == limit - 1 else "not_matched")
    assert state.locked_out and result.message == LOCKED_OUT_MESSAGE
    assert "call you back" in result.message or "call back" in result.message
    # even the right details are refused now, and the tool is no longer offered
    right = await box.invoke(
        state, "verify_identity", {"full_name": "José Núñez-García", "date_of_birth": "3/14/85"}
    )
    assert right.refused == "locked_out" and not state.verified
    assert "verify_identity" not in {s["function"]["name"] for s in box.schemas(state)}
    kinds = [a["kind"] for a in await world.records.list_audit()]
    assert kinds.count("identity.no_match") == limit - 1 and kinds.count("identity.locked_out") == 1


async def test_unclear_date_of_birth_is_not_an_attempt(world: World) -> None:
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    result = await _verify(world, state, full_name="José Núñez-García", date_of_birth="sometime in spring")
    assert result.refused == "unclear_dob" and state.verification_attempts == 0


async def test_deceased_patient_goes_to_staff(world: World) -> None:
    state = world.state(contact=DECEASED.phone, candidates=[DECEASED.patient_id])
    result = await _verify(world, state, full_name="Walter Whitman", date_of_birth="1/1/1950")
    assert result.refused == "representative" and not state.verified and state.third_party
    assert "transfer" in result.message
    assert "deceased" not in result.message.lower()


async def test_minor_on_a_parents_account_goes_to_staff(world: World) -> None:
    state = world.state(contact=SOFIA.phone, candidates=[MARIA.patient_id, SOFIA.patient_id])
    result = await _verify(world, state, full_name="Sofia Lopez", date_of_birth="6/6/2015")
    assert result.refused == "representative" and not state.verified
    parent = world.state(contact=MARIA.phone, candidates=[MARIA.patient_id, SOFIA.patient_id])
    assert (await _verify(world, parent, full_name="Maria Lopez", date_of_birth="2/2/1980")).ok
    assert parent.patient_id == MARIA.patient_id


async def test_someone_calling_for_another_person_is_not_verified(world: World) -> None:
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    result = await _verify(
        world, state, full_name="José Núñez-García", date_of_birth="3/14/85", for_someone_else=True
    )
    assert result.refused == "representative" and not state.verified and state.third_party
    for word in ("balance", "bill", "owe", "account", "payment"):
        assert word not in result.message.lower()

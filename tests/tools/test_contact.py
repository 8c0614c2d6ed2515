"""opt_out, transfer_to_human, schedule_callback, flag_dispute, request_financial_assistance, end."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.tools.conftest import JOSE, TZ, World

DEBT_WORDS = ("balance", "bill", "owe", "account", "payment", "$")


def _no_debt_words(text: str) -> bool:
    return not any(w in text.lower() for w in DEBT_WORDS)


async def test_anyone_can_opt_out_their_number(world: World) -> None:
    box = world.box()
    state = world.state(contact="+13125550188")
    result = await box.invoke(state, "opt_out", {"channel": "sms"})
    assert result.ok and _no_debt_words(result.message) and "texts" in result.message
    assert await world.records.is_suppressed("+13125550188", "sms")
    assert not await world.records.is_suppressed("+13125550188", "voice")  # only what was asked
    assert await world.outbox(state.conversation_id) == []  # unknown person: nothing to write to the PMS
    assert state.outcome == "opt_out"


async def test_opt_out_all_for_an_unverified_caller_covers_the_number(world: World) -> None:
    box = world.box()
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    assert (await box.invoke(state, "opt_out", {})).ok
    assert await world.records.is_suppressed(JOSE.phone, "voice")
    assert await world.records.is_suppressed(JOSE.phone, "sms")
    assert await world.outbox(state.conversation_id) == []  # not verified: the PMS record is not changed


async def test_verified_opt_out_covers_the_person_and_updates_the_pms(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "opt_out", {"channel": "voice"})
    assert result.ok and "calls" in result.message
    assert await world.records.is_suppressed("+19999999999", "voice", patient_id=JOSE.patient_id)
    rows = {r.kind: r for r in await world.outbox(state.conversation_id)}
    assert rows["contact_preferences"].payload["do_not_call"] is True
    assert rows["contact_preferences"].payload["sms_ok"] is None
    assert "comm_log" in rows


async def test_email_opt_out_needs_to_know_the_address(world: World) -> None:
    box = world.box()
    state = world.state(contact="+13125550188")
    result = await box.invoke(state, "opt_out", {"channel": "email"})
    assert result.refused == "needs_verification" and _no_debt_words(result.message)


async def test_transfer_card_for_an_unverified_caller_reveals_nothing(world: World) -> None:
    box = world.box()
    state = world.state(contact="+13125550188")
    result = await box.invoke(state, "transfer_to_human", {"reason": "wants to talk to a person"})
    assert result.ok and result.data["live"] is True and _no_debt_words(result.message)
    (task,) = await world.records.list_staff_tasks(kind="transfer")
    card = task["context"]
    assert task["task_id"] == result.data["transfer_id"] and task["patient_id"] is None
    assert card["verified"] is False and card["name"] is None and card["balance"] is None
    assert card["offered"] == [] and card["objection"] == "wants to talk to a person"
    assert card["summary"].startswith("Unverified caller")
    assert state.outcome == "transfer"


async def test_transfer_card_for_a_verified_patient(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    await box.invoke(state, "offer_plan", {})
    result = await box.invoke(
        state,
        "transfer_to_human",
        {"reason": "thinks the crown was billed twice", "ask": "check the insurance claim"},
    )
    assert result.ok
    (task,) = await world.records.list_staff_tasks(kind="transfer")
    card = task["context"]
    assert card["verified"] is True and card["name"] == "José Núñez-García"
    assert card["patient_id"] == JOSE.patient_id and card["balance"] == "550.00"
    assert len(card["offered"]) == len(state.offered_plans) > 0
    assert (
        card["objection"] == "thinks the crown was billed twice"
        and card["ask"] == "check the insurance claim"
    )
    summary = card["summary"]
    assert "José Núñez-García" in summary and "$550.00" in summary and "billed twice" in summary
    assert len(re.findall(r"[.!?](?:\s|$)", summary)) <= 2  # one or two sentences


async def test_transfer_without_a_staff_line_becomes_a_callback(world: World) -> None:
    policy = world.policy.model_copy(
        update={"transfer": world.policy.transfer.model_copy(update={"staff_number": None})}
    )
    box = world.box(policy=policy)
    state = world.state(contact="+13125550188")
    result = await box.invoke(state, "transfer_to_human", {"reason": "needs help"})
    assert result.ok and result.data["live"] is False and "get back to you" in result.message
    assert state.outcome == "callback"
    assert len(await world.records.list_staff_tasks(kind="transfer")) == 1


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("tomorrow at 3", datetime(2026, 5, 21, 15, 0, tzinfo=TZ)),
        ("friday morning", datetime(2026, 5, 22, 10, 0, tzinfo=TZ)),
        ("after 5", datetime(2026, 5, 20, 17, 0, tzinfo=TZ)),
        (None, None),
        ("as soon as possible", None),
    ],
)
async def test_callback_times_in_the_practice_zone(
    world: World, when: str | None, expected: datetime | None
) -> None:
    box = world.box()
    state = world.state(contact="+13125550188")
    args = {"when": when} if when else {}
    result = await box.invoke(state, "schedule_callback", args)
    assert result.ok, result.message
    assert result.data["at"] == (expected.isoformat() if expected else None)
    assert _no_debt_words(result.message) and state.outcome == "callback"
    kinds = [a["kind"] for a in await world.records.list_audit()]
    assert "tool.schedule_callback" in kinds


@pytest.mark.parametrize(
    ("when", "refused"),
    [
        ("at 10 pm", "outside_hours"),
        ("at 6am", "outside_hours"),
        ("in 2 months", "unclear_time"),
        ("when the moon is full", "unclear_time"),
        ("2026-07-30 at 10am", "outside_range"),
    ],
)
async def test_callback_times_refused(world: World, when: str, refused: str) -> None:
    box = world.box()
    state = world.state(contact="+13125550188")
    assert (await box.invoke(state, "schedule_callback", {"when": when})).refused == refused


async def test_dispute_pauses_outreach_and_alerts_staff(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "flag_dispute", {"reason": "insurance should have covered the cleaning"})
    assert result.ok and "pause" in result.message
    assert "dispute" in await world.records.account_flags(JOSE.patient_id)
    (task,) = await world.records.list_staff_tasks(kind="dispute")
    assert task["priority"] == "high" and task["context"]["patient_balance"] == "550.00"
    assert "cleaning" in task["summary"]
    assert [r.kind for r in await world.outbox(state.conversation_id)] == ["comm_log"]
    assert state.outcome == "dispute"


async def test_financial_assistance_request(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "request_financial_assistance", {"reason": "lost my job"})
    assert result.ok
    assert "hardship" in await world.records.account_flags(JOSE.patient_id)
    (task,) = await world.records.list_staff_tasks(kind="hardship")
    assert task["context"]["reason"] == "lost my job"
    assert state.outcome == "hardship"


async def test_end_conversation(world: World) -> None:
    box = world.box()
    state = world.state(contact="+13125550188")
    result = await box.invoke(state, "end_conversation", {"outcome": "wrong_party"})
    assert result.ok and state.ended and state.outcome == "wrong_party"
    bad = await box.invoke(state, "end_conversation", {"outcome": "paid"})  # never claimed by the model
    assert bad.refused == "invalid_arguments" and state.outcome == "wrong_party"


async def test_end_conversation_keeps_a_stronger_outcome(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    await box.invoke(state, "log_promise", {"amount": 100, "date": "friday"})
    await box.invoke(state, "end_conversation", {"outcome": "info"})
    assert state.outcome == "promise" and state.ended

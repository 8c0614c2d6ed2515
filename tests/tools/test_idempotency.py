"""The same effect asked for twice in one conversation happens once: one outbox write, one task, one link."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tools.conftest import JOSE, StripeStyleLinks, World

EFFECTS: list[tuple[str, dict[str, Any]]] = [
    ("log_promise", {"amount": 100, "date": "next friday"}),
    ("send_payment_link", {"amount": "full"}),
    ("flag_dispute", {"reason": "never had this procedure"}),
    ("request_financial_assistance", {}),
    ("opt_out", {"channel": "sms"}),
    ("transfer_to_human", {"reason": "wants a person"}),
    ("schedule_callback", {"when": "tomorrow at 3"}),
]


async def _counts(world: World, conversation_id: str) -> tuple[int, int, int, int]:
    outbox = len(await world.outbox(conversation_id))
    tasks = len(await world.records.list_staff_tasks(status=None))
    promises = len(await world.records.list_promises(JOSE.patient_id))
    return outbox, tasks, promises, len(world.messenger.sent)


@pytest.mark.parametrize(("name", "args"), EFFECTS)
async def test_repeated_call_acts_once(world: World, name: str, args: dict[str, Any]) -> None:
    links = StripeStyleLinks()
    box = world.box(payments=links)
    state = await world.verified(box, JOSE)
    first = await box.invoke(state, name, args)
    assert first.ok, first.message
    after_first = await _counts(world, state.conversation_id)
    assert after_first != (0, 0, 0, 0)  # the call did something durable
    # again in the same turn, and again through a fresh toolbox (the next turn) with the same state
    second = await box.invoke(state, name, dict(args))
    third = await world.box(payments=links).invoke(state, name, dict(args))
    assert await _counts(world, state.conversation_id) == after_first
    for again in (second, third):
        assert again.ok and again.message == first.message and again.data.get("repeated") is True
    assert len(links.calls) <= 1


async def test_accepting_the_same_plan_twice_writes_one_plan(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    offer = await box.invoke(state, "offer_plan", {})
    key = offer.data["options"][0]["plan_key"]
    first = await box.invoke(state, "accept_plan", {"plan_key": key})
    second = await box.invoke(state, "accept_plan", {"plan_key": key})
    assert first.ok and second.ok and second.data["repeated"] is True
    kinds = [r.kind for r in await world.outbox(state.conversation_id)]
    assert kinds.count("payment_plan") == 1 and kinds.count("comm_log") == 1
    assert len(world.messenger.sent) == 1


async def test_outbox_keys_are_deterministic_per_conversation(world: World) -> None:
    """A brand-new conversation is a new effect (new key); the outbox itself dedupes a replayed key."""
    box = world.box()
    one = await world.verified(box, JOSE)
    two = await world.verified(box, JOSE)
    for state in (one, two):
        assert (await box.invoke(state, "log_promise", {"amount": 100, "date": "friday"})).ok
    keys = {r.idempotency_key for c in (one, two) for r in await world.outbox(c.conversation_id)}
    assert len(keys) == 4  # promise + comm log, per conversation
    prefix = f"{world.policy.practice.practice_id}|{JOSE.patient_id}|{one.conversation_id}|promise|100.00|"
    assert any(k.startswith(prefix) for k in keys)
    # a lost conversation state (e.g. a crash before it was saved) replays into the same outbox keys
    one.effects.clear()
    await box.invoke(one, "log_promise", {"amount": 100, "date": "friday"})
    assert len(await world.outbox(one.conversation_id)) == 2

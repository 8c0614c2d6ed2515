"""ToolBox: schemas per state, the verification guard, argument validation, auditing, failures."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tests.phi_scan import leaked
from tests.tools.conftest import JOSE, World
from tools.base import NoArgs, Tool
from tools.context import CallerState, ToolContext, ToolResult
from tools.registry import ToolBox, default_tools

# Debt tools and arguments that would be valid once verified.
DEBT_CALLS: dict[str, dict[str, Any]] = {
    "lookup_balance": {},
    "explain_charges": {"limit": 3},
    "offer_plan": {},
    "accept_plan": {"plan_key": "m3"},
    "send_payment_link": {"amount": "full"},
    "take_payment": {"amount": "full"},
    "log_promise": {"amount": 100, "date": "next friday"},
    "flag_dispute": {"reason": "insurance should have paid"},
    "request_financial_assistance": {"reason": "lost my job"},
}
OPEN_TOOLS = {"verify_identity", "opt_out", "transfer_to_human", "schedule_callback", "end_conversation"}
DEBT_WORDS = re.compile(r"balance|owe|bill|account|payment|\$|\d", re.I)


def test_every_debt_tool_requires_verification() -> None:
    required = {t.name for t in default_tools() if t.requires_verification}
    assert required == set(DEBT_CALLS)
    assert {t.name for t in default_tools()} == required | OPEN_TOOLS


def _walk(node: Any) -> list[dict[str, Any]]:
    out = []
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            out += _walk(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk(v)
    return out


def _check_schema(entry: dict[str, Any]) -> None:
    assert entry["type"] == "function"
    fn = entry["function"]
    assert set(fn) == {"name", "description", "parameters"}
    assert re.fullmatch(r"[a-z_]{3,64}", fn["name"]) and len(fn["description"]) > 20
    params = fn["parameters"]
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert set(params["required"]) <= set(params["properties"])
    for node in _walk(params):
        assert "title" not in node and "$ref" not in node and "$defs" not in node and "default" not in node
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False
        t = node.get("type")
        types = t if isinstance(t, list) else [t] if t else []
        assert set(types) <= {"object", "string", "number", "integer", "boolean", "array", "null"}
    for prop in params["properties"].values():
        assert "description" in prop or "enum" in prop or "type" in prop


async def test_schemas_follow_verification(world: World) -> None:
    box = world.box()
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    before = box.schemas(state)
    assert {s["function"]["name"] for s in before} == OPEN_TOOLS
    for entry in before:
        _check_schema(entry)
    await box.invoke(state, "verify_identity", {"full_name": "José Núñez-García", "date_of_birth": "3/14/85"})
    after = {s["function"]["name"]: s for s in box.schemas(state)}
    assert "verify_identity" not in after and "accept_plan" not in after  # nothing offered yet
    assert set(DEBT_CALLS) - {"accept_plan"} <= set(after)
    await box.invoke(state, "offer_plan", {})
    after = {s["function"]["name"]: s for s in box.schemas(state)}
    keys = after["accept_plan"]["function"]["parameters"]["properties"]["plan_key"]["enum"]
    assert keys == [p["plan_key"] for p in state.offered_plans] and keys
    for entry in after.values():
        _check_schema(entry)
    dob = before[[s["function"]["name"] for s in before].index("verify_identity")]["function"]["parameters"]
    assert dob["required"] == ["date_of_birth"]


async def test_schemas_are_built_once_but_each_caller_gets_its_own_copy(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    await box.invoke(state, "offer_plan", {})
    first = {e["function"]["name"]: e["function"]["parameters"] for e in box.schemas(state)}
    first["accept_plan"]["properties"]["plan_key"]["enum"].append("injected")
    first["accept_plan"]["required"].append("injected")
    first["log_promise"]["properties"].clear()
    again = {e["function"]["name"]: e["function"]["parameters"] for e in box.schemas(state)}
    assert "injected" not in again["accept_plan"]["properties"]["plan_key"]["enum"]
    assert "injected" not in again["accept_plan"]["required"]
    assert again["log_promise"]["properties"]
    # the overrides still come from the state on every call (the plan keys it was offered)
    assert again["accept_plan"]["properties"]["plan_key"]["enum"] == [
        p["plan_key"] for p in state.offered_plans
    ]


async def test_schemas_are_valid_json_schema(world: World) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    box = world.box()
    state = await world.verified(box, JOSE)
    await box.invoke(state, "offer_plan", {})
    schemas = {e["function"]["name"]: e["function"]["parameters"] for e in box.schemas(state)}
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # the arguments a model would send validate; an extra field does not
    for name, args in DEBT_CALLS.items():
        if name == "accept_plan":
            args = {"plan_key": state.offered_plans[0]["plan_key"]}
        jsonschema.validate(args, schemas[name])
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**args, "unexpected": 1}, schemas[name])


@pytest.mark.parametrize("name", sorted(DEBT_CALLS))
async def test_debt_tools_refuse_before_verification(world: World, name: str) -> None:
    box = world.box()
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    for args in (DEBT_CALLS[name], {"amount": "-5", "bogus": 1}):  # also with bad args: guard first
        result = await box.invoke(state, name, args)
        assert not result.ok and result.refused == "not_verified"
        assert not DEBT_WORDS.search(result.message), result.message
        assert result.data == {}
    assert await world.outbox(state.conversation_id) == []
    assert await world.records.list_staff_tasks(status=None) == []
    assert state.disclosed_balance is None and state.offered_plans == []
    audits = [a for a in await world.records.list_audit() if a["kind"] == f"tool.{name}"]
    assert len(audits) == 2 and all(a["detail"]["refused"] == "not_verified" for a in audits)


async def test_locked_out_refusal_says_nothing_about_a_debt(world: World) -> None:
    box = world.box()
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    for _ in range(world.policy.verification.max_attempts):
        await box.invoke(state, "verify_identity", {"full_name": "Joe Nunez", "date_of_birth": "3/14/85"})
    for name, args in DEBT_CALLS.items():
        result = await box.invoke(state, name, args)
        assert result.refused == "locked_out"
        assert not DEBT_WORDS.search(result.message)


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("log_promise", {"amount": "0", "date": "friday"}, "amount"),
        ("log_promise", {"amount": -50, "date": "friday"}, "amount"),
        ("log_promise", {"amount": 1e9, "date": "friday"}, "amount"),
        ("log_promise", {"amount": "1e9", "date": "friday"}, "amount"),
        ("log_promise", {"amount": True, "date": "friday"}, "amount"),
        ("log_promise", {"amount": 10.005, "date": "friday"}, "amount"),
        ("log_promise", {"amount": 100}, "date"),
        ("log_promise", {"amount": 100, "date": "friday", "approved_by": "manager"}, "approved_by"),
        ("send_payment_link", {"amount": "0"}, "amount"),
        ("send_payment_link", {"amount": -1}, "amount"),
        ("send_payment_link", {"amount": "everything"}, "amount"),
        ("send_payment_link", {"amount": "full", "override_amount": 1}, "override_amount"),
        ("offer_plan", {"monthly": 0}, "monthly"),
        ("offer_plan", {"monthly": 50, "months": 60}, "months"),
        ("accept_plan", {"plan_key": "m3", "installment_amount": 1}, "installment_amount"),
        ("accept_plan", {"plan_key": "'; drop table plans; --"}, "plan_key"),
        ("explain_charges", {"limit": 500}, "limit"),
        ("lookup_balance", {"amount": 0}, "amount"),
    ],
)
async def test_bad_arguments_are_refused_not_raised(
    world: World, name: str, args: dict[str, Any], field: str
) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    await box.invoke(state, "offer_plan", {})
    outbox_before = len(await world.outbox(state.conversation_id))
    result = await box.invoke(state, name, args)
    assert not result.ok and result.refused == "invalid_arguments"
    assert field in result.message
    assert len(await world.outbox(state.conversation_id)) == outbox_before
    assert await world.records.list_promises(JOSE.patient_id) == []


async def test_arguments_may_arrive_as_json_text(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    assert (await box.invoke(state, "explain_charges", '{"limit": 2}')).ok
    assert (await box.invoke(state, "explain_charges", "[1, 2]")).refused == "invalid_arguments"
    assert (await box.invoke(state, "explain_charges", "{not json")).refused == "invalid_arguments"


async def test_unknown_tool_is_refused_and_audited(world: World) -> None:
    box = world.box()
    state = world.state()
    result = await box.invoke(state, "refund_everything", {"amount": 5})
    assert result.refused == "unknown_tool"
    assert [a["kind"] for a in await world.records.list_audit()] == ["tool.unknown"]


async def test_audit_redacts_sensitive_arguments(world: World) -> None:
    box = world.box()
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    await box.invoke(
        state, "verify_identity", {"full_name": "José Núñez-García", "date_of_birth": "03/14/1985"}
    )
    await box.invoke(state, "transfer_to_human", {"reason": "my card is 4242 4242 4242 4242, charge it"})
    audits = {a["kind"]: a for a in await world.records.list_audit()}
    text = repr(audits)
    assert leaked(text, ["1985", "Núñez"]) == []  # as words: ids are random letters and digits
    assert "19850314" not in text and "03141985" not in text  # nor run together
    assert "4242 4242 4242 4242" not in text and "4242424242424242" not in text
    assert audits["tool.verify_identity"]["detail"]["ok"] is True
    assert audits["tool.transfer_to_human"]["patient_id"] == JOSE.patient_id
    task = (await world.records.list_staff_tasks(kind="transfer"))[0]
    assert "4242 4242 4242 4242" not in repr(task)


class _Exploding(Tool):
    name = "explode"
    description = "A tool that fails with PHI in its error message."
    Args = NoArgs
    requires_verification = False

    async def run(self, ctx: ToolContext, state: CallerState, args: NoArgs) -> ToolResult:
        raise ValueError("patient Jose Nunez-Garcia DOB 1985-03-14 broke the query")


async def test_unexpected_errors_become_refusals_logged_without_phi(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    box = ToolBox(world.ctx(), [*default_tools(), _Exploding()])
    state = world.state()
    with caplog.at_level(logging.ERROR):
        result = await box.invoke(state, "explode", {})
    assert result.refused == "tool_error" and "call you back" in result.message
    assert "ValueError" in caplog.text
    assert leaked(caplog.text, ["1985", "Nunez"]) == []
    audit = (await world.records.list_audit())[0]
    assert audit["kind"] == "tool.explode" and audit["detail"]["refused"] == "tool_error"


async def test_bound_tools_match_the_brain_protocol(world: World) -> None:
    state = world.state(contact=JOSE.phone, candidates=[JOSE.patient_id])
    bound = ToolBox(world.ctx()).bind(state)
    assert {s["function"]["name"] for s in bound.schemas()} == OPEN_TOOLS
    result = await bound.call(
        "verify_identity",
        {"first_name": "jose", "last_name": "nunez garcia", "date_of_birth": "March 14th 1985"},
    )
    assert result.ok and state.verified
    assert "lookup_balance" in {s["function"]["name"] for s in bound.schemas()}


def test_duplicate_tool_names_are_rejected(world: World) -> None:
    with pytest.raises(ValueError):
        ToolBox(world.ctx(), [_Exploding(), _Exploding()])

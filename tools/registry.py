"""`ToolBox`: the one door through which a brain acts.

`invoke(state, name, arguments)` never raises: it refuses unknown tools, applies the verification
guard *before* looking at arguments (so a refusal never echoes anything about a debt), validates
arguments against the tool's pydantic model (extra fields refused), runs the tool, and audits every
invocation as `tool.<name>` with redacted arguments and the outcome. Invocations on one toolbox are
serialised, so parallel tool calls cannot race on the conversation state.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from pms.protocol import PmsUnavailable
from policies.redaction import redact
from tools.base import LOCKED_OUT_MESSAGE, NOT_VERIFIED_MESSAGE, Tool
from tools.context import CallerState, ToolContext, ToolResult

log = logging.getLogger(__name__)

PMS_DOWN_MESSAGE = (
    "I can't reach our records system right now. I can have someone from the office call you back, "
    "or transfer you."
)
TOOL_ERROR_MESSAGE = (
    "Something went wrong on my side. I can have someone from the office call you back, or transfer you."
)


def default_tools() -> list[Tool]:
    """Every tool BalanceLine ships, in the order they are offered to the model."""
    from tools.account import ExplainCharges, LookupBalance
    from tools.cases import FlagDispute, RequestFinancialAssistance
    from tools.contact import EndConversation, OptOut, ScheduleCallback, TransferToHuman
    from tools.identity import VerifyIdentity
    from tools.payment import LogPromise, SendPaymentLink, TakePayment
    from tools.plans import AcceptPlan, OfferPlan

    return [
        VerifyIdentity(),
        LookupBalance(),
        ExplainCharges(),
        OfferPlan(),
        AcceptPlan(),
        SendPaymentLink(),
        TakePayment(),
        LogPromise(),
        FlagDispute(),
        RequestFinancialAssistance(),
        OptOut(),
        TransferToHuman(),
        ScheduleCallback(),
        EndConversation(),
    ]


class ToolBox:
    def __init__(self, ctx: ToolContext, tools: Sequence[Tool] | None = None) -> None:
        self.ctx = ctx
        chosen = list(tools) if tools is not None else default_tools()
        self._tools: dict[str, Tool] = {t.name: t for t in chosen}
        if len(self._tools) != len(chosen):
            raise ValueError("tool names must be unique")
        self._lock = asyncio.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self, state: CallerState) -> list[dict[str, Any]]:
        """OpenAI chat-completions `tools` entries for the tools usable in this state."""
        return [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": parameters_schema(t.Args, t.schema_overrides(state)),
                },
            }
            for t in self._tools.values()
            if t.available(state)
        ]

    def bind(self, state: CallerState) -> BoundTools:
        return BoundTools(self, state)

    async def invoke(
        self, state: CallerState, name: str, arguments: Mapping[str, Any] | str | None
    ) -> ToolResult:
        async with self._lock:
            tool = self._tools.get(name)
            if tool is None:
                unknown = ToolResult.refuse(
                    "unknown_tool",
                    f"There is no tool with that name. Available tools: {', '.join(self._tools)}.",
                )
                await self._audit("tool.unknown", state, {"name": str(name)[:64]}, unknown)
                return unknown
            result: ToolResult | None
            raw, result = _as_dict(arguments)
            if result is None and tool.requires_verification and not state.verified:
                result = (
                    ToolResult.refuse("locked_out", LOCKED_OUT_MESSAGE)
                    if state.locked_out
                    else ToolResult.refuse("not_verified", NOT_VERIFIED_MESSAGE)
                )
            args: BaseModel | None = None
            if result is None:
                args, result = _validate(tool, raw)
            if result is None and args is not None:
                result = await self._run(tool, state, args)
            assert result is not None
            await self._audit(f"tool.{tool.name}", state, _redact_args(tool, raw), result)
            return result

    async def _run(self, tool: Tool, state: CallerState, args: BaseModel) -> ToolResult:
        try:
            return await tool.run(self.ctx, state, args)
        except PmsUnavailable:
            log.warning("tool %s: PMS unavailable", tool.name)
            return ToolResult.refuse("pms_unavailable", PMS_DOWN_MESSAGE)
        except Exception as exc:  # any failure becomes a refusal the brain can relay
            # the exception text may carry PHI (values in SQL errors); log only its type and the frames
            frames = " <- ".join(
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                for f in reversed(traceback.extract_tb(exc.__traceback__))
            )
            log.error("tool %s failed with %s at %s", tool.name, type(exc).__name__, frames)
            return ToolResult.refuse("tool_error", TOOL_ERROR_MESSAGE)

    async def _audit(
        self, kind: str, state: CallerState, arguments: dict[str, Any], result: ToolResult
    ) -> None:
        detail = {
            "arguments": arguments,
            "ok": result.ok,
            "refused": result.refused,
            "message": redact(result.message),
            "verified": state.verified,
            "channel": state.channel,
        }
        try:
            await self.ctx.records.audit(
                kind, patient_id=state.patient_id, conversation_id=state.conversation_id, detail=detail
            )
        except Exception as exc:  # the action's own records are durable already; never hide its result
            log.error("audit of %s failed with %s", kind, type(exc).__name__)


class BoundTools:
    """The toolbox bound to one conversation's state (the brain's `ToolInvoker`)."""

    def __init__(self, box: ToolBox, state: CallerState) -> None:
        self.box = box
        self.state = state

    def schemas(self) -> list[dict[str, Any]]:
        return self.box.schemas(self.state)

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        return await self.box.invoke(self.state, name, arguments)


# ---- arguments ---------------------------------------------------------------------------------


def _as_dict(arguments: Mapping[str, Any] | str | None) -> tuple[dict[str, Any], ToolResult | None]:
    if arguments is None or arguments == "":
        return {}, None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return {}, ToolResult.refuse("invalid_arguments", "The arguments were not valid JSON.")
    if not isinstance(arguments, Mapping):
        return {}, ToolResult.refuse("invalid_arguments", "The arguments must be a JSON object.")
    return dict(arguments), None


def _validate(tool: Tool, raw: dict[str, Any]) -> tuple[BaseModel | None, ToolResult | None]:
    try:
        return tool.Args.model_validate(raw), None
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(x) for x in err["loc"]) or "arguments"
            msg = "is not an argument of this tool" if err["type"] == "extra_forbidden" else err["msg"]
            msg = msg.removeprefix("Value error, ")
            problems.append(
                f"{where} {msg}" if msg.startswith(("is ", "must ", "may ")) else f"{where}: {msg}"
            )
        return None, ToolResult.refuse(
            "invalid_arguments", f"I couldn't use those details for {tool.name}: " + "; ".join(problems) + "."
        )


def _redact_args(tool: Tool, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in list(raw.items())[:20]:
        k = redact(str(key))[:64]
        if key in tool.sensitive_args:
            out[k] = "[redacted]"
        elif isinstance(value, str):
            out[k] = redact(value[:500])
        elif value is None or isinstance(value, bool | int | float):
            out[k] = value
        else:
            out[k] = redact(json.dumps(value, default=str)[:500])
    return out


# ---- schemas -----------------------------------------------------------------------------------

_NOISE = ("title", "default", "examples")


def parameters_schema(
    model: type[BaseModel], overrides: Mapping[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A self-contained JSON schema for a tool's arguments: refs inlined, no titles or defaults,
    `additionalProperties: false` on every object, optional `X | None` collapsed to `X`.

    The model's part is built once per model (pydantic's schema generation took milliseconds per
    LLM request); the caller gets its own copy, with the state's overrides applied."""
    schema = copy.deepcopy(_model_schema(model))
    for prop, extra in (overrides or {}).items():
        if prop in schema["properties"]:
            schema["properties"][prop] = {**schema["properties"][prop], **extra}
    return schema


@functools.cache
def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = _clean(raw, defs)
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    return schema


def _clean(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_clean(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, defs)
    out = {k: _clean(v, defs) for k, v in node.items() if k not in _NOISE}
    if "properties" in out:
        out["properties"] = {name: _clean(p, defs) for name, p in node["properties"].items()}
        for p in out["properties"].values():
            _collapse_optional(p)
    if out.get("type") == "object":
        out["additionalProperties"] = False
    return out


def _collapse_optional(prop: dict[str, Any]) -> None:
    options = prop.get("anyOf")
    if not options:
        return
    non_null = [o for o in options if o != {"type": "null"}]
    if len(non_null) == 1 and len(options) == 2:
        del prop["anyOf"]
        prop.update({k: v for k, v in non_null[0].items() if k not in prop})

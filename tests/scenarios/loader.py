"""Load the scenario files (`tests/scenarios/*.yaml`): conversations with expected tool calls and outcomes.

One file per theme; each holds a list of scenarios:

    - name: balance-identity-first           # unique across all files
      persona: prompt_payer                  # a PERSONAS key, or unknown_number
      about: what it shows                   # optional
      services: true                         # also run on PostgreSQL+Redis (the representative subset)
      xfail: "why"                           # a known product bug: expected to fail (strict) until fixed
      setup:                                 # optional
        suppressed: sms                      # the number is opted out (sms | voice | all) before step 1
        twilio_blocked: true                 # Twilio refuses sends to the number (21610)
      steps:
        - patient: "{name} {dob:%m/%d/%Y}"   # the inbound text; placeholders below
          webhook: {OptOutType: STOP}        # extra Twilio webhook fields
          reply: none                        # none | {contains: [..], not_contains: [..], regex: ".."}
          tools: [verify_identity, lookup_balance]   # tools called in this step, in order ([] if absent)
          refused: [not_matched]             # refusal codes of this step's tool calls, in order ([] if absent)
          outcome: info                      # the conversation's outcome after the step (optional)
          verified: true                     # the conversation's verification after the step (optional)
          llm:                               # what a good model does (LlmBrain run only): one entry per request
            - tool_calls: [{name: verify_identity, arguments: {full_name: "{name}", date_of_birth: "[date of birth]"}}]
            - text: "Thanks, you're verified."
          llm_expect: {tools: [..]}          # expectations that differ under the scripted model
      end:                                   # cross-cutting checks after the last step (all optional)
        suppressed: sms                      # sms | voice | all | none: what the number is opted out of
        pms: {plan: {...}, promise: {...}, plans_created: 0, promises_created: 0, sms_consent: "no",
              do_not_call: true, balance_unchanged: true}   # the PMS after the outbox is drained
        staff_tasks: [dispute]               # kinds of the staff tasks created (sorted, exact)
        flags: [dispute]                     # account flags set by the conversation (sorted, exact)
        callbacks: 1                         # callbacks scheduled
        no_debt_words_before_verification: true
        max_app_sends: 1                     # texts the app tried to send to the number, whole scenario
        outreach: "blocked:flag:dispute"     # an agent-initiated text now: "allowed", "blocked" (any reason)
                                             # or the exact reason ("suppressed", "blocked:flag:dispute")
        stored_absent: ["4242 4242 4242 4242"]  # never in the record store (dates of birth typed are added)

Placeholders in patient text, `contains`/`not_contains` and LLM script strings: `{name}`, `{first}`,
`{last}`, `{phone}`, `{balance}` ("$240.00") and `{dob:<strftime>}` with `%-d`/`%-m` (no padding) and
`%o` (ordinal day, "12th"). `regex` is used as written. Every date of birth rendered into a patient
text is remembered as a secret: it must never be stored, nor sent to the model.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from pms.demo.personas import PERSONAS

HERE = Path(__file__).parent

UNKNOWN_NUMBER = "unknown_number"
# Not a patient's number: persona numbers are 763-555-01xx by patient id (ids 1-25), and the random
# population never uses 555-0100..0199.
UNKNOWN_PHONE = "+17635550199"
UNKNOWN_NAME = "Jane Doe"
UNKNOWN_DOB = date(1985, 3, 14)

TOOL_NAMES = frozenset(
    {
        "verify_identity",
        "lookup_balance",
        "explain_charges",
        "offer_plan",
        "accept_plan",
        "send_payment_link",
        "log_promise",
        "flag_dispute",
        "request_financial_assistance",
        "opt_out",
        "transfer_to_human",
        "schedule_callback",
        "end_conversation",
    }
)
SCOPES = frozenset({"sms", "voice", "all", "none"})

_SCENARIO_KEYS = {"name", "persona", "about", "services", "xfail", "setup", "steps", "end"}
_SETUP_KEYS = {"suppressed", "twilio_blocked"}
_STEP_KEYS = {"patient", "webhook", "reply", "tools", "refused", "outcome", "verified", "llm", "llm_expect"}
_EXPECT_KEYS = {"reply", "tools", "refused", "outcome", "verified"}
_REPLY_KEYS = {"contains", "not_contains", "regex"}
_END_KEYS = {
    "suppressed",
    "pms",
    "staff_tasks",
    "flags",
    "callbacks",
    "no_debt_words_before_verification",
    "max_app_sends",
    "outreach",
    "stored_absent",
}
_PMS_KEYS = {
    "plan",
    "promise",
    "sms_consent",
    "do_not_call",
    "balance_unchanged",
    "plans_created",
    "promises_created",
}
_LLM_KEYS = {"text", "tool_calls"}


class ScenarioError(ValueError):
    """A scenario file does not follow the format above."""


# ---- who is texting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """The person texting in: a demo persona, or someone the practice does not know."""

    key: str
    name: str
    phone: str
    dob: date
    balance: Decimal | None
    patient_id: str | None
    guarantor_id: str | None

    @property
    def first(self) -> str:
        return self.name.split()[0]

    @property
    def last(self) -> str:
        return self.name.split()[-1]


def who(persona: str) -> Who:
    if persona == UNKNOWN_NUMBER:
        return Who(persona, UNKNOWN_NAME, UNKNOWN_PHONE, UNKNOWN_DOB, None, None, None)
    p = PERSONAS[persona]
    assert p.phone is not None, f"persona {persona} has no phone to text from"
    return Who(persona, p.name, p.phone, p.date_of_birth, p.patient_balance, p.patient_id, p.guarantor_id)


# ---- placeholders -----------------------------------------------------------------------------


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_date(d: date, spec: str) -> str:
    if not spec:
        return d.isoformat()
    spec = spec.replace("%-d", str(d.day)).replace("%-m", str(d.month)).replace("%o", ordinal(d.day))
    return d.strftime(spec)


class _Formatter(string.Formatter):
    def __init__(self, secrets: set[str] | None) -> None:
        self.secrets = secrets

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, date):
            text = format_date(value, format_spec)
            if self.secrets is not None:
                self.secrets.add(text)
            return text
        return str(format(value, format_spec))


def render(text: str, person: Who, secrets: set[str] | None = None) -> str:
    """Fill the placeholders; dates of birth rendered are added to `secrets` (when given)."""
    values = {
        "name": person.name,
        "first": person.first,
        "last": person.last,
        "phone": person.phone,
        "dob": person.dob,
        "balance": f"${person.balance:,.2f}" if person.balance is not None else "",
    }
    try:
        return _Formatter(secrets).vformat(text, (), values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ScenarioError(f"bad placeholder in {text!r}: {exc!r}") from exc


def render_data(value: Any, person: Who) -> Any:
    """Placeholders filled in every string of a YAML value (LLM scripts)."""
    if isinstance(value, str):
        return render(value, person)
    if isinstance(value, list):
        return [render_data(v, person) for v in value]
    if isinstance(value, dict):
        return {k: render_data(v, person) for k, v in value.items()}
    return value


# ---- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplySpec:
    none: bool = False
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: str | None = None


@dataclass(frozen=True)
class Expect:
    reply: ReplySpec | None = None  # None: not checked
    tools: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    outcome: str | None = None
    verified: bool | None = None


@dataclass(frozen=True)
class LlmCall:
    name: str
    arguments: Any  # a mapping (sent as JSON) or a raw string (sent as-is)


@dataclass(frozen=True)
class LlmReply:
    text: str = ""
    tool_calls: tuple[LlmCall, ...] = ()


@dataclass(frozen=True)
class Step:
    patient: str
    webhook: dict[str, str]
    expect: Expect
    llm: tuple[LlmReply, ...] | None  # None: the step gives the model nothing to do
    llm_expect: Expect


@dataclass(frozen=True)
class Setup:
    suppressed: str | None = None
    twilio_blocked: bool = False


@dataclass(frozen=True)
class End:
    suppressed: str | None = None
    pms: dict[str, Any] = field(default_factory=dict)
    staff_tasks: tuple[str, ...] | None = None
    flags: tuple[str, ...] | None = None
    callbacks: int | None = None
    no_debt_words_before_verification: bool = False
    max_app_sends: int | None = None
    outreach: str | None = None
    stored_absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    theme: str
    persona: str
    about: str
    services: bool
    xfail: str | None  # a known product bug: the scenario must fail (strict) until it is fixed
    setup: Setup
    steps: tuple[Step, ...]
    end: End

    @property
    def scripted(self) -> bool:
        """Has an LLM script (so it also runs against LlmBrain with the scripted server)."""
        return any(s.llm is not None for s in self.steps)

    def __str__(self) -> str:
        return self.name


# ---- parsing ------------------------------------------------------------------------------------


def _keys(
    where: str, data: Any, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = set(data) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
    missing = required - set(data)
    if missing:
        raise ScenarioError(f"{where}: missing keys {sorted(missing)}")
    return data


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{where}: expected a list of strings")
    return tuple(value)


def _reply(where: str, value: Any) -> ReplySpec | None:
    if value is None:
        return None
    if value == "none":
        return ReplySpec(none=True)
    data = _keys(where, value, _REPLY_KEYS)
    regex = data.get("regex")
    if regex is not None:
        re.compile(regex)
    return ReplySpec(
        contains=_strings(f"{where}.contains", data.get("contains")),
        not_contains=_strings(f"{where}.not_contains", data.get("not_contains")),
        regex=regex,
    )


def _expect(where: str, data: dict[str, Any], base: Expect | None = None) -> Expect:
    tools = _strings(f"{where}.tools", data["tools"]) if "tools" in data else (base.tools if base else ())
    for name in tools:
        if name not in TOOL_NAMES:
            raise ScenarioError(f"{where}: unknown tool {name!r}")
    verified = data.get("verified", base.verified if base else None)
    if verified is not None and not isinstance(verified, bool):
        raise ScenarioError(f"{where}.verified: expected true or false")
    return Expect(
        reply=_reply(f"{where}.reply", data["reply"]) if "reply" in data else (base.reply if base else None),
        tools=tools,
        refused=_strings(f"{where}.refused", data["refused"])
        if "refused" in data
        else (base.refused if base else ()),
        outcome=data.get("outcome", base.outcome if base else None),
        verified=verified,
    )


def _llm(where: str, value: Any) -> tuple[LlmReply, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{where}: expected a non-empty list of model responses")
    out = []
    for i, item in enumerate(value):
        data = _keys(f"{where}[{i}]", item, _LLM_KEYS)
        calls = []
        for j, call in enumerate(data.get("tool_calls") or []):
            c = _keys(f"{where}[{i}].tool_calls[{j}]", call, {"name", "arguments"}, {"name"})
            calls.append(LlmCall(name=str(c["name"]), arguments=c.get("arguments", {})))
        text = data.get("text", "")
        if not isinstance(text, str) or not (text or calls):
            raise ScenarioError(f"{where}[{i}]: give text, tool_calls or both")
        out.append(LlmReply(text=text, tool_calls=tuple(calls)))
    return tuple(out)


def _step(where: str, value: Any) -> Step:
    data = _keys(where, value, _STEP_KEYS, {"patient"})
    if not isinstance(data["patient"], str):
        raise ScenarioError(f"{where}.patient: expected text")
    webhook = data.get("webhook") or {}
    if not isinstance(webhook, dict):
        raise ScenarioError(f"{where}.webhook: expected a mapping of Twilio fields")
    expect = _expect(where, data)
    llm_expect = _expect(
        f"{where}.llm_expect",
        _keys(f"{where}.llm_expect", data.get("llm_expect") or {}, _EXPECT_KEYS),
        expect,
    )
    return Step(
        patient=data["patient"],
        webhook={str(k): str(v) for k, v in webhook.items()},
        expect=expect,
        llm=_llm(f"{where}.llm", data.get("llm")),
        llm_expect=llm_expect,
    )


def _end(where: str, value: Any) -> End:
    data = _keys(where, value or {}, _END_KEYS)
    if data.get("suppressed") is not None and data["suppressed"] not in SCOPES:
        raise ScenarioError(f"{where}.suppressed: one of {sorted(SCOPES)}")
    pms = _keys(f"{where}.pms", data.get("pms") or {}, _PMS_KEYS)
    tasks, flags = data.get("staff_tasks"), data.get("flags")
    return End(
        suppressed=data.get("suppressed"),
        pms=pms,
        staff_tasks=None if tasks is None else tuple(sorted(_strings(f"{where}.staff_tasks", tasks))),
        flags=None if flags is None else tuple(sorted(_strings(f"{where}.flags", flags))),
        callbacks=data.get("callbacks"),
        no_debt_words_before_verification=bool(data.get("no_debt_words_before_verification", False)),
        max_app_sends=data.get("max_app_sends"),
        outreach=data.get("outreach"),
        stored_absent=_strings(f"{where}.stored_absent", data.get("stored_absent")),
    )


def _scenario(theme: str, index: int, value: Any) -> Scenario:
    where = f"{theme}.yaml[{index}]"
    data = _keys(where, value, _SCENARIO_KEYS, {"name", "persona", "steps"})
    name = str(data["name"])
    where = f"{theme}.yaml:{name}"
    persona = str(data["persona"])
    if persona != UNKNOWN_NUMBER and persona not in PERSONAS:
        raise ScenarioError(f"{where}: unknown persona {persona!r}")
    setup = _keys(f"{where}.setup", data.get("setup") or {}, _SETUP_KEYS)
    if setup.get("suppressed") not in (None, "sms", "voice", "all"):
        raise ScenarioError(f"{where}.setup.suppressed: sms, voice or all")
    steps = data["steps"]
    if not isinstance(steps, list) or not steps:
        raise ScenarioError(f"{where}.steps: expected a non-empty list")
    return Scenario(
        name=name,
        theme=theme,
        persona=persona,
        about=str(data.get("about", "")),
        services=bool(data.get("services", False)),
        xfail=str(data["xfail"]) if data.get("xfail") else None,
        setup=Setup(suppressed=setup.get("suppressed"), twilio_blocked=bool(setup.get("twilio_blocked"))),
        steps=tuple(_step(f"{where}.steps[{i}]", s) for i, s in enumerate(steps)),
        end=_end(f"{where}.end", data.get("end")),
    )


def parse(text: str, theme: str) -> list[Scenario]:
    """The scenarios of one file's text (`theme` is the file's stem)."""
    data = yaml.safe_load(text)
    if not isinstance(data, list):
        raise ScenarioError(f"{theme}.yaml: expected a list of scenarios")
    return [_scenario(theme, i, s) for i, s in enumerate(data)]


def load_file(path: Path) -> list[Scenario]:
    return parse(path.read_text(encoding="utf-8"), path.stem)


def load_all(directory: Path = HERE) -> list[Scenario]:
    scenarios = [s for path in sorted(directory.glob("*.yaml")) for s in load_file(path)]
    seen: set[str] = set()
    for s in scenarios:
        if s.name in seen:
            raise ScenarioError(f"duplicate scenario name {s.name!r}")
        seen.add(s.name)
    return scenarios

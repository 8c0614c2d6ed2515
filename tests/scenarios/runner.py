"""Play a scenario against a running app (real routes, store, PMS, FakeTwilio) and check it.

The same runner drives the default app (RulesBrain) and an app on LlmBrain whose model is the
loopback OpenAI server, scripted step by step from the scenario's `llm:` entries. Everything is
read back from where the product keeps it: texts sent (FakeTwilio), conversations, tool calls,
staff tasks, flags, callbacks, the consent ledger and audit trail (the record store), and plans,
promises and contact preferences in the PMS after the outbox is drained.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from _pytest.mark.structures import ParameterSet
from sqlalchemy import select

from agent.metrics import REGISTRY
from agent.store.models import (
    AccountFlagRow,
    AuditEventRow,
    CallbackRow,
    ConversationRow,
    MessageRow,
    OutboxRow,
    PlanOfferRow,
    StaffTaskRow,
)
from policies.types import SuppressionScope
from tests.fakes.openai_server import OpenAIFake, Reply, ToolCall
from tests.integration.harness import App
from tests.scenarios.loader import End, Expect, LlmReply, Scenario, Step, Who, render, render_data, who

STEP_SECONDS = 30  # the app clock moves on between texts, as a person types

# What must not be said to someone who is not verified (rules 28-29), in English and Spanish.
DEBT_WORDS = re.compile(
    r"\$\s?\d|\b(?:balances?|owe[sd]?|owing|bills?|billing|payments?|accounts?|debts?|"
    r"saldos?|deudas?|debe|pagos?|facturas?)\b",
    re.IGNORECASE,
)
DEBT_TOOLS = frozenset(
    {
        "lookup_balance",
        "explain_charges",
        "offer_plan",
        "accept_plan",
        "send_payment_link",
        "log_promise",
        "flag_dispute",
        "request_financial_assistance",
    }
)
_CARD_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_DIGIT_GAPS = re.compile(r"(?<=\d)[ -](?=\d)")


@dataclass
class StepRecord:
    index: int
    text: str
    replies: list[str]
    calls: list[dict[str, Any]]
    verified: bool
    outcome: str | None


@dataclass
class Run:
    app: App
    scenario: Scenario
    llm: OpenAIFake | None = None
    person: Who = field(init=False)
    secrets: set[str] = field(default_factory=set)
    steps: list[StepRecord] = field(default_factory=list)
    baseline: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.person = who(self.scenario.persona)

    # ---- play ------------------------------------------------------------------------------------

    def play(self) -> None:
        self._setup()
        self.baseline = self._pms_state()
        for index, step in enumerate(self.scenario.steps):
            self._step(index, step)
        self._end(self.scenario.end)

    def _setup(self) -> None:
        setup = self.scenario.setup
        if setup.twilio_blocked:
            self.app.twilio.opted_out_numbers.add(self.person.phone)
        if setup.suppressed:
            self.app.run(
                self.app.runtime.records.add_suppression(
                    patient_id=None,
                    value=self.person.phone,
                    scope=SuppressionScope(setup.suppressed),
                    reason="patient_request",
                    source="sms",
                )
            )

    def _step(self, index: int, step: Step) -> None:
        app, phone = self.app, self.person.phone
        app.clock.advance(seconds=STEP_SECONDS)
        text = render(step.patient, self.person, self.secrets)
        for run in _CARD_RUN.findall(text):
            self.secrets |= {run, _DIGIT_GAPS.sub("", run)}
        delivered_before = len(app.replies_to(phone))
        calls_before = {cid: len(state["tool_calls"]) for cid, state in self._conversations()}
        requests_before = len(self.llm.requests) if self.llm else 0
        fallbacks_before = _fallbacks()
        if self.llm is not None:
            self.llm.script(*(_reply(r, self.person) for r in step.llm or ()))

        response = app.text(phone, text, **step.webhook)
        self._check(response.status_code == 200, index, f"webhook answered {response.status_code}")

        conversations = self._conversations()
        calls = [
            call for cid, state in conversations for call in state["tool_calls"][calls_before.get(cid, 0) :]
        ]
        current = conversations[0][1]["state"] if conversations else {}
        record = StepRecord(
            index=index,
            text=text,
            replies=app.replies_to(phone)[delivered_before:],
            calls=calls,
            verified=bool(current.get("verified")),
            outcome=current.get("outcome"),
        )
        self.steps.append(record)
        if self.llm is not None:
            used = len(self.llm.requests) - requests_before
            wanted = len(step.llm or ())
            self._check(
                used == wanted and self.llm.pending == 0,
                index,
                f"the scripted model was asked {used} times, the script has {wanted} responses",
            )
            self._check(_fallbacks() == fallbacks_before, index, "LlmBrain fell back to the rules brain")
        self._expect(record, step.llm_expect if self.llm is not None else step.expect)

    def _expect(self, rec: StepRecord, exp: Expect) -> None:
        i = rec.index
        names = [c["name"] for c in rec.calls]
        self._check(names == list(exp.tools), i, f"tools called {names}, expected {list(exp.tools)}")
        refused = [c["result"]["refused"] for c in rec.calls if c["result"].get("refused")]
        self._check(refused == list(exp.refused), i, f"refusals {refused}, expected {list(exp.refused)}")
        if exp.outcome is not None:
            self._check(rec.outcome == exp.outcome, i, f"outcome {rec.outcome!r}, expected {exp.outcome!r}")
        if exp.verified is not None:
            self._check(rec.verified == exp.verified, i, f"verified={rec.verified}, expected {exp.verified}")
        spec = exp.reply
        if spec is None:
            return
        if spec.none:
            self._check(not rec.replies, i, f"expected no reply, got {rec.replies}")
            return
        self._check(len(rec.replies) == 1, i, f"expected exactly one reply, got {rec.replies}")
        reply = rec.replies[0]
        for want in spec.contains:
            want = render(want, self.person)
            self._check(want.lower() in reply.lower(), i, f"reply lacks {want!r}: {reply!r}")
        for unwanted in spec.not_contains:
            unwanted = render(unwanted, self.person)
            self._check(unwanted.lower() not in reply.lower(), i, f"reply has {unwanted!r}: {reply!r}")
        if spec.regex:
            self._check(
                bool(re.search(spec.regex, reply)), i, f"reply does not match {spec.regex!r}: {reply!r}"
            )

    # ---- end of scenario -------------------------------------------------------------------------

    def _end(self, end: End) -> None:
        app, person = self.app, self.person
        self._drain()
        if end.suppressed is not None:
            sms = bool(app.run(app.runtime.records.is_suppressed(person.phone, "sms")))
            voice = bool(app.run(app.runtime.records.is_suppressed(person.phone, "voice")))
            got = {(True, True): "all", (True, False): "sms", (False, True): "voice", (False, False): "none"}
            self._check(got[sms, voice] == end.suppressed, None, f"suppressed {got[sms, voice]!r}")
        if end.pms:
            self._check_pms(end.pms)
        store = self.app.run(self._store([cid for cid, _ in self._conversations()]))
        if end.staff_tasks is not None:
            kinds = sorted(store["tasks"])
            self._check(kinds == list(end.staff_tasks), None, f"staff tasks {kinds}")
        if end.flags is not None:
            self._check(
                sorted(store["flags"]) == list(end.flags), None, f"account flags {sorted(store['flags'])}"
            )
        if end.callbacks is not None:
            self._check(store["callbacks"] == end.callbacks, None, f"{store['callbacks']} callbacks")
        if end.no_debt_words_before_verification:
            for rec in self.steps:
                if rec.verified:
                    continue
                for reply in rec.replies:
                    m = DEBT_WORDS.search(reply)
                    self._check(
                        m is None, rec.index, f"unverified reply says {m and m.group(0)!r}: {reply!r}"
                    )
        if end.max_app_sends is not None:
            tried = self._send_attempts()
            self._check(tried <= end.max_app_sends, None, f"the app tried to text the number {tried} times")
        secrets = self.secrets | {render(s, person) for s in end.stored_absent}
        blob = store["text"]
        joined = _DIGIT_GAPS.sub("", blob)
        for secret in sorted(secrets):
            self._check(secret not in blob, None, f"{secret!r} is stored in the record store")
            if secret.replace(" ", "").replace("-", "").isdigit():
                self._check(_DIGIT_GAPS.sub("", secret) not in joined, None, f"{secret!r} is stored (digits)")
        if self.llm is not None:
            self._check_model_requests()
        if end.outreach is not None:  # last: an allowed outreach sends a text
            self._check_outreach(end.outreach)

    def _check_pms(self, want: dict[str, Any]) -> None:
        now = self._pms_state()
        before = self.baseline
        new_plans = [p for p in now["plans"] if p["plan_id"] not in before["plan_ids"]]
        new_promises = [p for p in now["promises"] if p["promise_id"] not in before["promise_ids"]]
        if "plans_created" in want:
            n = int(want["plans_created"])
            self._check(len(new_plans) == n, None, f"{len(new_plans)} plans created in the PMS, expected {n}")
        if "promises_created" in want:
            n = int(want["promises_created"])
            self._check(len(new_promises) == n, None, f"{len(new_promises)} PMS promises, expected {n}")
        if "plan" in want:
            self._check(len(new_plans) == 1, None, f"expected one new PMS plan, got {new_plans}")
            _match(self, "PMS plan", new_plans[0], want["plan"])
        if "promise" in want:
            self._check(len(new_promises) == 1, None, f"expected one new PMS promise, got {new_promises}")
            _match(self, "PMS promise", new_promises[0], render_data(want["promise"], self.person))
        if "sms_consent" in want:
            self._check(
                now["sms_consent"] == want["sms_consent"], None, f"PMS SMS consent is {now['sms_consent']!r}"
            )
        if "do_not_call" in want:
            self._check(
                now["do_not_call"] == want["do_not_call"], None, f"PMS do-not-call {now['do_not_call']}"
            )
        if want.get("balance_unchanged"):
            self._check(
                now["balance"] == before["balance"],
                None,
                f"PMS balance changed from {before['balance']} to {now['balance']}",
            )
            if self.person.balance is not None:
                self._check(now["balance"] == self.person.balance, None, f"PMS balance is {now['balance']}")

    def _check_model_requests(self) -> None:
        """No card number or date of birth ever reached the model; before verification it was not
        even offered the tools that read or act on the debt."""
        assert self.llm is not None
        for n, body in enumerate(self.llm.requests):
            system = str(body["messages"][0]["content"])
            offered = {t["function"]["name"] for t in body.get("tools", [])}
            if "The person is not verified yet." in system or "verification is locked out" in system:
                debt_tools = offered & DEBT_TOOLS
                self._check(
                    not debt_tools, None, f"request {n + 1} offered {sorted(debt_tools)} before verification"
                )
        sent = json.dumps(self.llm.requests, ensure_ascii=False)
        joined = _DIGIT_GAPS.sub("", sent)
        for secret in sorted(self.secrets):
            self._check(secret not in sent, None, f"{secret!r} was sent to the model")
            if secret.replace(" ", "").replace("-", "").isdigit():
                self._check(_DIGIT_GAPS.sub("", secret) not in joined, None, f"{secret!r} reached the model")
        if any(
            self.person.dob.strftime("%Y") in s or self.person.dob.strftime("%y") in s for s in self.secrets
        ):
            year = self.person.dob.strftime("%Y")
            self._check(
                re.search(rf"\b{year}\b", sent) is None, None, f"the birth year {year} reached the model"
            )

    def _check_outreach(self, expected: str) -> None:
        person = self.person
        assert person.patient_id is not None, "outreach checks need a known patient"
        result = self.app.run(
            self.app.runtime.outbound_sms.send_sms(
                patient_id=person.patient_id,
                to=person.phone,
                body="Maple Grove Family Dental: please call us at (312) 555-0100. Reply STOP to opt out.",
                purpose="balance",
                initiated_by="agent",
            )
        )
        got = "allowed" if result.sent else result.reason
        ok = got != "allowed" if expected == "blocked" else got == expected  # "blocked": for any reason
        self._check(ok, None, f"an agent-initiated text now: {got!r}, expected {expected!r}")

    # ---- reading state ---------------------------------------------------------------------------

    def _conversations(self) -> list[tuple[str, dict[str, Any]]]:
        """This number's conversations, the one the last text touched first."""

        async def q() -> list[tuple[str, dict[str, Any]]]:
            async with self.app.runtime.sessions() as s:
                rows = await s.execute(
                    select(ConversationRow.id, ConversationRow.state)
                    .where(ConversationRow.contact == self.person.phone)
                    .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
                )
                return [(str(cid), dict(state)) for cid, state in rows]

        return list(self.app.run(q()))

    async def _store(self, ids: list[str]) -> dict[str, Any]:
        """What the record store holds for these conversations (and every row's text, for secret checks)."""
        out: dict[str, Any] = {}
        async with self.app.runtime.sessions() as s:
            out["tasks"] = list(
                (
                    await s.scalars(select(StaffTaskRow.kind).where(StaffTaskRow.conversation_id.in_(ids)))
                ).all()
            )
            out["callbacks"] = len(
                (await s.scalars(select(CallbackRow.id).where(CallbackRow.conversation_id.in_(ids)))).all()
            )
            gid = self.person.guarantor_id
            out["flags"] = (
                list(
                    (
                        await s.scalars(
                            select(AccountFlagRow.flag).where(
                                AccountFlagRow.guarantor_id == gid, AccountFlagRow.on
                            )
                        )
                    ).all()
                )
                if gid
                else []
            )
            texts: list[str] = []
            for model in (
                ConversationRow,
                MessageRow,
                AuditEventRow,
                OutboxRow,
                StaffTaskRow,
                CallbackRow,
                PlanOfferRow,
            ):
                for row in (await s.scalars(select(model))).all():
                    texts.append(
                        json.dumps(
                            {c.key: getattr(row, c.key) for c in model.__table__.columns},
                            default=str,
                            ensure_ascii=False,
                        )
                    )
            out["text"] = "\n".join(texts)
        return out

    def _pms_state(self) -> dict[str, Any]:
        person, pms = self.person, self.app.runtime.pms

        async def q() -> dict[str, Any]:
            out: dict[str, Any] = {"plans": [], "promises": [], "balance": None, "sms_consent": None}
            out["do_not_call"] = None
            if person.guarantor_id is None or person.patient_id is None:
                out["plan_ids"] = out["promise_ids"] = set()
                return out
            plans = await pms.get_payment_plans(person.guarantor_id)
            promises = await pms.get_promises(person.guarantor_id)
            account = await pms.get_account(person.guarantor_id)
            patient = await pms.get_patient(person.patient_id)
            out["plans"] = [_plain(p) for p in plans]
            out["promises"] = [_plain(p) for p in promises]
            out["plan_ids"] = {p.plan_id for p in plans}
            out["promise_ids"] = {p.promise_id for p in promises}
            out["balance"] = account.aging.patient_balance.quantize(Decimal("0.01")) if account else None
            if patient is not None:
                mine = [c for c in patient.phones if c.value == person.phone]
                out["sms_consent"] = mine[0].sms_consent if mine else None
                out["do_not_call"] = patient.preferred_contact == "do_not_call"
            return out

        return dict(self.app.run(q()))

    def _drain(self) -> None:
        for _ in range(5):
            if not self.app.run(self.app.runtime.records.outbox_backlog()):
                break
            self.app.drain_outbox()
        backlog = self.app.run(self.app.runtime.records.outbox_backlog())
        self._check(backlog == 0, None, f"{backlog} PMS writes still queued after draining the outbox")

    def _send_attempts(self) -> int:
        return sum(
            1
            for r in self.app.twilio.requests
            if r.method == "POST"
            and r.path.endswith("/Messages.json")
            and r.form.get("To") == self.person.phone
        )

    # ---- reporting -------------------------------------------------------------------------------

    def _check(self, ok: bool, step: int | None, problem: str) -> None:
        if ok:
            return
        where = f"step {step + 1}" if step is not None else "end"
        raise AssertionError(f"[{self.scenario.name}] {where}: {problem}\n{self.transcript()}")

    def transcript(self) -> str:
        lines = [f"--- {self.scenario.name} ({self.scenario.persona}, {self.person.phone})"]
        for rec in self.steps:
            lines.append(f"{rec.index + 1}. patient: {rec.text!r}")
            for c in rec.calls:
                lines.append(
                    f"     tool {c['name']} {c['arguments']} -> ok={c['result']['ok']} "
                    f"refused={c['result'].get('refused')}"
                )
            for reply in rec.replies:
                lines.append(f"     reply: {reply!r}")
            lines.append(f"     [verified={rec.verified} outcome={rec.outcome}]")
        return "\n".join(lines)


def params(scenarios: list[Scenario]) -> list[ParameterSet]:
    """One pytest param per scenario; a scenario naming a known product bug is a strict xfail."""
    return [
        pytest.param(s, id=s.name, marks=[pytest.mark.xfail(strict=True, reason=s.xfail)] if s.xfail else [])
        for s in scenarios
    ]


def _fallbacks() -> float:
    return REGISTRY.get_sample_value("balanceline_brain_fallbacks_total") or 0.0


def _reply(r: LlmReply, person: Who) -> Reply:
    calls = tuple(
        ToolCall(
            name=c.name,
            arguments=c.arguments
            if isinstance(c.arguments, str)
            else json.dumps(render_data(c.arguments, person)),
        )
        for c in r.tool_calls
    )
    return Reply(text=render(r.text, person), tool_calls=calls)


def _plain(obj: Any) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in obj.__slots__}


def _match(run: Run, what: str, got: dict[str, Any], want: Any) -> None:
    if not isinstance(want, dict):
        raise AssertionError(f"[{run.scenario.name}] {what}: expected a mapping of fields")
    for key, value in want.items():
        have = got.get(key)
        same = str(have) == str(value)
        run._check(same, None, f"{what}.{key} is {have!r}, expected {value!r} ({got})")

"""The same scenario data against LlmBrain: the app is built with OPENAI_API_KEY + OPENAI_BASE_URL
pointing at the loopback OpenAI server, which is scripted per step (the YAML `llm:` entries) with
what a good model would do, or, in the injection scenarios, with what a hijacked one would try.
The tools must refuse what is out of bounds; the safety expectations are the same as for the rules
brain; and no card number or date of birth from any turn ever reaches the model."""

from __future__ import annotations

import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from agent.brains.llm import LlmBrain
from tests.fakes.openai_server import OpenAIFake, Reply
from tests.scenarios.conftest import AppFactory
from tests.scenarios.loader import Scenario, load_all, parse, who
from tests.scenarios.runner import Run, params

SCRIPTED = [s for s in load_all() if s.scripted]


def test_the_scripted_subset_is_representative() -> None:
    themes = {s.theme for s in SCRIPTED}
    assert len(SCRIPTED) >= 12, [s.name for s in SCRIPTED]
    assert {"identity", "third_parties", "plans", "payments", "concerns", "safety", "spanish"} <= themes
    tried = {(c.name, s.name) for s in SCRIPTED for st in s.steps for r in st.llm or () for c in r.tool_calls}
    attempted = {name for name, _ in tried}
    # the hijacked-model attempts the tools must refuse
    assert {"send_payment_link", "log_promise", "lookup_balance", "accept_plan"} <= attempted
    refused = {code for s in SCRIPTED for st in s.steps for code in st.llm_expect.refused}
    assert {"invalid_arguments", "above_balance", "not_verified", "not_offered"} <= refused


@pytest.mark.parametrize("scenario", params(SCRIPTED))
def test_scenario_llm(scenario: Scenario, scenario_app: AppFactory, openai_fake: OpenAIFake) -> None:
    openai_fake.reset()
    app = scenario_app("embedded", OPENAI_API_KEY="test", OPENAI_BASE_URL=openai_fake.base_url)
    assert isinstance(app.runtime.brain, LlmBrain)
    Run(app, scenario, llm=openai_fake).play()


def test_model_is_told_the_apps_date(scenario_app: AppFactory, openai_fake: OpenAIFake) -> None:
    openai_fake.reset()
    app = scenario_app("embedded", OPENAI_API_KEY="test", OPENAI_BASE_URL=openai_fake.base_url)
    openai_fake.script(Reply(text="How can I help?"))
    app.text(who("prompt_payer").phone, "hello")
    system = openai_fake.requests[0]["messages"][0]["content"]
    today = app.clock().astimezone(ZoneInfo(app.runtime.policy.practice.timezone)).date()
    assert re.search(rf"Today is \w+, {today:%B} {today.day}, {today.year}\b", system), system


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ("[{patient: hello, llm: [{text: Hi}, {text: unused}]}]", "asked 1 times, the script has 2"),
        ("[{patient: hello}]", "asked 1 times, the script has 0"),  # unscripted: the rules brain answered
        ("[{patient: hello, llm: [{tool_calls: [{name: lookup_balance}]}, {text: Hi}]}]", "tools called"),
    ],
)
def test_wrong_scripts_fail(
    steps: str, problem: str, scenario_app: AppFactory, openai_fake: OpenAIFake
) -> None:
    openai_fake.reset()
    app = scenario_app("embedded", OPENAI_API_KEY="test", OPENAI_BASE_URL=openai_fake.base_url)
    scenario = parse(f"- {{name: selfcheck, persona: prompt_payer, steps: {steps}}}", "selfcheck")[0]
    with pytest.raises(AssertionError, match=re.escape(problem)):
        Run(app, scenario, llm=openai_fake).play()


@pytest.mark.parametrize(
    "leak",
    [
        "Emily Carter 04/12/1988",
        "card 4242 4242 4242 4242",
        "card 4242-4242-4242-4242",
        "born in 1988",
    ],
)
def test_a_secret_sent_to_the_model_is_caught(leak: str) -> None:
    scenario = parse("- {name: leak, persona: prompt_payer, steps: [{patient: hi}]}", "selfcheck")[0]
    requests: list[dict[str, object]] = []
    run = Run(app=None, scenario=scenario, llm=SimpleNamespace(requests=requests))  # type: ignore[arg-type]
    run.secrets |= {"04/12/1988", "4242 4242 4242 4242", "4242424242424242"}
    run._check_model_requests()  # nothing sent yet: fine
    requests.append({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": leak}]})
    with pytest.raises(AssertionError, match=r"reached the model|was sent to the model"):
        run._check_model_requests()

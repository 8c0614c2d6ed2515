"""The conversation scenarios with PMS=opendental: the app reads and writes the demo practice through
the Open Dental adapter and the loopback Open Dental server (seeded with the same demo practice the
local PMS holds), and the same expectations hold as with the local PMS."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agent.cli import app as cli
from agent.cli_pms import collect_writebacks, merge_into
from agent.store.models import ConversationRow
from pms.opendental import OpenDentalPms
from tests.fakes.opendental_server import FakeOpenDental
from tests.integration.harness import App
from tests.scenarios import conftest as scenarios
from tests.scenarios.conftest import AppFactory
from tests.scenarios.loader import Scenario, load_all, who
from tests.scenarios.runner import Run, params

# the scenario suite's app fixtures
scenario_app, scenario_twilio = scenarios.scenario_app, scenarios.scenario_twilio
sqlite_template, pg_template = scenarios.sqlite_template, scenarios.pg_template


@pytest.fixture(scope="module")
def od_practice() -> Iterator[FakeOpenDental]:
    """Open Dental in Local mode (unthrottled, 1,000-row pages), like a practice's own server."""
    with FakeOpenDental(throttle=False, page_size=1000) as fake:
        yield fake


def opendental_app(factory: AppFactory, od: FakeOpenDental, tier: str = "payments") -> App:
    od.reset()
    od.tier = tier
    app = factory(
        "embedded",
        PMS="opendental",
        OPENDENTAL_BASE_URL=od.base_url,
        OPENDENTAL_DEVELOPER_KEY=od.developer_key,
        OPENDENTAL_CUSTOMER_KEY=od.customer_key,
        OPENDENTAL_TIER=tier,
        OPENDENTAL_MODE="local",
    )
    assert isinstance(app.runtime.pms, OpenDentalPms)
    return app


# A representative subset (every PMS read and write path): 12 of the 93 scenarios run
# by default, all 93 with BALANCELINE_OD_ALL_SCENARIOS=1 (about 3 minutes; they all pass).
SUBSET = {
    "balance-question-waits-for-identity",  # caller-ID match, verification, aging
    "shared-phone-spouse-verifies-as-herself",  # several patients on one number
    "minor-patient-is-sent-to-staff",  # family / guarantor
    "stop-form-stop-upper-with-optouttype",  # opt-out: PUT patients (TxtMsgOk, DoNotCall) + comm log
    "promise-fifty-on-friday",  # promise: comm log + task, read back as a promise
    "pay-now-gets-a-link-for-the-ledger-balance",
    "plan-options-then-choose-by-number",  # POST payplans/Dynamic over the open procedures
    "plan-refused-on-attorney-account",  # attorney flag from FamFinUrgNote
    "plan-large-balance-needs-staff-approval",
    "dispute-already-paid",  # dispute flag, ledger and claims (explain charges)
    "spanish-cuanto-debo",  # Language "spa"
    "relative-reports-patient-passed-away",  # PatStatus Deceased
}
ALL = load_all()
CHOSEN = ALL if os.environ.get("BALANCELINE_OD_ALL_SCENARIOS") else [s for s in ALL if s.name in SUBSET]


def test_the_subset_names_real_scenarios() -> None:
    assert {s.name for s in ALL} >= SUBSET


@pytest.mark.parametrize("scenario", params(CHOSEN))
def test_scenario_on_opendental(
    scenario: Scenario, scenario_app: AppFactory, od_practice: FakeOpenDental
) -> None:
    Run(opendental_app(scenario_app, od_practice), scenario).play()


def test_a_read_only_tier_queues_writes_for_staff_and_says_so(
    scenario_app: AppFactory, od_practice: FakeOpenDental, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tier "read": the promise is not promised as recorded ("our billing team will update your
    account"), nothing is POSTed to Open Dental, and the write-back export lists it once, however
    often it is exported."""
    app = opendental_app(scenario_app, od_practice, tier="read")
    person = who("prompt_payer")
    app.text(person.phone, f"{person.name} {person.dob:%m/%d/%Y}")
    app.text(person.phone, "I can pay $50 on Friday")
    reply = app.replies_to(person.phone)[-1]
    assert "$50.00" in reply and "on your account" not in reply, reply
    call = app.run(_last_tool_call(app, person.phone))
    assert call["name"] == "log_promise" and call["result"]["ok"]
    assert "Our billing team will update your account." in call["result"]["message"]  # what the LLM may say
    app.drain_outbox()
    assert not [r for r in od_practice.requests if r.method != "GET"]  # not even a query (PUT)

    rows = app.run(collect_writebacks(app.runtime.sessions, pms_kind="opendental"))
    promise = [r for r in rows if r["kind"] == "promise"]
    assert len(promise) == 1 and promise[0]["what"] == "Promise to pay $50.00 by 2026-11-06"
    assert promise[0]["writeback_id"].startswith("cx:") and promise[0]["writeback_id"] in promise[0]["note"]

    ready = app.client.get("/readyz").json()["checks"]["pms"]
    assert ready["ok"] and ready["kind"] == "opendental" and ready["tier"] == "read"
    assert ready["writes"]["promise"] == "manual" and ready["outbox"]["backlog"] == 0
    assert ready["last_aging_at"].startswith("2026-11-02")

    out = tmp_path / "writebacks.csv"
    for name, value in {
        "DATABASE_URL": app.settings.database_url,
        "PMS": "opendental",
        "OPENDENTAL_BASE_URL": od_practice.base_url,
        "OPENDENTAL_DEVELOPER_KEY": od_practice.developer_key,
        "OPENDENTAL_CUSTOMER_KEY": od_practice.customer_key,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["pms", "export-writebacks", "--out", str(out)])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, ["pms", "export-writebacks", "--out", str(out), "--since", "2026-11-01"])
    assert again.exit_code == 0, again.output
    with out.open(newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert sorted(r["writeback_id"] for r in exported) == sorted(r["writeback_id"] for r in rows)
    assert "0 new write-backs" in again.output


async def _last_tool_call(app: App, phone: str) -> dict[str, Any]:
    async with app.runtime.sessions() as s:
        state = (
            await s.execute(select(ConversationRow.state).where(ConversationRow.contact == phone))
        ).scalar_one()
    return dict(state["tool_calls"][-1])


def test_open_dental_down_is_not_ready(scenario_app: AppFactory, od_practice: FakeOpenDental) -> None:
    app = opendental_app(scenario_app, od_practice)
    od_practice.econnector_down = True
    response = app.client.get("/readyz")
    assert response.status_code == 503
    pms = response.json()["checks"]["pms"]
    assert not pms["ok"] and "eConnector" in pms["detail"]


def test_a_text_while_open_dental_is_down_still_gets_an_answer(
    scenario_app: AppFactory, od_practice: FakeOpenDental
) -> None:
    app = opendental_app(scenario_app, od_practice)
    od_practice.econnector_down = True
    phone = "+17635550101"
    response = app.text(phone, "how much do I owe")
    assert response.status_code == 200, response.text
    replies = app.replies_to(phone)
    assert replies and "$" not in replies[-1]  # asked who they are; nothing about any balance
    od_practice.econnector_down = False


def test_a_csv_practice_gets_every_write_back_in_the_export(scenario_app: AppFactory, tmp_path: Path) -> None:
    """PMS=csv (Dentrix, Eaglesoft, Curve): the local PMS records the promise for BalanceLine, the
    patient hears that the billing team will update the account, and staff get it in the export."""
    app = scenario_app("embedded", PMS="csv")
    assert app.runtime.pms.capabilities().promise == "manual"
    person = who("prompt_payer")
    app.text(person.phone, f"{person.name} {person.dob:%m/%d/%Y}")
    app.text(person.phone, "I can pay $50 on Friday")
    call = app.run(_last_tool_call(app, person.phone))
    assert (
        call["name"] == "log_promise"
        and "Our billing team will update your account." in call["result"]["message"]
    )
    app.drain_outbox()
    assert person.guarantor_id is not None
    promises = app.run(app.runtime.pms.get_promises(person.guarantor_id))
    assert [(p.amount, p.due_on.isoformat()) for p in promises][:1] == [(Decimal("50.00"), "2026-11-06")]

    rows = app.run(collect_writebacks(app.runtime.sessions, pms_kind="csv"))
    assert {r["kind"] for r in rows} >= {"promise", "comm_log"}
    out = tmp_path / "queue.csv"
    assert merge_into(out, rows) == (len(rows), len(rows))
    assert merge_into(out, rows + rows) == (0, len(rows))  # re-exports never duplicate
    with out.open(newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)


def test_the_outreach_plan_over_open_dental(scenario_app: AppFactory, od_practice: FakeOpenDental) -> None:
    """Today's worklist (a preview: nothing persisted) over Open Dental holds the same accounts as over
    the local PMS with the same practice, and the same ones are never to be contacted (attorney,
    deceased, agency, credit, insurance-only). Tiers may differ where Open Dental has less to go on:
    it ages an account by its aging buckets (no oldest-unpaid-charge date), and promise history from
    before BalanceLine is not in Open Dental (docs/pms.md)."""
    from agent.outreach.service import OutreachService

    def worklist(app: App) -> dict[str, str]:
        summary = app.run(OutreachService.from_runtime(app.runtime).plan(persist=False))
        return {i.patient_id: i.tier for i in summary.items}

    local = worklist(scenario_app("embedded"))
    od = worklist(opendental_app(scenario_app, od_practice))
    assert len(local) > 20 and od.keys() == local.keys()
    never = {pid for pid, tier in local.items() if tier == "do_not_contact"}
    assert never and {pid for pid, tier in od.items() if tier == "do_not_contact"} == never

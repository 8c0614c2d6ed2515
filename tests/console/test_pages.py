"""Console pages and staff actions: audited, written back to the PMS through the outbox, no PHI in
the server's logs."""

from __future__ import annotations

import json

import pytest

from agent.logs import configure_logging
from pms.demo.personas import PERSONAS
from tests.console.conftest import Console, csrf_of
from tests.phi_scan import leaked

PAYER = PERSONAS["prompt_payer"]  # Emily Carter, patient 1
PLAN = PERSONAS["plan_candidate"]


def _audit_kinds(console: Console, patient_id: str) -> list[str]:
    return [e["kind"] for e in console.app.run(console.app.runtime.records.list_audit(patient_id=patient_id))]


def test_account_page_shows_the_account_in_plain_language(console: Console) -> None:
    client = console.login("collector")
    page = client.get(f"/console/accounts/{PLAN.patient_id}")
    assert page.status_code == 200
    html = page.text
    assert PLAN.name in html and "Patient balance" in html and "Ledger" in html
    assert "Record phone consent" not in html  # a collector may not
    assert client.get("/console/accounts/no-such-patient").status_code == 404
    manager = console.login("billing_manager").get(f"/console/accounts/{PLAN.patient_id}").text
    assert "Record phone consent" in manager


def test_actions_are_audited_and_reach_the_pms(console: Console, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    note = "Spoke with Emily Carter at +17635550101, born 04/12/1988; will pay Friday"
    client = console.login("billing_manager")
    pid = PAYER.patient_id
    token = csrf_of(client.get(f"/console/accounts/{pid}").text)

    def post(action: str, **data: str) -> str:
        resp = client.post(
            f"/console/accounts/{pid}/{action}", data={**data, "csrf_token": token}, follow_redirects=False
        )
        assert resp.status_code == 303, resp.text
        return str(resp.headers["location"])

    assert "done=" in post("note", text=note)
    assert "error=" in post("note", text="   ")
    assert "done=" in post("pause", on="1")
    page = client.get(f"/console/accounts/{pid}").text
    assert "Resume outreach" in page and "paused" in page
    assert "done=" in post("pause", on="0")
    assert "error=" in post("consent", phone="+19995550000", channel="sms")
    assert "done=" in post("consent", phone=PAYER.phone or "", channel="voice")
    console.app.run(
        console.app.runtime.records.set_account_flag(guarantor_id=pid, flag="dispute", on=True, reason="t")
    )
    assert "Mark dispute resolved" in client.get(f"/console/accounts/{pid}").text
    assert "error=" in post("dispute-resolved", resolution="")
    assert "done=" in post("dispute-resolved", resolution="Insurance reprocessed the claim")
    assert "dispute" not in client.get(f"/api/accounts/{pid}").json()["flags"]

    kinds = _audit_kinds(console, pid)
    for kind in (
        "console.note_added",
        "console.outreach_paused",
        "console.outreach_resumed",
        "console.consent_recorded",
        "console.dispute_resolved",
        "pms_write.queued",
    ):
        assert kind in kinds, kind
    audit = console.app.run(console.app.runtime.records.list_audit(patient_id=pid))
    assert {e["actor"] for e in audit if e["kind"].startswith("console.")} == {"billing_manager"}
    assert client.get(f"/api/accounts/{pid}").json()["consent"]["voice"] == "opted_in"

    console.app.drain_outbox()
    comm = console.app.run(console.app.runtime.pms.get_comm_history(pid))
    notes = " | ".join(c.note for c in comm)
    assert "will pay Friday" in notes and "04/12/1988" not in notes  # stored redacted
    assert "dispute marked resolved" in notes and "outreach paused" in notes

    out = capsys.readouterr()
    logs = out.out + out.err
    assert "console.login" in logs
    phi = ("Emily", "Carter", "+17635550101", "7635550101", "1988", "pay Friday", "reprocessed")
    assert leaked(logs, phi) == []


def test_sms_simulator_texts_through_the_real_channel(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True)
    client = console.login("collector")
    token = csrf_of(client.get("/console/try/sms").text)
    persona = PERSONAS["small_balance"]

    def text(body: str) -> dict[str, str]:
        resp = client.post(
            "/console/try/sms", data={"persona": persona.key, "body": body}, headers={"X-CSRF-Token": token}
        )
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    first = text("how much do I owe?")
    assert first["kind"] == "conversation" and "date of birth" in (first["reply"] or "")
    second = text(f"{persona.name}, {persona.date_of_birth.strftime('%m/%d/%Y')}")
    assert "$42.00" in (second["reply"] or ""), second
    assert console.app.twilio.messages == [] or all(
        m.get("To") != persona.phone for m in console.app.twilio.messages
    )
    conv = client.get(f"/api/conversations/{second['conversation_id']}").json()
    assert [t["speaker"] for t in conv["turns"]][:2] == ["patient", "agent"]
    assert (
        client.post(
            "/console/try/sms", data={"persona": "nobody", "body": "hi"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 422
    )
    logs = "".join(capsys.readouterr())
    phi = (persona.name, persona.phone or "-", "42.00", persona.date_of_birth.strftime("%m/%d/%Y"))
    assert leaked(logs, phi) == []


def test_worklist_audit_dashboard_and_transfers_render(console: Console) -> None:
    manager = console.login("billing_manager")
    worklist = manager.get("/console/worklist").text
    assert "Today&#39;s worklist" in worklist or "Today's worklist" in worklist
    assert "tier-" in worklist
    assert "is not in this build" not in worklist  # the planner's /api/worklist is read with this session
    assert "compliance check passed" in worklist or "not planned" in worklist
    audit = manager.get("/console/audit", params={"kind": "console.login"}).text
    assert "console.login" in audit
    assert "Since must be a date" in manager.get("/console/audit", params={"since": "yesterday"}).text
    dash = manager.get("/console/dashboard", params={"days": 30}).text
    assert "Dollars collected" in dash and "<svg" in dash and "Days in A/R" in dash
    assert manager.get("/console/dashboard", params={"days": 0}).status_code == 422
    rt = console.app.runtime
    task = console.app.run(
        rt.records.create_staff_task(
            kind="transfer",
            patient_id=PLAN.patient_id,
            conversation_id=None,
            summary="wants a longer plan",
            context={
                "verified": True,
                "balance": "1850.00",
                "ask": "a 12-month plan",
                "offered": ["6 x $308.33"],
            },
        )
    )
    page = manager.get("/console/transfers").text
    assert "a 12-month plan" in page and "$1,850.00" in page
    token = csrf_of(page)
    assert (
        manager.post(
            f"/console/transfers/{task}/done", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert "a 12-month plan" not in manager.get("/console/transfers").text
    assert json.loads(manager.get("/api/transfers").text) == [] or all(
        c["transfer_id"] != task for c in manager.get("/api/transfers").json()
    )


def test_static_assets_are_served_locally_and_nothing_else(console: Console) -> None:
    for name in ("console.css", "console.js", "live.js", "softphone.js", "mic-worklet.js", "sms.js"):
        assert console.client.get(f"/console/static/{name}").status_code == 200
    assert console.client.get("/console/static/..%2Fauth.py").status_code == 404
    page = console.login("admin").get("/console/worklist")
    assert "http://" not in page.text.split("<main>")[0] and "https://" not in page.text.split("<main>")[0]
    assert "default-src 'self'" in page.headers["content-security-policy"]

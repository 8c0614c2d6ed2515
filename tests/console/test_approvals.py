"""Approving a payment plan that policy holds for a person: re-checked, written to the PMS, audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pms.demo.personas import PERSONAS
from policies.types import PlanTerms
from tests.console.conftest import Console, csrf_of
from tools.plans import terms_to_dict

BIG = PERSONAS["large_balance_needs_approval"]  # Robert Jensen, $3,480: plans need approval


def _text(client, token: str, body: str) -> str:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/console/try/sms", data={"persona": BIG.key, "body": body}, headers={"X-CSRF-Token": token}
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["reply"] or "")


def _pending_plan(console: Console) -> None:
    client = console.login("collector")
    token = csrf_of(client.get("/console/try/sms").text)
    _text(client, token, "what do I owe?")
    assert "3,480.00" in _text(client, token, f"{BIG.name} {BIG.date_of_birth:%m/%d/%Y}")
    assert "1)" in _text(client, token, "PLAN")
    assert "review that plan" in _text(client, token, "YES")


def test_a_manager_approves_a_plan_and_it_reaches_the_pms(console: Console) -> None:
    _pending_plan(console)
    manager = console.login("billing_manager")
    page = manager.get("/console/approvals").text
    assert "Payment plan" in page and f"/console/accounts/{BIG.patient_id}" in page
    approval_id = page.split('data-approval="', 1)[1].split('"', 1)[0]
    token = csrf_of(page)
    assert console.app.run(console.app.runtime.pms.get_payment_plans(BIG.guarantor_id)) == []
    resp = manager.post(
        f"/console/approvals/{approval_id}",
        data={"decision": "approve", "kind": "plan", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and "done=" in resp.headers["location"], resp.headers["location"]
    again = manager.post(
        f"/console/approvals/{approval_id}",
        data={"decision": "approve", "kind": "plan", "csrf_token": token},
        follow_redirects=False,
    )
    assert "error=" in again.headers["location"]  # decided once
    console.app.drain_outbox()
    plans = console.app.run(console.app.runtime.pms.get_payment_plans(BIG.guarantor_id))
    assert len(plans) == 1 and plans[0].status == "active"
    kinds = [
        e["kind"] for e in console.app.run(console.app.runtime.records.list_audit(patient_id=BIG.patient_id))
    ]
    assert "console.plan_approved" in kinds
    assert f'data-approval="{approval_id}"' not in manager.get("/console/approvals").text
    # a collector may neither see nor decide approvals
    collector = console.login("collector")
    assert collector.get("/console/approvals").status_code == 403


def test_a_rejected_plan_is_not_written_to_the_pms(console: Console) -> None:
    rt = console.app.runtime
    before = len(console.app.run(rt.pms.get_payment_plans(BIG.guarantor_id)))
    terms = PlanTerms(
        plan_key="m12",
        total=Decimal("3480.00"),
        down_payment=Decimal("0"),
        installment_amount=Decimal("290.00"),
        installments=12,
        frequency="monthly",
        first_due=date(2026, 12, 1),
        needs_staff_approval=True,
    )
    task_id = console.app.run(
        rt.records.create_staff_task(
            kind="plan_approval",
            patient_id=BIG.patient_id,
            conversation_id=None,
            summary="Approve payment plan",
            context={"plan": terms_to_dict(terms), "offer_id": "po_test"},
        )
    )
    manager = console.login("admin")
    page = manager.get("/console/approvals").text
    assert f'data-approval="{task_id}"' in page
    resp = manager.post(
        f"/console/approvals/{task_id}",
        data={"decision": "reject", "kind": "plan", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert "done=" in resp.headers["location"]
    console.app.drain_outbox()
    assert len(console.app.run(rt.pms.get_payment_plans(BIG.guarantor_id))) == before
    kinds = [e["kind"] for e in console.app.run(rt.records.list_audit(patient_id=BIG.patient_id))]
    assert "console.plan_rejected" in kinds

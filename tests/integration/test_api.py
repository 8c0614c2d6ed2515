"""The JSON API contract: authentication and the field names outside tools read."""

from __future__ import annotations

from pms.demo.personas import PERSONAS
from tests.integration.harness import App

AUTH = {"Authorization": "Bearer test-token"}
ROUTES = ["/api/accounts", "/api/accounts/1", "/api/conversations/x", "/api/transfers", "/api/audit"]


def test_every_api_route_refuses_anonymous_and_wrong_token(app: App) -> None:
    for path in ROUTES:
        assert app.client.get(path).status_code == 401, path
        assert app.client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401, path
        assert app.client.get(path, headers={"Authorization": "Basic dGVzdC10b2tlbg=="}).status_code == 401


def test_account_list_and_detail_fields(app: App) -> None:
    r = app.client.get("/api/accounts?has_balance=true&limit=20", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 20 and len(body["items"]) == 20
    item = body["items"][0]
    for key in (
        "patient_id",
        "guarantor_id",
        "name",
        "date_of_birth",
        "phones",
        "timezone",
        "patient_balance",
        "tier",
    ):
        assert key in item
    assert all(float(i["patient_balance"]) > 0 for i in body["items"])
    assert all(isinstance(i["patient_balance"], str) for i in body["items"])  # money as decimal strings

    p = PERSONAS["plan_candidate"]
    d = app.client.get(f"/api/accounts/{p.patient_id}", headers=AUTH).json()
    assert d["patient_balance"] == "1850.00"
    assert set(d["aging"]) >= {
        "bal_0_30",
        "bal_31_60",
        "bal_61_90",
        "bal_over_90",
        "insurance_estimate",
        "patient_balance",
    }
    assert set(d["consent"]) == {"sms", "voice", "email"}
    for key in ("flags", "plans", "promises", "payments", "conversations", "transfers"):
        assert isinstance(d[key], list)
    assert d["phones"] == [p.phone]


def test_flags_show_edge_cases(app: App) -> None:
    for key, flag in (
        ("deceased", "deceased"),
        ("attorney", "attorney"),
        ("credit_balance", "credit_balance"),
    ):
        p = PERSONAS[key]
        d = app.client.get(f"/api/accounts/{p.guarantor_id}", headers=AUTH).json()
        assert flag in d["flags"], (key, d["flags"])


def test_unknown_account_is_404(app: App) -> None:
    assert app.client.get("/api/accounts/does-not-exist", headers=AUTH).status_code == 404


def test_conversation_transcript_is_redacted_and_audit_is_queryable(app: App) -> None:
    p = PERSONAS["prompt_payer"]
    dob = p.date_of_birth.strftime("%m/%d/%Y")
    app.text(p.phone, "what do I owe?")
    app.text(p.phone, f"{p.name} {dob}")
    d = app.client.get(f"/api/accounts/{p.patient_id}", headers=AUTH).json()
    assert d["conversations"], d
    cid = d["conversations"][0]["conversation_id"]
    conv = app.client.get(f"/api/conversations/{cid}", headers=AUTH).json()
    assert [t["speaker"] for t in conv["turns"]][:2] == ["patient", "agent"]
    text = " ".join(t["text"] for t in conv["turns"])
    assert dob not in text  # DOB is redacted in the stored transcript
    assert any(c["name"] == "verify_identity" for c in conv["tool_calls"])
    assert all(dob not in str(c["arguments"]) for c in conv["tool_calls"])
    audit = app.client.get(f"/api/audit?patient_id={p.patient_id}", headers=AUTH).json()
    assert any(e["kind"].startswith("tool.") for e in audit)
    assert app.client.get("/api/audit?since=2026-11-01T00:00:00", headers=AUTH).status_code == 422


def test_openapi_describes_the_api(app: App) -> None:
    spec = app.client.get("/openapi.json").json()
    for path in (
        "/api/accounts",
        "/api/accounts/{patient_id}",
        "/api/conversations/{conversation_id}",
        "/api/transfers",
        "/api/audit",
        "/twilio/sms/inbound",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in spec["paths"], path


def test_ops_endpoints(app: App) -> None:
    ready = app.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] and checks["state"]["ok"] and checks["pms"]["ok"]
    app.text(PERSONAS["prompt_payer"].phone, "what do I owe?")
    metrics = app.client.get("/metrics").text
    assert "balanceline_webhooks_total" in metrics
    assert 'balanceline_sms_sent_total{result="sent"}' in metrics

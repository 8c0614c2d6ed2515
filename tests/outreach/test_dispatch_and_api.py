"""Dispatch outcomes (retry with backoff, permanent failure, blocked), the approval API, the
worklist API, the promise reconciliation (API + CLI) and `balanceline outreach plan|run`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.app import create_app
from agent.cli import app as cli
from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus
from agent.outreach.service import OutreachService
from agent.settings import Settings
from pms.types import PaymentWrite
from tests.outreach.sim import START, Clock, make_runtime, policy_file

TOKEN = "outreach-test-token"


@dataclass
class ScriptedChannel:
    """A vendor stand-in at the channel seam that answers from a script (and, on SENT, records the
    counted attempt as real channels do)."""

    records: object
    script: list[DispatchStatus]
    name: str = "sms"
    calls: list[ContactRequest] = field(default_factory=list)

    async def dispatch(self, req: ContactRequest) -> DispatchResult:
        self.calls.append(req)
        status = self.script.pop(0) if self.script else DispatchStatus.SENT
        if status == DispatchStatus.SENT:
            await self.records.record_attempt(  # type: ignore[attr-defined]
                channel=req.channel, to=req.to, patient_id=req.patient_id, guarantor_id=req.patient_id,
                provider_sid=f"SM{req.attempt_id}",
            )  # fmt: skip
            return DispatchResult(status, provider_ref=f"SM{req.attempt_id}")
        return DispatchResult(status, detail=f"scripted_{status.value}")


async def test_transient_failures_retry_with_backoff_and_permanent_ones_never(
    demo_sqlite: str, tmp_path: Path
) -> None:
    clock = Clock(START + timedelta(hours=4, minutes=30))
    rt = await make_runtime(demo_sqlite, policy_file(tmp_path, "autonomous"), clock)
    try:
        flaky = ScriptedChannel(rt.records, [DispatchStatus.TRANSIENT, DispatchStatus.TRANSIENT])
        service = OutreachService.from_runtime(rt, channels={"sms": flaky}, worker="w")
        await service.plan()
        due = await service.store.due_job_ids(clock())
        assert len(due) >= 2
        first, second = due[0], due[1]
        d = service.dispatcher()
        assert await d.dispatch(first) == "retry"
        job = await service.store.get_job(first)
        assert job is not None and job.state == "scheduled" and job.tries == 1
        assert job.due_at == clock() + timedelta(seconds=300)
        assert await d.dispatch(first) == "not_claimed", "not due yet"
        clock.now = job.due_at
        assert await d.dispatch(first) == "retry"
        job = await service.store.get_job(first)
        assert job is not None and job.due_at == clock() + timedelta(seconds=600), "the delay doubles"
        clock.now = job.due_at
        assert await d.dispatch(first) == "sent"
        assert [c.attempt_id for c in flaky.calls] == [first] * 3, "one idempotency key across retries"

        flaky.script = [DispatchStatus.PERMANENT]
        clock.now += timedelta(days=1)  # past the 20 h gap between contacts of one account
        assert await d.dispatch(second) == "failed_permanent"
        job = await service.store.get_job(second)
        assert (
            job is not None and job.state == "failed_permanent" and job.detail == "scripted_failed_permanent"
        )
        assert await d.dispatch(second) == "not_claimed"
    finally:
        await rt.close()


@pytest.fixture
def app_env(demo_sqlite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATABASE_URL", demo_sqlite)
    monkeypatch.setenv("BALANCELINE_API_TOKEN", TOKEN)
    monkeypatch.setenv("POLICY_FILE", str(policy_file(tmp_path, "recommend")))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return Settings()  # type: ignore[call-arg]


def test_worklist_approvals_and_promise_report_over_the_api_and_cli(
    app_env: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["outreach", "plan"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Outreach worklist" in result.output and "not_eligible" in result.output

    result = runner.invoke(cli, ["outreach", "run", "--plan-only"])
    assert result.exit_code == 0, result.output
    assert "awaiting_approval" in result.output

    with TestClient(create_app(app_env, background=False)) as client:
        assert client.get("/api/worklist").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        items = client.get("/api/worklist", headers=auth).json()["items"]
        by_id = {i["patient_id"]: i for i in items}
        assert by_id["5"]["decision"]["allowed"] is False and by_id["5"]["next_step"]["kind"] == "none"
        for item in items:
            assert {"patient_id", "tier", "score", "reasons", "next_step", "decision"} <= set(item)
            assert {"channel", "at", "purpose"} <= set(item["next_step"])
            assert {"allowed", "reason", "next_allowed_at"} <= set(item["decision"])
        planned = [i for i in items if i["status"] == "awaiting_approval"]
        assert planned and all(i["next_step"]["at"] for i in planned)

        pending = client.get("/api/approvals", headers=auth).json()
        assert pending and all(p["state"] == "awaiting_approval" for p in pending)
        one, two = pending[0]["job_id"], pending[1]["job_id"]
        ok = client.post(f"/api/approvals/{one}/approve", headers=auth)
        assert ok.status_code == 200 and ok.json()["state"] == "scheduled"
        assert client.post(f"/api/approvals/{one}/approve", headers=auth).status_code == 409
        assert client.post(f"/api/approvals/{two}/reject", headers=auth).json()["state"] == "rejected"
        assert client.post("/api/approvals/oj_nope/approve", headers=auth).status_code == 404
        assert client.post(f"/api/approvals/{two}/maybe", headers=auth).status_code == 422

        rt = client.app.state.runtime  # type: ignore[attr-defined]
        now = rt.clock()
        portal = client.portal
        assert portal is not None
        records, pms = rt.records, rt.pms

        async def seed() -> str:
            kept = await records.record_promise(guarantor_id="1", amount=Decimal("40.00"),
                                                due_on=now.date() + timedelta(days=2), conversation_id="cv1",
                                                channel="sms")  # fmt: skip
            await records.record_promise(guarantor_id="2", amount=Decimal("100.00"),
                                         due_on=now.date() - timedelta(days=10), conversation_id="cv2",
                                         channel="voice")  # fmt: skip
            await pms.record_payment(
                PaymentWrite("t-pay", "1", Decimal("40.00"), now.date(), "portal", "t-pay")
            )
            return str(kept)

        kept = portal.call(seed)
        week = now.date().isoformat()
        report = client.get(f"/api/reports/promises?week={week}", headers=auth).json()
        outcomes = {p["patient_id"]: p["outcome"] for p in report["promises"]}
        assert outcomes == {"1": "kept", "2": "broken"}
        assert report["promised"] == "140.00" and report["paid"] == "40.00"
        text = client.get(f"/api/reports/promises?week={week}&format=csv", headers=auth).text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {r["promise_id"] for r in rows} >= {kept} and rows[0]["outcome"] in ("kept", "broken")
        assert client.get("/api/reports/promises?week=soon", headers=auth).status_code == 422

    out = tmp_path / "promises.csv"
    result = runner.invoke(cli, ["outreach", "reconcile", "--week", week, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("promise_id,patient_id,made_at")
    assert runner.invoke(cli, ["outreach", "reconcile", "--week", "nope"]).exit_code == 2

"""Outreach JSON API: the worklist, the approval queue and the weekly promise reconciliation.

Same authentication as the rest of `/api` (bearer token or console session).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from agent.outreach.reconcile import promise_report
from agent.outreach.service import OutreachService
from agent.outreach.worklist import as_of, item_out, job_out
from agent.routes.deps import get_runtime, require_api_auth

router = APIRouter(prefix="/api", tags=["outreach"], dependencies=[Depends(require_api_auth)])


def _service(request: Request) -> OutreachService:
    return OutreachService.from_runtime(get_runtime(request))


@router.get("/worklist")
async def worklist(
    request: Request,
    day: Annotated[
        date | None, Query(alias="date", description="Plan as of this day (default today).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Every account with a balance: tier, score, reasons, next cadence step and the gate's decision.
    A preview: nothing is scheduled by reading it."""
    service = _service(request)
    summary = await service.plan(persist=False, now=as_of(day, service.clock(), service.tz))
    items = sorted(summary.items, key=lambda i: -i.score)
    return {"total": len(items), "limit": limit, "offset": offset,
            "items": [item_out(i) for i in items[offset : offset + limit]]}  # fmt: skip


@router.get("/approvals")
async def approvals(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    """Planned contacts waiting for a staff decision (automation modes recommend and assisted)."""
    jobs = await _service(request).store.list_jobs(states=("awaiting_approval",), limit=limit)
    return [job_out(j) for j in jobs]


@router.post("/approvals/{job_id}/{verdict}")
async def decide(request: Request, job_id: str, verdict: Literal["approve", "reject"]) -> dict[str, Any]:
    store = _service(request).store
    job = await store.decide(job_id, approve=verdict == "approve", actor="api")
    if job is not None:
        return job_out(job)
    existing = await store.get_job(job_id)
    if existing is None:
        raise HTTPException(status_code=404, detail=f"no outreach job {job_id}")
    raise HTTPException(status_code=409, detail=f"job {job_id} is {existing.state}, not awaiting approval")


@router.get("/reports/promises", response_model=None)
async def promises(
    request: Request,
    week: Annotated[str, Query(description="ISO week (2026-W45) or any date in it.")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """Promises the agent recorded that week vs payments actually posted (kept, partly kept, broken, pending)."""
    service = _service(request)
    try:
        report = await promise_report(service.store, service.pms, service.policy, week, service.clock())
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    if format == "csv":
        return PlainTextResponse(report.to_csv(), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="promises-{report.week}.csv"'})  # fmt: skip
    return {
        "week": report.week,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "promised": str(report.total("amount")),
        "paid": str(report.total("paid_amount")),
        "counts": {o: report.count(o) for o in ("kept", "partly_kept", "broken", "pending")},
        "promises": [
            {"promise_id": x.promise_id, "patient_id": x.patient_id, "made_at": x.made_at.isoformat(),
             "channel": x.channel, "amount": str(x.amount), "due_on": x.due_on.isoformat(),
             "paid_amount": str(x.paid_amount), "last_paid_on": x.last_paid_on.isoformat() if x.last_paid_on else None,
             "outcome": x.outcome}
            for x in report.lines
        ],
    }  # fmt: skip

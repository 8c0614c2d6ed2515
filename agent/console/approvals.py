"""The approval queue: what policy says a person must approve before the agent acts (plans outside
the automatic terms, outreach in supervised mode). The queue itself belongs to the outreach
module (issue 5, `agent.outreach.approvals`); this page shows it and posts decisions to it.
Without that module the page says so instead of inventing a queue."""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from agent.console.auth import Staff, require_staff
from agent.console.templating import render

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(require_staff)])
StaffDep = Annotated[Staff, Depends(require_staff)]
APPROVALS = "live:approvals"


def _queue() -> Any | None:
    try:
        module = importlib.import_module("agent.outreach.approvals")
    except ImportError:
        return None
    return module if hasattr(module, "list_pending") and hasattr(module, "decide") else None


@router.get("/approvals")
async def approvals_page(request: Request, staff: StaffDep, done: str = "") -> Response:
    queue = _queue()
    items = await queue.list_pending(request.app.state.runtime) if queue else []
    return render(
        request, "approvals.html", staff, items=items, available=queue is not None, flash=done or None
    )


@router.post("/approvals/{approval_id}")
async def decide(
    request: Request,
    staff: StaffDep,
    approval_id: str,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
) -> Response:
    queue = _queue()
    if queue is None:
        raise HTTPException(status_code=404, detail="the approval queue is not installed")
    rt = request.app.state.runtime
    await queue.decide(rt, approval_id, approve=decision == "approve", actor=staff.username)
    await rt.state.publish(
        APPROVALS, json.dumps({"event": "decided", "approval_id": approval_id, "at": rt.clock().isoformat()})
    )
    return RedirectResponse(
        f"/console/approvals?done={'Approved' if decision == 'approve' else 'Rejected'}.", status_code=303
    )

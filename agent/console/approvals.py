"""The approval queue: what policy says a person must approve before it happens.

Two sources: payment plans waiting for approval (`agent.console.plan_approvals`, the staff tasks
the `accept_plan` tool creates) and planned outreach contacts the automation mode holds for a
person (`agent.outreach.approvals`, when the outreach module is installed).
"""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from agent.console import plan_approvals
from agent.console.actions import ActionError
from agent.console.auth import Staff, require_staff
from agent.console.templating import render

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(require_staff)])
StaffDep = Annotated[Staff, Depends(require_staff)]
APPROVALS = "live:approvals"


def _outreach() -> Any | None:
    try:
        module = importlib.import_module("agent.outreach.approvals")
    except ImportError:
        return None
    return module if hasattr(module, "list_pending") and hasattr(module, "decide") else None


@router.get("/approvals")
async def approvals_page(request: Request, staff: StaffDep, done: str = "", error: str = "") -> Response:
    rt = request.app.state.runtime
    outreach = _outreach()
    return render(
        request,
        "approvals.html",
        staff,
        plans=await plan_approvals.list_pending(rt),
        contacts=await outreach.list_pending(rt) if outreach else [],
        outreach_installed=outreach is not None,
        flash=done or error or None,
        flash_error=bool(error),
    )


@router.post("/approvals/{approval_id}")
async def decide(
    request: Request,
    staff: StaffDep,
    approval_id: str,
    decision: Annotated[Literal["approve", "reject"], Form()],
    kind: Annotated[Literal["plan", "outreach"], Form()] = "outreach",
) -> Response:
    from urllib.parse import urlencode

    rt = request.app.state.runtime
    approve = decision == "approve"
    if kind == "plan":
        try:
            message = await plan_approvals.decide(rt, approval_id, approve=approve, actor=staff.username)
        except ActionError as exc:
            return RedirectResponse(f"/console/approvals?{urlencode({'error': str(exc)})}", status_code=303)
        return RedirectResponse(f"/console/approvals?{urlencode({'done': message})}", status_code=303)
    outreach = _outreach()
    if outreach is None:
        raise HTTPException(status_code=404, detail="the outreach approval queue is not installed")
    if not await outreach.decide(rt, approval_id, approve=approve, actor=staff.username):
        return RedirectResponse(
            f"/console/approvals?{urlencode({'error': 'that contact is no longer waiting for approval'})}",
            status_code=303,
        )
    await rt.state.publish(
        APPROVALS, json.dumps({"event": "decided", "approval_id": approval_id, "at": rt.clock().isoformat()})
    )
    message = "Contact approved: it will go out at its planned time." if approve else "Contact rejected."
    return RedirectResponse(f"/console/approvals?{urlencode({'done': message})}", status_code=303)

"""The JSON API for machines and the console (bearer token or console session)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from agent.accounts import account_detail, account_list_items, transfer_card
from agent.api_models import (
    AccountDetail,
    AccountList,
    AuditEventOut,
    ConversationDetail,
    ToolCallOut,
    TransferCardOut,
    TurnOut,
)
from agent.routes.deps import get_runtime, require_api_auth

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_api_auth)])


@router.get("/accounts", response_model=AccountList)
async def list_accounts(
    request: Request,
    has_balance: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AccountList:
    rt = get_runtime(request)
    page = await rt.pms.list_accounts(has_balance=has_balance, limit=limit, offset=offset)
    return AccountList(
        items=await account_list_items(rt, page.items), total=page.total, limit=limit, offset=offset
    )


@router.get("/accounts/{patient_id}", response_model=AccountDetail)
async def get_account(request: Request, patient_id: str) -> AccountDetail:
    detail = await account_detail(get_runtime(request), patient_id)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no account for patient {patient_id}")
    return detail


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(request: Request, conversation_id: str) -> ConversationDetail:
    conv = await get_runtime(request).records.load_conversation(conversation_id)
    if conv is None:
        raise HTTPException(status_code=404, detail=f"no conversation {conversation_id}")
    return ConversationDetail(
        conversation_id=conv.conversation_id,
        channel=conv.channel,
        direction=conv.direction,
        patient_id=conv.state.patient_id,
        verified=conv.state.verified,
        started_at=conv.started_at,
        turns=[TurnOut(speaker=t.speaker, text=t.text, at=t.at) for t in conv.turns],
        tool_calls=[
            ToolCallOut(name=c.name, arguments=c.arguments, result=c.result) for c in conv.tool_calls
        ],
        outcome=conv.state.outcome,
        summary=conv.summary,
    )


@router.get("/transfers", response_model=list[TransferCardOut])
async def list_transfers(request: Request, status: str | None = "waiting") -> list[TransferCardOut]:
    rt = get_runtime(request)
    task_status = {"waiting": "open", "done": "done"}.get(status or "")
    tasks = await rt.records.list_staff_tasks(status=task_status, kind="transfer", patient_id=None)
    return [transfer_card(t) for t in tasks]


@router.get("/audit", response_model=list[AuditEventOut])
async def list_audit(
    request: Request,
    patient_id: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEventOut]:
    if since is not None and since.tzinfo is None:
        raise HTTPException(
            status_code=422, detail="since must include a timezone, e.g. 2026-11-01T00:00:00Z"
        )
    events = await get_runtime(request).records.list_audit(patient_id=patient_id, since=since, limit=limit)
    return [AuditEventOut(**e) for e in events]

"""Live console updates over server-sent events, fed by the shared state's pub/sub.

Channels (JSON messages; see docs/console.md): `live:calls` (voice session: started / turn /
ended), `live:transfers` (ringing / answered / missed) and `live:approvals` (queued / decided).
With Redis every replica sees every message, so a browser may be connected to any replica. A
transfer's `ringing` event is enriched here with its context card (read from the record store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from agent.console.auth import Staff, require_staff, session_of
from agent.console.templating import render
from agent.console.views import open_transfer_cards, transfer_card_by_id
from agent.runtime import Runtime
from agent.state.base import SharedState

CALLS = "live:calls"
TRANSFERS = "live:transfers"
APPROVALS = "live:approvals"
HEARTBEAT_S = 15.0
CALL_HISTORY = 200  # turns kept per live call for a page opened mid-call

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(require_staff)])
StaffDep = Annotated[Staff, Depends(require_staff)]


class LiveCalls:
    """This replica's view of calls in progress (from `live:calls`), for pages opened mid-call."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    def ensure_started(self, state: SharedState) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(state))

    async def _follow(self, state: SharedState) -> None:
        async for raw in state.subscribe(CALLS):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.apply(json.loads(raw))

    def apply(self, event: dict[str, Any]) -> None:
        call_id = str(event["call_id"])
        kind = event.get("event")
        if kind == "ended":
            self.calls.pop(call_id, None)
            return
        call = self.calls.setdefault(
            call_id,
            {
                "call_id": call_id,
                "conversation_id": event.get("conversation_id"),
                "turns": [],
                "at": event.get("at"),
            },
        )
        if kind == "turn" and event.get("text"):
            call["turns"] = [
                *call["turns"],
                {"speaker": event.get("speaker"), "text": event["text"], "at": event.get("at")},
            ][-CALL_HISTORY:]


def live_calls(request: Request) -> LiveCalls:
    """The app's registry (started on first use; it follows `live:calls` for the app's lifetime)."""
    registry: LiveCalls | None = getattr(request.app.state, "console_live_calls", None)
    if registry is None:
        registry = LiveCalls()
        request.app.state.console_live_calls = registry
    registry.ensure_started(request.app.state.runtime.state)
    return registry


def channels_for(staff: Staff) -> list[str]:
    chans = [CALLS, TRANSFERS]
    if staff.may("/console/approvals"):
        chans.append(APPROVALS)
    return chans


async def _enrich(rt: Runtime, channel: str, message: dict[str, Any]) -> dict[str, Any]:
    if channel == TRANSFERS and message.get("event") == "ringing" and message.get("transfer_id"):
        card = await transfer_card_by_id(rt, str(message["transfer_id"]))
        if card is not None:
            message = {**message, "card": card.model_dump(mode="json")}
    return message


async def event_stream(
    rt: Runtime,
    channels: list[str],
    request: Request,
    still_signed_in: Callable[[], Awaitable[bool]] | None = None,
    *,
    heartbeat: float = HEARTBEAT_S,
) -> AsyncIterator[str]:
    """SSE lines for `channels` until the client goes away or (checked at every heartbeat) the
    session ends: sign-out, expiry or a disabled user closes the stream."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=1000)

    async def pump(channel: str) -> None:
        async for raw in rt.state.subscribe(channel):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((channel, raw))

    tasks = [asyncio.create_task(pump(c)) for c in channels]
    try:
        await asyncio.sleep(0.05)  # let the subscriptions attach before the client is told "ready"
        yield "event: ready\ndata: {}\n\n"
        while True:
            try:
                channel, raw = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                if still_signed_in is not None and not await still_signed_in():
                    yield "event: signed_out\ndata: {}\n\n"
                    return
                yield ": keep-alive\n\n"
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            message = await _enrich(rt, channel, message)
            yield f"event: {channel.split(':', 1)[1]}\ndata: {json.dumps(message, default=str)}\n\n"
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@router.get("/events")
async def events(request: Request, staff: StaffDep) -> StreamingResponse:
    rt: Runtime = request.app.state.runtime
    live_calls(request)
    cookies = dict(request.cookies)

    async def still_signed_in() -> bool:
        return await session_of(rt, cookies, touch=False) is not None

    return StreamingResponse(
        event_stream(rt, channels_for(staff), request, still_signed_in),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/calls")
async def calls_page(request: Request, staff: StaffDep) -> Response:
    return render(request, "calls.html", staff, calls=list(live_calls(request).calls.values()))


@router.get("/transfers")
async def transfers_page(request: Request, staff: StaffDep) -> Response:
    rt: Runtime = request.app.state.runtime
    return render(request, "transfers.html", staff, cards=await open_transfer_cards(rt))


@router.post("/transfers/{transfer_id}/done")
async def transfer_done(request: Request, staff: StaffDep, transfer_id: str) -> Response:
    rt: Runtime = request.app.state.runtime
    await rt.records.close_staff_task(transfer_id, actor=staff.username)
    await rt.state.publish(
        TRANSFERS, json.dumps({"event": "handled", "transfer_id": transfer_id, "at": rt.clock().isoformat()})
    )
    return RedirectResponse("/console/transfers", status_code=303)

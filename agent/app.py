"""The FastAPI application: Twilio webhooks, JSON API and operations routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from agent import gc_tuning
from agent.logs import configure_logging
from agent.routes import (
    api,
    console,
    email_unsubscribe,
    ops,
    outreach_api,  # worklist, approvals, promise reconciliation
    stripe_webhook,
    twilio_calls,
    twilio_pay,  # <Pay> action and status callbacks
    twilio_sms,
    twilio_voice,  # inbound calls, media websocket, warm transfer
)
from agent.runtime import Runtime, build_runtime, utc_now
from agent.settings import Settings, load_settings


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    background: bool = True,
) -> FastAPI:
    """Build the app; the runtime (DB, state, PMS, brain…) is created in the lifespan."""
    cfg = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(cfg, clock=clock)
        app.state.runtime = runtime
        if background:
            runtime.start_background()
            gc_tuning.settle()  # start-up objects out of the collector's way (see agent/gc_tuning.py)
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="BalanceLine",
        version="0.1.0",
        summary="The practice's billing voice: calls and texts about patient balances.",
        lifespan=lifespan,
    )
    app.include_router(ops.router)
    app.include_router(twilio_sms.router)
    app.include_router(stripe_webhook.router)
    app.include_router(twilio_pay.router)
    app.include_router(api.router)
    app.include_router(outreach_api.router)
    for console_router in console.routers:  # the staff console (HTML under /console)
        app.include_router(console_router)
    app.include_router(twilio_calls.router)
    app.include_router(email_unsubscribe.router)
    app.include_router(twilio_voice.router)
    return app


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def app_factory() -> FastAPI:
    """uvicorn --factory entry point (multi-worker serving)."""
    configure_logging()
    return create_app()

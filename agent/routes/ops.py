"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from agent.metrics import REGISTRY
from agent.payments import stripe_readiness
from agent.pms_health import pms_health
from agent.routes.deps import get_runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime = get_runtime(request)
    checks: dict[str, Any] = {}
    ok = True
    try:
        async with runtime.db.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "backend": "sqlite" if runtime.settings.is_sqlite else "postgresql"}
    except Exception as exc:
        ok = False
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    try:
        state_ok = await runtime.state.ping()
    except Exception:
        state_ok = False
    ok = ok and state_ok
    checks["state"] = {"ok": state_ok, "backend": runtime.state.backend}
    pms = await pms_health(runtime)
    ok = ok and pms["reachable"]
    checks["pms"] = {"ok": pms["reachable"], **pms}
    checks["outbox_backlog"] = pms["outbox"]["backlog"]
    s = runtime.settings
    checks["providers"] = {
        "twilio": s.twilio_configured,
        "brain": "llm+rules" if s.llm_configured else "rules",
        "stt": "deepgram" if s.deepgram_api_key else "local",
        "tts": "elevenlabs" if s.elevenlabs_api_key else "local",
        "payments": "stripe" if s.stripe_configured else "portal",
    }
    checks["stripe"] = await stripe_readiness(runtime)  # reported; payments fall back to the portal link
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""Request-scoped access to the runtime and authentication helpers."""

from __future__ import annotations

import hmac

from fastapi import Header, HTTPException, Request, status

from agent.console.auth import authorize, session_of
from agent.metrics import WEBHOOKS
from agent.runtime import Runtime
from telephony.signatures import SignatureInvalid, verified_form


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def twilio_form(request: Request, route: str) -> dict[str, str]:
    """The form of a Twilio webhook whose X-Twilio-Signature is valid: 503 while Twilio is not
    configured, 403 for a bad or missing signature (both counted per route)."""
    runtime = get_runtime(request)
    if runtime.verifier is None:
        WEBHOOKS.labels(route=route, result="unconfigured").inc()
        raise HTTPException(status_code=503, detail="Twilio is not configured on this server")
    try:
        return await verified_form(request, runtime.verifier)
    except SignatureInvalid as exc:
        WEBHOOKS.labels(route=route, result="forbidden").inc()
        raise HTTPException(status_code=403, detail="invalid Twilio signature") from exc


async def require_api_auth(request: Request, authorization: str | None = Header(default=None)) -> None:
    """`Authorization: Bearer $BALANCELINE_API_TOKEN` (machines: full access), or a console session
    cookie whose role may use this route (agent.console.access), with the CSRF header on writes."""
    runtime = get_runtime(request)
    token = runtime.settings.api_token
    if authorization and token is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token.get_secret_value()):
            return
    if not authorization and (staff := await session_of(runtime, request.cookies)) is not None:
        await authorize(request, staff)
        return
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="authentication required: send Authorization: Bearer <BALANCELINE_API_TOKEN> or sign in at /console/login",
        headers={"WWW-Authenticate": "Bearer"},
    )

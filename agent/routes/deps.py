"""Request-scoped access to the runtime and authentication helpers."""

from __future__ import annotations

import hmac

from fastapi import Header, HTTPException, Request, status

from agent.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def require_api_auth(request: Request, authorization: str | None = Header(default=None)) -> None:
    """`Authorization: Bearer $BALANCELINE_API_TOKEN` (console sessions are accepted once the console exists)."""
    runtime = get_runtime(request)
    token = runtime.settings.api_token
    if authorization and token is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token.get_secret_value()):
            return
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="authentication required: send Authorization: Bearer <BALANCELINE_API_TOKEN>",
        headers={"WWW-Authenticate": "Bearer"},
    )

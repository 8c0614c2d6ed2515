"""Serve an ASGI app with uvicorn inside the running event loop on a free loopback port.

Used by ``balanceline demo call`` and the voice tests: the synthetic caller reaches the app through a
real socket and the real websocket stack, exactly like Twilio.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def serve_in_process(app: Any, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Yields ``http://host:port`` once the app (and its lifespan) is up; stops it on exit."""
    config = uvicorn.Config(
        app, host=host, port=0, lifespan="on", log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # host owns signals
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # surface the startup error
                raise RuntimeError("uvicorn stopped during startup")
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)

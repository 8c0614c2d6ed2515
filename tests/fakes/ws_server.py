"""A loopback websocket server base for the vendor fakes (Deepgram, ElevenLabs).

Subclasses implement ``handler(connection)`` and optionally ``check_request(path, query, headers)``
(return ``(status, body)`` to refuse the upgrade, ``None`` to accept). The server listens on
127.0.0.1 with an ephemeral port, either in a daemon thread with its own event loop (tests: the
client under test runs on the test's loop, so the fake's timers are not delayed by it), or on the
current loop (``await serve_here(port)``: the benchmarks run the fakes in a process of their own).
"""

from __future__ import annotations

import abc
import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response


class LoopbackWsServer(abc.ABC):
    thread_name = "ws-fake"

    def __init__(self) -> None:
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    # ------------------------------------------------------------------ to implement
    def check_request(
        self, path: str, query: Mapping[str, list[str]], headers: Headers
    ) -> tuple[int, str] | None:
        return None

    @abc.abstractmethod
    async def handler(self, connection: ServerConnection) -> None:
        """Serve one vendor websocket connection (each fake speaks its vendor's messages)."""

    # ------------------------------------------------------------------ plumbing
    @property
    def url(self) -> str:
        """The base URL a client is pointed at (``DEEPGRAM_URL`` / ``ELEVENLABS_URL``)."""
        return f"ws://127.0.0.1:{self.port}"

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        refused = self.check_request(parts.path, parse_qs(parts.query), request.headers)
        if refused is None:
            return None
        status, body = refused
        return connection.respond(status, body)

    async def _serve(self, port: int, ready: Callable[[int], None] | None = None) -> None:
        self._stopping = asyncio.Event()
        server: Server
        async with serve(
            self.handler,
            "127.0.0.1",
            port,
            process_request=self._process_request,
            max_size=None,
            ping_interval=None,
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            if ready is not None:
                ready(self.port)
            await self._stopping.wait()

    async def serve_here(self, port: int = 0, ready: Callable[[int], None] | None = None) -> None:
        """Serve on the running loop until ``stop_here()``; ``ready(port)`` once listening."""
        self._loop = asyncio.get_running_loop()
        await self._serve(port, ready)

    def stop_here(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._ready.wait(0.05):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.thread_name} did not start")
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve(0, lambda _port: self._ready.set()))
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A loopback OpenAI-compatible server for tests: `POST /v1/chat/completions`, streamed or not.

It speaks the documented wire format: with `stream: true`, Server-Sent Events of
`chat.completion.chunk` objects (`data: {...}\\n\\n`), a role delta first, then content deltas or
tool-call deltas (the first delta of a call carries `index`, `id`, `type` and `function.name`;
the `arguments` JSON follows in fragments), a final chunk with `finish_reason` ("stop" or
"tool_calls"), then `data: [DONE]\\n\\n`. Without `stream`, one `chat.completion` JSON object.

Tests script it: `server.script(Reply(...), Fail(500), Hang(), ...)` queues one response per request,
and `server.requests` records every request body (so a test can assert what the model was sent).

    with OpenAIFake() as server:
        server.script(Reply(text="Hello!"))
        client = AsyncOpenAI(api_key="test", base_url=server.base_url, max_retries=0)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # raw JSON text, sent as-is (so a test can send malformed JSON)
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")


@dataclass(frozen=True)
class Reply:
    """A successful completion: optional text, then optional tool calls.

    `chunk_size` splits text and each call's arguments into fragments of that many characters.
    `headers_delay` holds the HTTP response; `first_token_delay` sends headers and the role delta,
    then waits before the first content/tool delta; `chunk_delay` paces the remaining chunks;
    `stall_after` sends that many chunks and then stalls (a stream that dies mid-answer).
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    chunk_size: int = 4
    headers_delay: float = 0.0
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    stall_after: int | None = None


@dataclass(frozen=True)
class Fail:
    """An HTTP error in OpenAI's error-body format (e.g. 500, 429)."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    type: str = "server_error"


@dataclass(frozen=True)
class Hang:
    """Accept the request and never answer (until the server stops)."""


Script = Reply | Fail | Hang


class OpenAIFake:
    """The server, on 127.0.0.1 with an ephemeral port, in a background thread."""

    def __init__(self) -> None:
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = self._build_app()

    # ---- scripting ----------------------------------------------------------------------------

    def script(self, *responses: Script) -> None:
        with self._lock:
            self._queue.extend(responses)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _next(self, body: dict[str, Any]) -> Script | None:
        with self._lock:
            self.requests.append(body)
            return self._queue.popleft() if self._queue else None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> OpenAIFake:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="openai-fake", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        sockets = [s for srv in self._server.servers for s in srv.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def _run(self) -> None:
        assert self._server is not None
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self._loop.run_until_complete(self._server.serve())
        self._loop.close()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> OpenAIFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the app ------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            body = await request.json()
            scripted = self._next(body)
            model = str(body.get("model", "gpt-test"))
            if scripted is None:
                return _error(500, "no scripted response left in the fake OpenAI server", "server_error")
            if isinstance(scripted, Hang):
                await self._wait_for_stop()
                return _error(503, "server stopping", "server_error")
            if isinstance(scripted, Fail):
                return _error(scripted.status, scripted.message, scripted.type)
            if scripted.headers_delay:
                await asyncio.sleep(scripted.headers_delay)
            if body.get("stream"):
                return StreamingResponse(
                    self._sse(scripted, model),
                    media_type="text/event-stream",
                    headers={"cache-control": "no-cache"},
                )
            return JSONResponse(_completion(scripted, model))

        return app

    async def _wait_for_stop(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()

    async def _sse(self, reply: Reply, model: str) -> AsyncIterator[bytes]:
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        first = True
        for sent, (delta, finish) in enumerate(_deltas(reply)):
            if reply.stall_after is not None and sent >= reply.stall_after:
                await self._wait_for_stop()
                return
            if not first and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if first and reply.first_token_delay:
                await asyncio.sleep(reply.first_token_delay)
            first = False
        yield b"data: [DONE]\n\n"


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _deltas(reply: Reply) -> list[tuple[dict[str, Any], str | None]]:
    """The chunk deltas OpenAI streams for this reply, in order, with each chunk's finish_reason."""
    out: list[tuple[dict[str, Any], str | None]] = []
    if reply.tool_calls and not reply.text:
        out.append(({"role": "assistant", "content": None, "refusal": None}, None))
    else:
        out.append(({"role": "assistant", "content": "", "refusal": None}, None))
    if reply.text:
        out.extend(({"content": piece}, None) for piece in _pieces(reply.text, reply.chunk_size))
    for index, call in enumerate(reply.tool_calls):
        head = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        out.append(({"tool_calls": [head]}, None))
        for piece in _pieces(call.arguments, reply.chunk_size):
            if piece:
                out.append(({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, None))
    out.append(({}, "tool_calls" if reply.tool_calls else "stop"))
    return out


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status
    )

"""`InProcessState`: the embedded-default `SharedState` for a single process.

Same semantics as `RedisState`: claims, values and locks share one key space with TTLs (a lock on
`k` lives at `lock:k`, so it never collides with a claim of `k`); a lock whose TTL lapses may be
taken by another waiter, and the late holder's release is then a no-op; rate-limit windows count
accepted hits only; pub/sub delivers messages published after `subscribe()` returned.
Expiry uses the monotonic clock, so wall-clock jumps do not resurrect or expire keys.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from types import TracebackType

from agent.state.base import Claim, LockNotAcquired

_CLOSED = object()


class InProcessState:
    backend = "memory"

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float | None]] = {}  # key -> (value, monotonic deadline)
        self._released: dict[str, asyncio.Event] = {}  # lock key -> event set on release
        self._hits: dict[str, deque[float]] = {}
        self._channels: dict[str, set[asyncio.Queue[object]]] = {}

    # ---- key/value with TTL --------------------------------------------------------------------

    def _live(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        value, deadline = item
        if deadline is not None and deadline <= time.monotonic():
            del self._values[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl_seconds: float | None) -> None:
        deadline = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        self._values[key] = (value, deadline)

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, "1", ttl_seconds)
        return True

    async def release(self, key: str) -> None:
        self._values.pop(key, None)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        self._put(key, value, ttl_seconds)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    # ---- locks ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl_seconds: float = 30, wait_seconds: float = 10
    ) -> AsyncIterator[None]:
        lkey = "lock:" + key
        token = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while self._live(lkey) is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockNotAcquired(f"lock {key!r} not acquired within {wait_seconds}s")
            event = self._released.setdefault(lkey, asyncio.Event())
            holder_deadline = self._values[lkey][1]
            until_expiry = remaining if holder_deadline is None else holder_deadline - time.monotonic()
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=max(0.001, min(remaining, until_expiry)))
        self._put(lkey, token, ttl_seconds)
        try:
            yield
        finally:
            if self._live(lkey) == token:
                del self._values[lkey]
                if lkey in self._released:
                    self._released.pop(lkey).set()

    @asynccontextmanager
    async def claim_locked(
        self,
        key: str,
        *,
        lock: str,
        in_flight_ttl: int,
        done_ttl: int,
        lock_ttl: float = 30,
        lock_wait: float = 10,
    ) -> AsyncIterator[Claim]:
        if not await self.claim(key, in_flight_ttl):
            yield "done" if self._live(key) == "done" else "in_flight"
            return
        finished = False
        try:
            async with self.lock(lock, ttl_seconds=lock_ttl, wait_seconds=lock_wait):
                yield "claimed"
                finished = True
        finally:
            if finished:
                self._put(key, "done", done_ttl)
            else:
                self._values.pop(key, None)

    # ---- rate limit ----------------------------------------------------------------------------

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> bool:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window_seconds:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    # ---- pub/sub -------------------------------------------------------------------------------

    async def publish(self, channel: str, message: str) -> None:
        for queue in list(self._channels.get(channel, ())):
            queue.put_nowait(message)

    def subscribe(self, channel: str) -> _MemorySubscription:
        return _MemorySubscription(self._channels.setdefault(channel, set()))

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for queues in self._channels.values():
            for queue in queues:
                queue.put_nowait(_CLOSED)
        self._channels.clear()


class _MemorySubscription:
    """Registered at construction, so nothing published after `subscribe()` returns is missed."""

    def __init__(self, queues: set[asyncio.Queue[object]]) -> None:
        self._queues = queues
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        queues.add(self._queue)
        self._closed = False

    def __aiter__(self) -> _MemorySubscription:
        return self

    async def __anext__(self) -> str:
        if self._closed:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED:
            self._closed = True
            self._queues.discard(self._queue)
            raise StopAsyncIteration
        assert isinstance(item, str)
        return item

    async def start(self) -> None:
        """Already subscribed; present for parity with the Redis subscription."""

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._queues.discard(self._queue)
            self._queue.put_nowait(_CLOSED)  # wake a consumer blocked in __anext__

    async def __aenter__(self) -> _MemorySubscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

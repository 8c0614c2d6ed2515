"""`RedisState`: the production `SharedState`, shared by every replica.

Keys and channels are namespaced by `prefix`. Claims are `SET NX EX`; locks are `SET NX PX` with a
random token and a compare-and-delete Lua release, so a holder whose TTL lapsed can never free a
lock someone else now holds. Rate limits are a sorted-set sliding window in one Lua script using
the server's clock (replicas' clocks may disagree). Pub/sub uses one connection per subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from agent.state.base import Claim, LockNotAcquired

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] = zset; ARGV = limit, window_ms, unique member. Counts accepted hits only.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""

log = structlog.get_logger(__name__)

_LOCK_POLL_MIN = 0.01
_LOCK_POLL_MAX = 0.1


class RedisState:
    backend = "redis"

    def __init__(self, url: str, prefix: str = "bl:") -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._release = self._client.register_script(_RELEASE)
        self._hit = self._client.register_script(_HIT)
        self._subs: set[_RedisSubscription] = set()

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        return bool(await self._client.set(self._k(key), "1", ex=ttl_seconds, nx=True))

    async def release(self, key: str) -> None:
        await self._client.delete(self._k(key))

    async def get(self, key: str) -> str | None:
        value = await self._client.get(self._k(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        await self._client.set(self._k(key), value, ex=ttl_seconds)

    async def delete(self, key: str) -> None:
        await self._client.delete(self._k(key))

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl_seconds: float = 30, wait_seconds: float = 10
    ) -> AsyncIterator[None]:
        lkey = self._k("lock:" + key)
        token = secrets.token_hex(16)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        await self._acquire(lkey, token, ttl_ms, wait_seconds, key)
        try:
            yield
        finally:
            await self._release(keys=[lkey], args=[token])

    async def _acquire(self, lkey: str, token: str, ttl_ms: int, wait_seconds: float, name: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        pause = _LOCK_POLL_MIN
        while not await self._client.set(lkey, token, px=ttl_ms, nx=True):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockNotAcquired(f"lock {name!r} not acquired within {wait_seconds}s")
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _LOCK_POLL_MAX)

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
        """One round trip in (claim, its state, the lock) and one out (mark done or forget the
        claim, release the lock), pipelined; a contended lock is then polled as `lock` does."""
        ckey, lkey = self._k(key), self._k("lock:" + lock)
        token = secrets.token_hex(16)
        ttl_ms = max(1, int(lock_ttl * 1000))
        async with self._client.pipeline(transaction=False) as p:
            p.set(ckey, "1", ex=in_flight_ttl, nx=True)
            p.get(ckey)
            p.set(lkey, token, px=ttl_ms, nx=True)
            claimed, value, locked = await p.execute()
        if not claimed:
            if locked:
                await self._release(keys=[lkey], args=[token])
            yield "done" if value == "done" else "in_flight"
            return
        finished = False
        try:
            if not locked:
                await self._acquire(lkey, token, ttl_ms, lock_wait, lock)
                locked = True
            yield "claimed"
            finished = True
        finally:
            async with self._client.pipeline(transaction=False) as p:
                if finished:
                    p.set(ckey, "done", ex=done_ttl)
                else:
                    p.delete(ckey)
                if locked:
                    p.eval(_RELEASE, 1, lkey, token)
                await p.execute()

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> bool:
        window_ms = max(1, int(window_seconds * 1000))
        member = secrets.token_hex(8)
        return bool(await self._hit(keys=[self._k("rate:" + key)], args=[limit, window_ms, member]))

    async def publish(self, channel: str, message: str) -> None:
        await self._client.publish(self._k(channel), message)

    def subscribe(self, channel: str) -> _RedisSubscription:
        sub = _RedisSubscription(self._client, self._k(channel), self._subs)
        self._subs.add(sub)
        return sub

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.aclose()
        await self._client.aclose()


class _RedisSubscription:
    """An async iterator over one channel. The SUBSCRIBE happens on `start()` (or `async with`, or
    the first `__anext__`); only messages published after that are delivered. A reader task moves
    messages into a queue so `aclose()` (unsubscribe, return the connection) is safe from any task."""

    def __init__(self, client: aioredis.Redis, channel: str, registry: set[_RedisSubscription]) -> None:
        self._pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
        self._channel = channel
        self._registry = registry
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._reader is None and not self._closed:
            await self._pubsub.subscribe(self._channel)
            self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self._pubsub.listen():
                if msg.get("type") == "message":
                    self._queue.put_nowait(str(msg["data"]))
        except (RedisError, OSError) as exc:
            log.warning("pubsub_connection_lost", channel=self._channel, error=type(exc).__name__)
        finally:
            self._queue.put_nowait(None)  # connection gone or closed: end the iteration

    def __aiter__(self) -> _RedisSubscription:
        return self

    async def __anext__(self) -> str:
        await self.start()
        item = None if self._closed else await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._registry.discard(self)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self._reader
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(self._channel)
        await self._pubsub.aclose()
        self._queue.put_nowait(None)

    async def __aenter__(self) -> _RedisSubscription:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

"""Ephemeral shared state: idempotency keys, session cache, locks, rate limits, pub/sub.

Two backends implement this: `InProcessState` (embedded default, one process) and `RedisState`
(production, many replicas). Nothing here is the source of truth for money or consent: that is
the SQL record store. This only makes retries cheap and coordination possible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

Claim = Literal["claimed", "done", "in_flight"]


class LockNotAcquired(RuntimeError):
    pass


class SharedState(Protocol):
    backend: str  # "memory" or "redis"

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        """Atomically mark `key` as seen. True the first time within the TTL, False for a repeat."""
        ...

    async def release(self, key: str) -> None:
        """Forget a claim (e.g. processing failed and the retry must be allowed)."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    def lock(
        self, key: str, *, ttl_seconds: float = 30, wait_seconds: float = 10
    ) -> AbstractAsyncContextManager[None]:
        """Mutual exclusion across replicas; raises `LockNotAcquired` after `wait_seconds`."""
        ...

    def claim_locked(
        self,
        key: str,
        *,
        lock: str,
        in_flight_ttl: int,
        done_ttl: int,
        lock_ttl: float = 30,
        lock_wait: float = 10,
    ) -> AbstractAsyncContextManager[Claim]:
        """Exactly-once processing of `key` under the lock `lock`, in as few round trips as possible.

        Yields "claimed" (first delivery: the lock is held until exit), "done" (already processed)
        or "in_flight" (another delivery is processing it, or failed within `in_flight_ttl`); the
        lock is held only for "claimed". On a normal exit the claim becomes "done" for `done_ttl`;
        on an exception it is forgotten (so a retry is processed). Raises `LockNotAcquired` (claim
        forgotten) if the lock is not free within `lock_wait`."""
        ...

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> bool:
        """Sliding-window rate limit: record one hit; True if within `limit` hits per window."""
        ...

    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> AsyncIterator[str]:
        """Messages published on `channel` after subscription, until the iterator is closed."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

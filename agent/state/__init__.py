"""Ephemeral shared state: `make_state` picks Redis when a URL is configured, else in-process."""

from __future__ import annotations

from agent.state.base import LockNotAcquired, SharedState
from agent.state.memory import InProcessState
from agent.state.redis_state import RedisState


def make_state(redis_url: str | None, prefix: str = "bl:") -> SharedState:
    """`RedisState(redis_url, prefix)` for production/multi-replica, `InProcessState()` otherwise."""
    if redis_url:
        return RedisState(redis_url, prefix=prefix)
    return InProcessState()


__all__ = ["InProcessState", "LockNotAcquired", "RedisState", "SharedState", "make_state"]

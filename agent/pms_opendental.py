"""Composition of the Open Dental adapter from settings (PMS=opendental)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import datetime

from agent.settings import Settings, SettingsError
from agent.state.base import SharedState
from pms.opendental import OpenDentalClient, OpenDentalPms
from pms.opendental.client import TIER_INTERVAL
from policies.config import PracticePolicy

SAFETY_MARGIN = 0.05  # seconds added to the tier's interval (network jitter between us and Open Dental)


class SharedRateLimiter:
    """Open Dental's per-customer-key throttle shared by every process on the same state backend
    (Redis in production: app replicas and workers): one request per `interval`, Redis-clocked."""

    def __init__(self, state: SharedState, customer_key: str, interval: float, *, poll: float = 0.05) -> None:
        self.state = state
        self.interval = interval
        self.poll = poll
        self.key = "opendental:throttle:" + hashlib.sha256(customer_key.encode()).hexdigest()[:16]
        self._not_before = 0.0

    async def wait(self) -> None:
        delay = self._not_before - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        while not await self.state.hit(self.key, limit=1, window_seconds=self.interval):  # noqa: ASYNC110 - polling the shared budget is the point
            await asyncio.sleep(self.poll)

    def push_back(self, seconds: float) -> None:
        self._not_before = max(self._not_before, time.monotonic() + seconds)


def build_opendental(
    settings: Settings,
    policy: PracticePolicy,
    clock: Callable[[], datetime],
    state: SharedState | None = None,
) -> OpenDentalPms:
    """The adapter for this practice; a `SettingsError` names each missing variable. With `state`,
    the Remote API's rate limit is shared across processes."""
    missing = [
        name
        for name, value in (
            ("OPENDENTAL_BASE_URL", settings.opendental_base_url),
            ("OPENDENTAL_DEVELOPER_KEY", settings.opendental_developer_key),
            ("OPENDENTAL_CUSTOMER_KEY", settings.opendental_customer_key),
        )
        if not value
    ]
    if missing:
        raise SettingsError(f"PMS=opendental needs {', '.join(missing)}")
    assert settings.opendental_base_url and settings.opendental_developer_key
    assert settings.opendental_customer_key
    customer_key = settings.opendental_customer_key.get_secret_value()
    interval = TIER_INTERVAL[settings.opendental_tier] + SAFETY_MARGIN
    client = OpenDentalClient(
        settings.opendental_base_url,
        settings.opendental_developer_key.get_secret_value(),
        customer_key,
        tier=settings.opendental_tier,
        mode=settings.opendental_mode,
        safety_margin=SAFETY_MARGIN,
        limiter=SharedRateLimiter(state, customer_key, interval) if state is not None else None,
    )
    return OpenDentalPms(
        client,
        practice_id=policy.practice.practice_id,
        timezone=policy.practice.timezone,
        clock=clock,
    )

"""A manual clock for pacing tests (``telephony.pacer.Clock``): time moves only when a test advances it."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class ManualClock:
    """A clock that only moves when the test advances it; sleepers wake in deadline order."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()

    def now(self) -> float:
        return self.t

    @property
    def sleepers(self) -> int:
        """Pending sleeps (timers) not yet woken or cancelled."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._ids), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target + 1e-12:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.t = target
        await settle()


async def settle() -> None:
    """Let every ready task run (a few loop iterations)."""
    for _ in range(20):
        await asyncio.sleep(0)

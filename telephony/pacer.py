"""One shared pacing tick for all outbound audio streams on an event loop.

A ``Playout`` per call used to sleep once per 20 ms frame: at 200 calls that is 10,000 timer wake-ups
a second, each usually its own event-loop iteration. A ``Pacer`` replaces them with one tick: a stream
registers the clock time at which its next frame may go (``schedule``), and the first tick at or after
that time calls its ``wake`` callback. The tick only calls callbacks and never awaits a send (each
``Playout`` sends from its own task), so a stalled socket delays its own stream and no other.

While anything is scheduled the pacer ticks every ``tick_ms`` (default one frame) on a grid that
starts at the earliest due time, so a lone stream is served exactly on time and many streams share one
wake-up. A stream whose due time falls between ticks is served up to one tick late: the audio queued at
Twilio dips by up to one tick below the lead, and is never above it.

The tick runs only while something is scheduled: after each tick it yields once so the streams it just
woke can register again, and stops if none did (``schedule`` restarts it); ``cancel`` of the last entry
stops it at once. ``Pacer.shared()`` is the running loop's pacer (a weak mapping keyed by the loop, so a
pacer never crosses loops or keeps one alive); tests build ``Pacer(manual_clock)`` and drive it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import weakref
from collections.abc import Callable, Hashable
from typing import Protocol

from telephony.audio import FRAME_MS

__all__ = ["Clock", "LoopClock", "Pacer"]

_logger = logging.getLogger("telephony.pacer")

EPS = 1e-9  # seconds: times this close count as equal (float noise in clock arithmetic)


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The running event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pacer] = weakref.WeakKeyDictionary()


class Pacer:
    """Calls each scheduled ``wake`` on the first tick at or after its due time (see the module doc)."""

    def __init__(self, clock: Clock | None = None, *, tick_ms: float = FRAME_MS) -> None:
        if tick_ms <= 0:
            raise ValueError("tick_ms must be positive")
        self.clock: Clock = clock or LoopClock()
        self._period = tick_ms / 1000.0
        self._due: dict[Hashable, tuple[float, Callable[[], None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0  # ticks run so far (tests and metrics)

    @classmethod
    def shared(cls) -> Pacer:
        """The process-wide pacer of the running event loop (loop clock, one-frame tick)."""
        loop = asyncio.get_running_loop()
        pacer = _shared.get(loop)
        if pacer is None:
            pacer = _shared[loop] = cls()
        return pacer

    @property
    def running(self) -> bool:
        return self._task is not None

    @property
    def scheduled(self) -> int:
        return len(self._due)

    def schedule(self, key: Hashable, due: float, wake: Callable[[], None]) -> None:
        """Call ``wake()`` once, on the first tick at or after clock time ``due`` (replaces ``key``'s entry)."""
        self._due[key] = (due, wake)
        if self._task is None:
            # A fresh context: the tick serves every call, so it must not carry one call's context vars.
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="telephony.pacer", context=contextvars.Context()
            )

    def cancel(self, key: Hashable) -> None:
        """Drop ``key``'s entry, if any; with nothing left the tick stops now."""
        if self._due.pop(key, None) is not None and not self._due and self._task is not None:
            task, self._task = self._task, None
            task.cancel()

    async def _run(self) -> None:
        try:
            if not self._due:
                return
            # The grid starts at the earliest due time: a lone stream is served exactly on time.
            deadline = max(self.clock.now(), min(due for due, _ in self._due.values()))
            while self._due:
                now = self.clock.now()
                if deadline > now + EPS:
                    await self.clock.sleep(deadline - now)
                    now = self.clock.now()
                self._tick(now)
                await asyncio.sleep(0)  # after the woken streams' tasks: they schedule again, or we stop
                # The next grid point after this tick; when late, the ones already passed are skipped
                # (the streams catch up by themselves).
                deadline += self._period * (math.floor((now - deadline + EPS) / self._period) + 1)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def _tick(self, now: float) -> None:
        self.ticks += 1
        woken = [(key, wake) for key, (due, wake) in self._due.items() if due <= now + EPS]
        for key, _ in woken:
            del self._due[key]
        for _, wake in woken:
            try:
                wake()
            except Exception:  # one broken waiter must not stop the tick for every other stream
                _logger.exception("pacer wake callback failed")

"""The garbage collector, set for a server with live audio on its event loop.

A call gets a 20 ms frame every 20 ms with ~100 ms queued at Twilio, so any pause of the event loop
longer than that is heard as a gap. CPython's full (generation-2) collection walks every container
object in the process; with the app, its libraries, SQLAlchemy's caches and a practice loaded, those
took up to 276 ms during a 100-call benchmark (nine of them in two minutes). What exists once the app
has started lives as long as the process, so ``settle()`` collects once and freezes it: later
collections skip those objects (they are still freed by reference counting if they ever go).
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect once, then move every object tracked so far out of the collector's way (at start-up,
    before traffic). Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def settle_more() -> None:
    """Freeze what was added since, without a collection — only in a process that ``settle()``d at
    start-up (the server; tests and embedded uses leave the collector alone)."""
    if gc.get_freeze_count():
        gc.freeze()

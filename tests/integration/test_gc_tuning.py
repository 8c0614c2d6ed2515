"""The collector settings of the server process (agent/gc_tuning.py)."""

from __future__ import annotations

import gc

from agent import gc_tuning


def test_start_up_objects_are_frozen_and_later_freezes_only_follow_a_settled_start() -> None:
    try:
        gc.unfreeze()
        gc_tuning.settle_more()
        assert gc.get_freeze_count() == 0  # a process that did not settle at start-up is left alone
        frozen = gc_tuning.settle()
        assert frozen > 0 and gc.get_freeze_count() == frozen
        models = [[i] for i in range(1000)]  # e.g. speech models loaded with the first call
        gc_tuning.settle_more()
        assert gc.get_freeze_count() >= frozen + len(models)
        walked = {id(o) for o in gc.get_objects(2)}  # what a full collection still walks
        assert not any(id(m) in walked for m in models)
    finally:
        gc.unfreeze()

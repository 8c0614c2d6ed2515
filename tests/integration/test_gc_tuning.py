"""The collector settings of the server process (agent/gc_tuning.py)."""

from __future__ import annotations

import gc

from agent import gc_tuning


def test_start_up_objects_are_frozen_and_later_freezes_only_follow_a_settled_start() -> None:
    try:
        gc.unfreeze()
        gc_tuning.settle_more()
        assert gc.get_freeze_count() == 0  # a process that did not settle at start-up is left alone
        # Counts, not equalities: other threads of the test process (an app's portal loop) may free
        # a few frozen objects by reference counting at any moment.
        assert gc_tuning.settle() > 0
        before = gc.get_freeze_count()
        models = [[i] for i in range(1000)]  # e.g. speech models loaded with the first call
        assert any(id(m) in {id(o) for o in gc.get_objects()} for m in models)  # tracked, not frozen
        gc_tuning.settle_more()
        assert gc.get_freeze_count() > before
        walked = {id(o) for o in gc.get_objects()}  # what a full collection still walks
        assert not any(id(m) in walked for m in models)
    finally:
        gc.unfreeze()

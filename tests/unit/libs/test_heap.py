"""The running platform's garbage-collector settings (meridian.runtime.heap)."""

from __future__ import annotations

import gc

from meridian.runtime import heap


def test_settle_freezes_the_startup_heap_and_collects_less_often():
    before = gc.get_threshold()
    try:
        heap.settle()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, heap.MIDDLE_THRESHOLD, heap.OLD_THRESHOLD)
        cycle: list = []
        cycle.append(cycle)
        ref = id(cycle)
        del cycle
        gc.collect()          # garbage made after settle() is still collected
        assert all(id(o) != ref for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

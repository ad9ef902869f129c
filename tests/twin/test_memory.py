"""A replay frees each pass as it ends: no reference cycle outlives a pass, so Python's cyclic
garbage collector has nothing to find, and the collector is left as the run found it."""

from __future__ import annotations

import gc

import pytest
from twin_builders import cluster, job

from aitc.engine.registry import POLICIES, make_scheduler
from aitc.twin.loop import Twin


def _jobs():
    # a busy stream: more GPUs asked for than the cluster has, so jobs queue, start and end
    return iter(
        job(i, gpus=(1, 2, 4, 8, 16)[i % 5], at=3 * i, runs=50 + 7 * (i % 11)) for i in range(200)
    )


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_a_replay_leaves_no_cyclic_garbage(policy: str) -> None:
    twin = Twin(cluster(4), make_scheduler(policy), _jobs())
    gc.collect()
    gc.disable()
    try:
        twin.run()
        found = gc.collect()
    finally:
        gc.enable()
    assert twin.passes > 100
    assert found == 0


def test_the_collector_is_left_as_the_run_found_it() -> None:
    before = gc.get_freeze_count()
    twin = Twin(cluster(2), make_scheduler("fifo"), _jobs())
    twin.run()
    assert gc.get_freeze_count() == before

"""The size and time filters change nothing: where nothing will be preempted, the walk passes
over jobs too large for the free capacity (and, once backfill's promise holds every free GPU,
jobs that end too late) without looking at them, and every pass makes the same decisions as
a walk that looks at every job."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from engine_builders import cluster, job, on
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import POLICIES, clusters
from test_quiet import busy_specs, replay

from aitc.domain.job import JobRequest
from aitc.engine.capacity import CapacityIndex
from aitc.engine.pending import PendingQueue
from aitc.engine.queues import backfill as backfill_module
from aitc.engine.queues import could_fit, ending_by
from aitc.engine.queues import greedy as greedy_module
from aitc.engine.queues.room import Buckets, FreeRoom, QueueSizes


def _names(jobs: Iterable[JobRequest]) -> list[str]:
    return [j.name for j in jobs]


def test_could_fit_passes_over_jobs_larger_than_the_freest_node_in_order() -> None:
    capacity = CapacityIndex(cluster(2))  # two nodes of 8 GPUs
    capacity.allocate(on(("n1", range(6)), ("n2", range(5))))  # 2 and 3 free
    jobs = [job("a", 4), job("b", 1), job("c", 3), job("d", 8), job("e", 2), job("f", 5)]
    assert _names(could_fit(jobs, FreeRoom.of(capacity))) == ["b", "c", "e"]


def test_could_fit_keeps_multi_node_jobs_up_to_the_free_gpus() -> None:
    capacity = CapacityIndex(cluster(3))
    capacity.allocate(on(("n1", range(8)), ("n2", range(8)), ("n3", range(4))))  # 4 free
    jobs = [job("six", 6), job("spread", 2, nodes=2), job("big", 16), job("four", 4)]
    assert _names(could_fit(jobs, FreeRoom.of(capacity))) == ["spread", "four"]


def test_could_fit_always_keeps_mig_slices() -> None:
    capacity = CapacityIndex(cluster(1))
    capacity.allocate(on(("n1", range(8))))
    jobs = [job("a", 1), job("s", mig="1g.10gb")]
    assert _names(could_fit(jobs, FreeRoom.of(capacity))) == ["s"]


def test_ending_by_keeps_short_jobs_and_mig_slices_and_reads_no_limit_as_the_default() -> None:
    jobs = [
        job("short", 1, limit=100.0),
        job("long", 1, limit=500.0),
        job("open", 1),
        job("slice", mig="1g.10gb", limit=500.0),
        job("edge", 1, limit=300.0),
    ]
    assert _names(ending_by(jobs, 300.0, 86400.0)) == ["short", "slice", "edge"]
    assert _names(ending_by(jobs, 300.0, 200.0)) == ["short", "open", "slice", "edge"]


def _every_job(jobs: Iterable[JobRequest], *args: object) -> Iterator[JobRequest]:
    return iter(jobs)


@contextmanager
def unfiltered() -> Iterator[None]:
    """Walks that look at every job: no size or time filter, and the queue's size buckets
    (``Buckets``: quota's and tiresias's orders) read whole."""
    saved = greedy_module.could_fit, backfill_module.could_fit, backfill_module.ending_by
    none_fit, fitting = QueueSizes.none_fit, Buckets.fitting
    greedy_module.could_fit = backfill_module.could_fit = backfill_module.ending_by = _every_job
    QueueSizes.none_fit = lambda *args: False  # type: ignore[method-assign]
    Buckets.fitting = lambda self, room: fitting(self, None)  # type: ignore[method-assign]
    try:
        yield
    finally:
        greedy_module.could_fit, backfill_module.could_fit, backfill_module.ending_by = saved
        QueueSizes.none_fit = none_fit  # type: ignore[method-assign]
        Buckets.fitting = fitting  # type: ignore[method-assign]


sizes = st.sampled_from([1, 1, 2, 3, 4, 6, 8, 8, 12, 16, 24, 0])  # 0: a MIG slice


@settings(max_examples=200, deadline=None)
@given(
    queued=st.lists(st.tuples(sizes, st.sampled_from([None, None, 1, 2])), max_size=12),
    used=st.lists(st.integers(0, 8), min_size=3, max_size=3),
)
def test_a_queue_none_of_whose_sizes_could_fit_is_passed_over_whole(queued, used) -> None:
    """``QueueSizes.none_fit`` says so exactly when ``could_fit`` keeps no job of the queue,
    and it follows the queue's changes."""
    capacity = CapacityIndex(cluster(3))
    capacity.allocate(on(*((f"n{i + 1}", range(n)) for i, n in enumerate(used) if n)))
    pending = PendingQueue()
    memo = QueueSizes()
    for i, (gpus, nodes) in enumerate(queued):
        pending.add(job(f"j{i}", gpus, mig="1g.10gb" if gpus == 0 else None, nodes=nodes))
        kept = list(could_fit(pending, FreeRoom.of(capacity)))
        assert memo.none_fit(pending, FreeRoom.of(capacity)) == (not kept)
    for queued_job in list(pending):
        pending.remove(queued_job.id)
        assert memo.none_fit(pending, FreeRoom.of(capacity)) == (
            not list(could_fit(pending, FreeRoom.of(capacity)))
        )


@settings(max_examples=60, deadline=None)
@given(specs=busy_specs, policy=st.sampled_from(POLICIES), shape=clusters)
def test_filtered_walks_decide_exactly_as_walks_over_every_job(specs, policy, shape):
    filtered, _ = replay(specs, policy, shape, quiet=True)
    with unfiltered():
        every, _ = replay(specs, policy, shape, quiet=True)
    assert filtered == every

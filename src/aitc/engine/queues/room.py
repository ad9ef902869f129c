"""What sizes of job the free capacity could still take, and orders in parts and buckets:
the shortcuts that let a walk pass over jobs that cannot start with one comparison each."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest
from aitc.engine.capacity import CapacityIndex
from aitc.engine.pending import PendingQueue


class Phased:
    """An order in parts, walked one after the other.

    Before each part the greedy walk asks the policy again whether anything may be preempted
    (``Cycle.phase`` says which part comes next): a policy may know that the jobs of a later
    part never preempt, and the walk then passes over jobs too large for the free capacity
    with one comparison each, and ends once nothing is free. Other walks read the parts as
    one sequence.
    """

    __slots__ = ("parts",)

    def __init__(self, *parts: Iterable[JobRequest]) -> None:
        self.parts = parts

    def __iter__(self) -> Iterator[JobRequest]:
        return itertools.chain.from_iterable(self.parts)


@dataclass(frozen=True, slots=True)
class FreeRoom:
    """What sizes of job the free capacity could still take (see ``could_fit``)."""

    freest: int  # free GPUs of the freest node
    free: int  # free GPUs in all
    node_gpus: int  # up to this many GPUs stay on one node
    big: int  # GPUs of the largest node
    whole: int  # idle nodes

    @staticmethod
    def of(capacity: CapacityIndex, anywhere: bool = False) -> FreeRoom | None:
        """``None`` where no pool has nodes (nothing to judge by). With ``anywhere`` (the
        placement takes free GPUs on any nodes), every job up to the free GPUs may fit."""
        pools = [p for p in capacity.pools() if p.nodes]
        if not pools:
            return None
        free, node_gpus = capacity.total_free(), min(p.node_gpus for p in pools)
        freest = free if anywhere else max(p.max_node_free() for p in pools)
        if free <= node_gpus:  # no job larger than a node fits: the last two do not count
            return FreeRoom(freest, free, node_gpus, 1, 0)
        big, whole = max(p.node_gpus for p in pools), sum(p.idle_nodes for p in pools)
        return FreeRoom(freest, free, node_gpus, big, whole)

    def admits(self, gpus: int, nodes: int | None) -> bool:
        """Whether a job of ``gpus`` GPUs on ``nodes`` nodes could still fit."""
        return (
            gpus <= self.freest
            or (nodes or 0) > 1
            or (not nodes and self.node_gpus < gpus <= self.free and gpus // self.big <= self.whole)
        )


def could_fit(jobs: Iterable[JobRequest], room: FreeRoom | None) -> Iterator[JobRequest]:
    """The jobs of ``jobs`` whose size could still fit in the free capacity ``room`` describes
    (``FreeRoom.of``; ``None``: every job), in order.

    Only for walks where nothing will be preempted: free capacity then only shrinks, so a
    job larger than the free GPUs, or a job that stays on one node and is larger than the
    freest node, cannot start in this pass and the walk would only look at it and fail. A
    walk with a GPU or two free so passes over the queued 2-, 4- and 8-GPU jobs in front of
    the next 1-GPU job with one comparison each, and a walk with GPUs free but no idle node
    passes over the jobs that need whole nodes (a job larger than a node takes whole nodes
    for all but its remainder). MIG slices (0 whole GPUs) and jobs with ``nodes`` > 1 always
    pass: the walk judges them. The test is ``FreeRoom.admits``, inlined. Where the placement
    takes GPUs anywhere (``FreeRoom.of``), only the free GPUs count.
    """
    if room is None:
        return iter(jobs)
    freest, free, node_gpus, big, whole = (
        room.freest,
        room.free,
        room.node_gpus,
        room.big,
        room.whole,
    )
    if free <= node_gpus:  # no job larger than a node fits: the common, cheap case
        return (j for j in jobs if j.gpus <= freest or (j.nodes or 0) > 1)
    return (
        j
        for j in jobs
        if j.gpus <= freest
        or (j.nodes or 0) > 1
        or (not j.nodes and node_gpus < j.gpus <= free and j.gpus // big <= whole)
    )


class QueueSizes:
    """The sizes of job a ``PendingQueue`` holds, kept while its classes keep their sizes:
    whether any queued job could fit the free capacity at all, by ``could_fit``'s rule.

    A walk that would pass over every job after its head with one comparison each (a busy
    cluster with a GPU or two free, and a queue of larger jobs) asks this first and ends at
    once: the answer costs the queue's distinct sizes, not its jobs.
    """

    __slots__ = ("_of",)

    def __init__(self) -> None:
        self._of: tuple[PendingQueue, int, bool, tuple[tuple[int, int | None], ...]] | None = None

    def none_fit(self, pending: PendingQueue, room: FreeRoom | None) -> bool:
        """Whether ``could_fit`` would pass over every job of ``pending`` with ``room``."""
        kept = self._of
        if kept is None or kept[0] is not pending or kept[1] != pending.classes_epoch:
            judged = False  # a MIG slice or a job with a node count: the walk judges it
            sizes: set[tuple[int, int | None]] = set()
            for (_, _, nodes, mig, _), counts in pending.classes().items():
                if mig is not None or (nodes or 0) > 1:
                    judged = True
                    break
                sizes.update((gpus, nodes) for gpus in counts)
            kept = self._of = (pending, pending.classes_epoch, judged, tuple(sizes))
        if kept[2]:
            return False
        return room is not None and not any(room.admits(g, n) for g, n in kept[3])


SizedBucket = tuple[int, int | None, Mapping[JobId, JobRequest]]  # GPUs, nodes, the jobs


class Buckets:
    """A part of a ``Phased`` order: jobs of the driver's ``PendingQueue`` in buckets of one
    size each (GPUs, nodes), read in queue order.

    Buckets are never empty. A walk where nothing will be preempted reads only the buckets
    whose size may still fit
    (``fitting``): the jobs too large for the free capacity are passed over a bucket at a
    time instead of one at a time.
    """

    __slots__ = ("buckets", "queue")

    def __init__(
        self,
        queue: PendingQueue,
        buckets: Sequence[SizedBucket],
    ) -> None:
        self.queue = queue
        self.buckets = buckets

    def __iter__(self) -> Iterator[JobRequest]:
        return self.fitting(None)

    def __len__(self) -> int:
        return sum(len(b) for _, _, b in self.buckets)

    def __bool__(self) -> bool:  # (buckets are never empty)
        return bool(self.buckets)

    def fitting(self, room: FreeRoom | None) -> Iterator[JobRequest]:
        """The jobs of the buckets ``room`` admits (all of them without one), in queue order."""
        chosen = [b for g, n, b in self.buckets if room is None or room.admits(g, n)]
        if len(chosen) <= 1:
            return iter(chosen[0].values() if chosen else ())
        # each bucket is in queue order: merge them lazily (a walk that fills the cluster
        # stops long before the end of a long queue)
        queue = self.queue
        if queue.in_id_order():  # the ids alone give the order: merge them, look the jobs up
            return map(queue.job, heapq.merge(*chosen))
        place = queue.positions()
        return heapq.merge(*(b.values() for b in chosen), key=lambda j: place[j.id])


def ending_by(
    jobs: Iterable[JobRequest], seconds: float, default_limit: float
) -> Iterator[JobRequest]:
    """The jobs of ``jobs`` that may end within ``seconds``, in order: a time limit (or, for a
    job without one, ``default_limit``) of at most ``seconds``, with a millisecond to spare for
    rounding, or a MIG slice."""
    cutoff = seconds + 1e-3
    if default_limit <= cutoff:
        return (
            j for j in jobs if j.time_limit is None or j.time_limit <= cutoff or j.mig is not None
        )
    return (
        j
        for j in jobs
        if (j.time_limit is not None and j.time_limit <= cutoff) or j.mig is not None
    )

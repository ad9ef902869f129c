"""The queue-policy seam: in what order jobs are tried, and who may jump ahead.

Three disciplines, chosen per policy with the ``queue`` parameter:

- ``strict``: try jobs in order and stop at the first that does not fit (plain FIFO);
- ``backfill``: EASY backfilling. The first job that does not fit (the *head*) gets a
  reservation at its earliest start, computed from the running jobs' time limits; later jobs
  start only if they fit now and do not delay the head (they end before its start, or use none
  of the nodes it was promised);
- ``greedy``: try every job in order, start whatever fits (Kueue's BestEffortFIFO).
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Protocol

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement
from aitc.engine import reasons
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.pending import PendingQueue
from aitc.engine.pool import GENERAL
from aitc.engine.view import Reason

SHADOW = "!shadow"


class QueuePolicy(Protocol):
    """Walks the ordered queue of one pass, starting what it may."""

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> None: ...


class Admit(Protocol):
    def __call__(self, cycle: Cycle, job: JobRequest) -> Reason | None: ...


def _full(cycle: Cycle, victims: VictimFinder | None) -> bool:
    """Nothing more can start in this pass: no GPU is free and nothing may be preempted."""
    if cycle.explaining:
        return False
    state = (len(cycle.preempted), len(cycle.started))
    if cycle.full_memo is None or cycle.full_memo[0] != state:
        room = cycle.capacity.has_room()
        full = not room and (victims is None or not victims.could_preempt(cycle))
        cycle.full_memo = (state, full)
    return cycle.full_memo[1]


def _admitted(cycle: Cycle, job: JobRequest, admit: Admit) -> bool:
    refused = admit(cycle, job)
    if refused is not None:
        cycle.blocked(job, refused)
    return refused is None


class StrictQueue:
    """Stop at the first job that cannot start."""

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> None:
        rest = (job for job in ordered if cycle.possible(job))
        for job in rest:
            if not _admitted(cycle, job, admit) or not cycle.try_start(job, victims):
                cycle.blocked(job)
                if cycle.explaining:
                    for n, later in enumerate(rest, 1):
                        cycle.blocked(later, reasons.priority(later, n, "first come, first served"))
                return


class GreedyQueue:
    """Try every job in order, start whatever fits; stop once nothing more can start.

    Jobs of one *class* (organisation, priority, node count, MIG profile, GPU model, and time
    limit while reservations exist) differ only in size: where one failed, a larger one fails
    too (capacity only shrinks during a pass, admission only tightens), so it is skipped
    until a preemption frees capacity. Policies keep this sound by ordering jobs so that a
    later job of a class never has more right to preempt than an earlier one. Where nothing
    may be preempted, jobs too large for the free capacity never reach the class check
    (``could_fit``). Where the queue is the driver's ``PendingQueue``, which knows each
    class's smallest job, the walk ends as soon as every class has failed at that size: the
    rest of the queue would only be skipped.
    """

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> None:
        failed: dict[tuple[object, ...], int] = {}  # class -> fewest GPUs that failed
        seen_preempted = -1
        explaining = cycle.explaining
        fenced = bool(cycle.fences)
        # the stop rule needs the queue's smallest job per class (read at the first failure)
        counting = not explaining and not fenced and isinstance(cycle.view.pending, PendingQueue)
        least: dict[tuple[object, ...], int] | None = None
        live = -1  # classes with a job not yet refused
        actions, preempted = cycle.actions, cycle.preempted
        parts = ordered.parts if isinstance(ordered, Phased) else (ordered,)
        for phase, part in enumerate(parts):
            if isinstance(part, Sized) and not part:
                continue  # (an empty part asks nothing of the policy)
            cycle.phase, cycle.full_memo = phase, None
            seen = -1  # look at the capacity before the first job of the part
            if not explaining and (victims is None or not victims.could_preempt(cycle)):
                # nothing will be preempted, so free capacity only shrinks during this part
                anywhere = cycle.placer.gpus_anywhere
                if isinstance(part, Buckets):
                    part = part.fitting(FreeRoom.of(cycle.capacity, anywhere))
                else:
                    part = could_fit(part, cycle.capacity, anywhere)
            for job in part:
                if len(actions) != seen:  # capacity changed: look again
                    if _full(cycle, victims):
                        return
                    if len(preempted) != seen_preempted:
                        failed.clear()  # a preemption freed capacity
                        live = len(least) if least is not None else -1
                    seen, seen_preempted = len(actions), len(preempted)
                # inline: this check is the whole cost of a job that cannot start
                cls = (
                    job.org,
                    job.priority,
                    job.nodes,
                    job.mig,
                    job.gpu_model,
                    job.time_limit if fenced else None,
                )
                before = failed.get(cls, _MANY)
                if not explaining and before <= job.gpus:
                    continue  # (explaining tries each job, for its own reasons)
                if not cycle.possible(job):
                    continue
                if not _admitted(cycle, job, admit) or not cycle.try_start(job, victims):
                    failed[cls] = min(before, job.gpus)
                    cycle.blocked(job)
                    if not counting:
                        continue
                    if least is None:
                        least = _least_per_class(cycle.view.pending)
                        live = sum(1 for c, n in least.items() if failed.get(c, _MANY) > n)
                    elif job.gpus <= least.get(cls, -1) < before:
                        live -= 1  # every job of this class would now be skipped
                    if live == 0:
                        cycle.complete = True
                        return
        cycle.complete = True


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


def _least_per_class(pending: Sequence[JobRequest]) -> dict[tuple[object, ...], int]:
    """The fewest GPUs any queued job of each class asks for (the greedy walk's class, with
    no time limit), from the driver's ``PendingQueue``."""
    assert isinstance(pending, PendingQueue)
    return {(*cls, None): min(sizes) for cls, sizes in pending.classes().items()}


_MANY = 1 << 30


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


def could_fit(
    jobs: Iterable[JobRequest], capacity: CapacityIndex, anywhere: bool = False
) -> Iterator[JobRequest]:
    """The jobs of ``jobs`` whose size could still fit in ``capacity``, in order.

    Only for walks where nothing will be preempted: free capacity then only shrinks, so a
    job larger than the free GPUs, or a job that stays on one node and is larger than the
    freest node, cannot start in this pass and the walk would only look at it and fail. A
    walk with a GPU or two free so passes over the queued 2-, 4- and 8-GPU jobs in front of
    the next 1-GPU job with one comparison each, and a walk with GPUs free but no idle node
    passes over the jobs that need whole nodes (a job larger than a node takes whole nodes
    for all but its remainder). MIG slices (0 whole GPUs) and jobs with ``nodes`` > 1 always
    pass: the walk judges them. The test is ``FreeRoom.admits``, inlined. Where the placement
    takes GPUs ``anywhere``, only the free GPUs count.
    """
    room = FreeRoom.of(capacity, anywhere)
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
        queue = self.queue
        if queue.in_id_order():  # the ids alone give the order: sort them, look the jobs up
            return map(queue.job, sorted(itertools.chain.from_iterable(chosen)))
        place = queue.positions()
        jobs = itertools.chain.from_iterable(b.values() for b in chosen)
        return iter(sorted(jobs, key=lambda j: place[j.id]))


def ending_by(jobs: Iterable[JobRequest], seconds: float) -> Iterator[JobRequest]:
    """The jobs of ``jobs`` that may end within ``seconds``, in order: a time limit of at
    most ``seconds`` (with a millisecond to spare for rounding), no time limit (the caller
    decides those), or a MIG slice."""
    cutoff = seconds + 1e-3
    return (j for j in jobs if j.time_limit is None or j.time_limit <= cutoff or j.mig is not None)


_PLAIN_CLASS = operator.attrgetter("priority", "nodes", "mig", "gpu_model")


def _class(job: JobRequest, by_org: bool, fenced: bool) -> tuple[object, ...]:
    """Backfill's job class where organisation or time limit count (admission, fences)."""
    return (
        job.org if by_org else None,
        job.priority,
        job.nodes,
        job.mig,
        job.gpu_model,
        job.time_limit if fenced else None,
    )


@dataclass(frozen=True, slots=True)
class Shadow:
    """The head job's promise: it starts at ``time`` on ``placement``."""

    job: JobRequest
    time: float
    placement: Placement


class BackfillQueue:
    """EASY backfilling: one promise for the head job, others fill around it.

    The promise is computed only when a later job could start now (most passes of a busy
    cluster never need it), and kept across passes while the head stays the same: the nodes
    it names stay fenced, so it remains valid, and the head never starts later than promised.
    """

    def __init__(self, open_admission: bool = True, depth: int = 0) -> None:
        self._kept: tuple[tuple[str, ...], Shadow] | None = None
        self.open_admission = open_admission
        self.depth = depth  # jobs looked at after the head per pass (0: all of them)
        self.head: JobRequest | None = None  # the head of the last complete walk

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> None:
        head: JobRequest | None = None
        shadow: list[Shadow | None] = []  # empty until computed
        failed: dict[tuple[object, ...], int] = {}  # class and side -> fewest GPUs that failed
        seen_actions = seen_shadow = -1
        only_short = False
        promise: Shadow | None = None
        actions = cycle.actions
        explaining = cycle.explaining
        fenced = bool(cycle.fences)
        by_org = fenced or not self.open_admission
        # a job's class as one C-level call where organisation and time limit do not count
        plain = None if by_org or fenced else _PLAIN_CLASS
        now, default_limit = cycle.now, cycle.default_time_limit
        left = self.depth or _MANY  # like Slurm's bf_max_job_test: bounds a pass's cost
        jobs: Iterator[JobRequest] = iter(ordered)
        for job in jobs:
            ready = cycle.possible(job) and _admitted(cycle, job, admit)
            if ready and not cycle.try_start(job, victims):
                head = job
                cycle.blocked(job)
                break
        if head is None:  # every job started (or could not be tried)
            cycle.complete = True
            self.head = None
            return
        if not explaining and not self.depth and cycle.capacity.has_room():
            # later jobs never preempt, so free capacity only shrinks from here on
            jobs = could_fit(jobs, cycle.capacity, cycle.placer.gpus_anywhere)
        narrowed = explaining or bool(self.depth)  # (a depth counts every job it passes)
        while True:
            for job in jobs:
                left -= 1
                if left < 0:
                    self._too_deep(cycle, job, jobs)
                    return
                if len(actions) != seen_actions or len(shadow) != seen_shadow:
                    # capacity changed: look again
                    if _full(cycle, None):
                        return
                    seen_actions, seen_shadow = len(actions), len(shadow)
                    promise = shadow[0] if shadow else None
                    # no whole GPU left outside the promised nodes: only jobs that end before
                    # the promise (or MIG slices) can still start
                    only_short = (
                        bool(shadow) and not fenced and cycle.capacity.free_outside(SHADOW) == 0
                    )
                    if only_short and not narrowed and promise is not None:
                        # capacity only shrinks from here on, so this holds for the rest of
                        # the pass: pass over the jobs that end too late with one test each
                        narrowed = True
                        jobs = itertools.chain((job,), ending_by(jobs, promise.time - now))
                        break
                if promise is None:
                    side = None
                else:
                    limit = job.time_limit if job.time_limit is not None else default_limit
                    side = now + limit <= promise.time
                    if only_short and not side and job.mig is None and not explaining:
                        continue
                # Jobs of one class, on the same side of the promise, meet the same answer;
                # this check is the whole cost of a job that cannot start: it stays inline.
                cls = plain(job) if plain is not None else _class(job, by_org, fenced)
                gpus = job.gpus
                if not explaining and (
                    failed.get((cls, None), _MANY) <= gpus
                    or (side is not None and failed.get((cls, side), _MANY) <= gpus)
                ):
                    continue
                if not cycle.possible(job):
                    continue
                if not _admitted(cycle, job, admit) or not self._backfill(cycle, job, head, shadow):
                    key = (cls, self._side(cycle, job, shadow))
                    failed[key] = min(failed.get(key, _MANY), gpus)
            else:
                break
        cycle.complete = True
        self.head = head

    def _too_deep(self, cycle: Cycle, job: JobRequest, rest: Iterable[JobRequest]) -> None:
        """Jobs past the depth wait for a later pass (it only starts fewer jobs, so the head's
        promise holds)."""
        if not cycle.explaining:
            return
        why = f"backfill looks at {self.depth} jobs after the first waiting one per pass"
        for n, later in enumerate(itertools.chain((job,), rest), self.depth + 1):
            cycle.blocked(later, reasons.priority(later, n, why), fit=False)

    @staticmethod
    def _side(cycle: Cycle, job: JobRequest, shadow: list[Shadow | None]) -> bool | None:
        """Whether ``job`` would end before the head's promise (None: no promise yet)."""
        if not shadow or shadow[0] is None:
            return None
        return cycle.now + cycle.limit(job) <= shadow[0].time

    def _promise(self, cycle: Cycle, head: JobRequest) -> Shadow | None:
        fences = cycle.fences_for(head)
        promise = self._kept_for(cycle, head, fences)
        if promise is None:
            found = earliest_start(cycle, head)
            if found is None:
                return None
            promise = Shadow(head, found[0], found[1])
            if not cycle.explaining:
                self._kept = (fences, promise)
        capacity = cycle.capacity
        positions = [capacity.position(n) for n in promise.placement.nodes]
        # nodes behind a reservation fence keep it: the reservation rules are stricter
        cycle.shadowed = [p for p in positions if capacity.pool_of(p)[1] == GENERAL]
        capacity.fence(cycle.shadowed, SHADOW)
        return promise

    def promise_still_kept(self, head: JobRequest | None, now: float) -> bool:
        """Whether the promise made to ``head`` stands at ``now`` (or none was made)."""
        if self._kept is None or head is None:
            return True
        promise = self._kept[1]
        return promise.job != head or promise.time >= now

    def _kept_for(self, cycle: Cycle, head: JobRequest, fences: tuple[str, ...]) -> Shadow | None:
        if self._kept is None:
            return None
        kept_fences, promise = self._kept
        if promise.job != head or kept_fences != fences or promise.time < cycle.now:
            return None
        if any(cycle.capacity.is_down(n) for n in promise.placement.nodes):
            return None
        return promise

    def _backfill(
        self, cycle: Cycle, job: JobRequest, head: JobRequest, shadow: list[Shadow | None]
    ) -> bool:
        """Start ``job`` now if that does not delay the head; False if it waits."""
        fences = cycle.fences_for(job)
        if not shadow:
            if cycle.place(job, fences) is None:  # no room even before the promise
                cycle.blocked(job)
                return False
            shadow.append(self._promise(cycle, head))
        promise = shadow[0]
        if promise is not None and cycle.now + cycle.limit(job) <= promise.time:
            fences = (*fences, SHADOW)
        placement = cycle.place(job, fences)
        if placement is not None:
            cycle.start(job, placement)
            return True
        if promise is not None and cycle.explaining and cycle.place(job, (*fences, SHADOW)):
            cycle.blocked(job, reasons.backfill(job, promise.job.id, promise.time), fit=False)
        else:
            cycle.blocked(job)
        return False


def earliest_start(
    cycle: Cycle, job: JobRequest, fences: Sequence[str] | None = None
) -> tuple[float, Placement] | None:
    """When and where ``job`` could start if running jobs end at their time limits."""
    fences = tuple(fences if fences is not None else cycle.fences_for(job))
    placement = cycle.placer.now(job, cycle.capacity, fences)
    if placement is not None:
        return cycle.now, placement
    trial = cycle.capacity.overlay()
    ends = [
        (max(cycle.now, r.started + cycle.limit(r.request)), i, r)
        for i, r in enumerate(cycle.running())
    ]
    heapq.heapify(ends)
    while ends:
        time, _, r = heapq.heappop(ends)
        trial.release(r.placement)
        if ends and ends[0][0] == time:
            continue
        if trial.total_free() < job.gpus:
            continue
        placement = cycle.placer.now(job, trial, (*fences, SHADOW) if GENERAL in fences else fences)
        if placement is not None:
            return time, placement
    return None

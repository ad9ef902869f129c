"""``backfill``: EASY backfilling. The first job that cannot start (the *head*) gets a promise
of its earliest start, computed from the running jobs' time limits; later jobs start only if
they fit now and do not delay the head (they end before its start, or use none of the nodes
it was promised)."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from aitc.domain.job import JobRequest, Placement
from aitc.engine import reasons
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.estimate import earliest_start
from aitc.engine.pending import PendingQueue
from aitc.engine.pool import GENERAL, SHADOW
from aitc.engine.queues.room import FreeRoom, QueueSizes, could_fit, ending_by
from aitc.engine.queues.walk import IN_ORDER, MANY, Admit, Full, Walk, Why, admitted

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


@dataclass(slots=True)
class BackfillWalk(Walk):
    """A backfill walk: the head's promise (if a later job needed it) and, with a depth, the
    first job the walk did not look at."""

    promise: Shadow | None = None
    cut: JobRequest | None = None
    past_cut: bool = False  # (set by the explanation, which reads the jobs in order)


class BackfillQueue:
    """EASY backfilling: one promise for the head job, others fill around it.

    The promise is computed only when a later job could start now (most passes of a busy
    cluster never need it), and kept across passes while the head stays the same: the nodes
    it names stay fenced, so it remains valid, and the head never starts later than promised.
    """

    def __init__(self, open_admission: bool = True, depth: int = 0) -> None:
        self._kept: tuple[tuple[str, ...], Shadow] | None = None
        self._least_of: tuple[PendingQueue, int, bool, dict[tuple[object, ...], int]] | None = None
        self._sizes = QueueSizes()
        self.open_admission = open_admission
        self.depth = depth  # jobs looked at after the head per pass (0: all of them)

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> BackfillWalk:
        head: JobRequest | None = None
        shadow: list[Shadow | None] = []  # empty until computed
        failed: dict[tuple[object, ...], int] = {}  # class and side -> fewest GPUs that failed
        seen_actions = seen_shadow = -1
        only_short = False
        promise: Shadow | None = None
        actions = cycle.actions
        fenced = bool(cycle.fences)
        by_org = fenced or not self.open_admission
        # a job's class as one C-level call where organisation and time limit do not count
        plain = None if by_org or fenced else _PLAIN_CLASS
        now, default_limit = cycle.now, cycle.default_time_limit
        left = self.depth or MANY  # like Slurm's bf_max_job_test: bounds a pass's cost
        full = Full(cycle, None)
        jobs: Iterator[JobRequest] = iter(ordered)
        for job in jobs:
            ready = cycle.possible(job) and admitted(cycle, job, admit)
            if ready and not cycle.try_start(job, victims):
                head = job
                break
        if head is None:  # every job started (or could not be tried)
            return BackfillWalk(complete=True)
        walk = BackfillWalk(head=head)
        if not self.depth and cycle.size_filters and cycle.capacity.has_room():
            # later jobs never preempt, so free capacity only shrinks from here on
            room = FreeRoom.of(cycle.capacity, cycle.placer.gpus_anywhere)
            if self._sizes.none_fit(cycle.view.pending, room):
                walk.complete = True  # (every later job would be passed over)
                return walk
            jobs = could_fit(jobs, room)
        narrowed = bool(self.depth) or not cycle.size_filters  # (a depth counts every job)
        # the stop rule needs the queue's smallest job per class (read at the first failure)
        counting = not fenced and not self.depth
        least: dict[tuple[object, ...], int] | None = None
        live = -1  # classes with a job that may still start
        done: set[tuple[object, ...]] = set()
        while True:
            for job in jobs:
                left -= 1
                if left < 0:
                    walk.cut = job  # jobs past the depth wait for a later pass
                    walk.promise = shadow[0] if shadow else None
                    return walk
                if len(actions) != seen_actions or len(shadow) != seen_shadow:
                    # capacity changed: look again
                    if full():
                        walk.promise = shadow[0] if shadow else None
                        return walk
                    seen_actions, seen_shadow = len(actions), len(shadow)
                    promise = shadow[0] if shadow else None
                    # no whole GPU left outside the promised nodes: only jobs that end before
                    # the promise (or MIG slices) can still start
                    only_short = (
                        bool(shadow) and not fenced and cycle.capacity.free_outside(SHADOW) == 0
                    )
                    if only_short and not narrowed and promise is not None:
                        # capacity only shrinks from here on, so this holds for the rest of
                        # the pass: pass over the jobs that end too late with one test each,
                        # or end the walk when the queue holds no job that may end in time
                        narrowed = True
                        gap = promise.time - now
                        if _none_end_by(cycle.view.pending, gap, default_limit):
                            walk.complete = True
                            walk.promise = promise
                            return walk
                        jobs = itertools.chain((job,), ending_by(jobs, gap, default_limit))
                        break
                if promise is None:
                    side = None
                else:
                    limit = job.time_limit if job.time_limit is not None else default_limit
                    side = now + limit <= promise.time
                    if only_short and not side and job.mig is None:
                        continue
                # Jobs of one class, on the same side of the promise, meet the same answer;
                # this check is the whole cost of a job that cannot start: it stays inline.
                cls = plain(job) if plain is not None else _class(job, by_org, fenced)
                gpus = job.gpus
                if failed.get((cls, None), MANY) <= gpus or (
                    side is not None and failed.get((cls, side), MANY) <= gpus
                ):
                    continue
                if not cycle.possible(job):
                    continue
                if not admitted(cycle, job, admit) or not self._backfill(cycle, job, head, shadow):
                    failed_side = self._side(cycle, job, shadow)
                    key = (cls, failed_side)
                    failed[key] = min(failed.get(key, MANY), gpus)
                    if not counting or failed_side is False:
                        continue
                    # A job that fails on its own or before the promise fails on both sides
                    # (the side that ends after the promise has less room): its class is done
                    # once it fails at the class's smallest size. Once every class is done,
                    # the rest of the queue would only be skipped.
                    if least is None:
                        least = self._least(cycle.view.pending, by_org)
                        done = {c for c, n in least.items() if _done(failed, c, n)}
                        live = len(least) - len(done)
                    elif cls in least and cls not in done and _done(failed, cls, least[cls]):
                        done.add(cls)
                        live -= 1
                    if live == 0:
                        walk.complete = True
                        walk.promise = shadow[0] if shadow else None
                        return walk
            else:
                break
        walk.complete = True
        walk.promise = shadow[0] if shadow else None
        return walk

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why:
        """The head waits for room; a job past the depth waits for a later pass; a job that
        fits only on the nodes promised to the head waits so as not to delay it."""
        if ahead == 0 or not isinstance(walk, BackfillWalk):
            return IN_ORDER
        if walk.past_cut or job is walk.cut:
            walk.past_cut = True
            why = f"backfill looks at {self.depth} jobs after the first waiting one per pass"
            return Why((reasons.priority(job, ahead, why),), fit=False)
        promise = walk.promise
        fences = (*cycle.fences_for(job), SHADOW)
        if promise is not None and cycle.placer.now(job, cycle.capacity, fences) is not None:
            return Why((reasons.backfill(job, promise.job.id, promise.time),), fit=False)
        return IN_ORDER

    def _least(self, pending: PendingQueue, by_org: bool) -> dict[tuple[object, ...], int]:
        """``_least_per_class``, kept while the queue's classes keep their sizes."""
        kept = self._least_of
        if kept is None or kept[0] is not pending or kept[1:3] != (pending.classes_epoch, by_org):
            kept = self._least_of = (
                pending,
                pending.classes_epoch,
                by_org,
                _least_per_class(pending, by_org),
            )
        return kept[3]

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
            self._kept = (fences, promise)
        capacity = cycle.capacity
        positions = [capacity.position(n) for n in promise.placement.nodes]
        # nodes behind a reservation fence keep it: the reservation rules are stricter
        capacity.fence([p for p in positions if capacity.pool_of(p)[1] == GENERAL], SHADOW)
        return promise

    def promise_still_kept(self, head: JobRequest | None, now: float) -> bool:
        """Whether the promise made to ``head`` stands at ``now`` (or none was made)."""
        if self._kept is None or head is None:
            return True
        promise = self._kept[1]
        return _other(promise.job, head) or promise.time >= now

    def _kept_for(self, cycle: Cycle, head: JobRequest, fences: tuple[str, ...]) -> Shadow | None:
        if self._kept is None:
            return None
        kept_fences, promise = self._kept
        if _other(promise.job, head) or kept_fences != fences or promise.time < cycle.now:
            return None
        capacity = cycle.capacity
        if capacity.any_down() and any(capacity.is_down(n) for n in promise.placement.nodes):
            return None
        return promise

    def _backfill(
        self, cycle: Cycle, job: JobRequest, head: JobRequest, shadow: list[Shadow | None]
    ) -> bool:
        """Start ``job`` now if that does not delay the head; False if it waits."""
        fences = cycle.fences_for(job)
        if not shadow:
            if cycle.place(job, fences) is None:  # no room even before the promise
                return False
            shadow.append(self._promise(cycle, head))
        promise = shadow[0]
        if promise is not None and cycle.now + cycle.limit(job) <= promise.time:
            fences = (*fences, SHADOW)
        placement = cycle.place(job, fences)
        if placement is None:
            return False
        cycle.start(job, placement)
        return True


def _other(a: JobRequest, b: JobRequest) -> bool:
    """Whether ``a`` and ``b`` are different jobs (the same object, most of the time)."""
    return a is not b and a != b


def _least_per_class(pending: PendingQueue, by_org: bool) -> dict[tuple[object, ...], int]:
    """The fewest GPUs any queued job of each backfill class asks for (without fences: the
    class has no time limit), from the driver's ``PendingQueue``."""
    out: dict[tuple[object, ...], int] = {}
    for (org, priority, nodes, mig, model), sizes in pending.classes().items():
        cls = (org, priority, nodes, mig, model, None) if by_org else (priority, nodes, mig, model)
        least = min(sizes)
        if least < out.get(cls, MANY):
            out[cls] = least
    return out


def _done(failed: dict[tuple[object, ...], int], cls: tuple[object, ...], gpus: int) -> bool:
    """Whether every job of ``cls`` of at least ``gpus`` GPUs fails for the rest of the walk."""
    return min(failed.get((cls, None), MANY), failed.get((cls, True), MANY)) <= gpus


def _none_end_by(pending: PendingQueue, seconds: float, default_limit: float) -> bool:
    """Whether no queued job may end within ``seconds`` (see ``ending_by``): none is a MIG
    slice, and every time limit (the default for jobs without one) is longer."""
    cutoff = seconds + 1e-3
    if len(pending) > pending.limited and default_limit <= cutoff:
        return False
    shortest = pending.shortest_limit()
    if shortest is not None and shortest <= cutoff:
        return False
    return all(mig is None for (_, _, _, mig, _) in pending.classes())

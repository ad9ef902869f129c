"""The lists of ``tiresias`` with ``semantics: paper``, kept across passes (``EntryOrder``).

The paper's simulator keeps one list per queue, running and waiting jobs together (the walk
is ``tiresias_paper.py``). Between two walks the lists change by three rules: a job that
joins a queue goes to its end (a new job to queue 0, a job whose attained service crosses
its queue's threshold to the next queue), and after a walk the jobs it left waiting go
behind those it left running, in each queue, keeping their order.

Each queue is kept as two parts: the *front* (the jobs the last walk left running, or did
not walk) and the *back* (the jobs it left waiting, then the jobs that joined since). The
last rule is then what the parts already are, instead of a renumbering of every waiting job
on every pass. A job's place in its part is a number: joining the end takes the next one,
going to the front of a back takes one below every number given so far.

Between passes the lists learn what changed without reading every job, and each step is
exact (a job's queue is what reading every job would find):

- the capacity index's ``stamp`` moves once per start and once per stop. The driver's
  running jobs keep their order and new ones come last, so the runs that ended and began
  are found by comparing the list with the last one (slice comparisons), and a stamp that
  moved exactly that often proves that nothing ran unseen in between (the last walk's
  starts that ran and stopped since are told by their attained service);
- the queue's ``epoch`` counts the jobs taken out and put back: when it moved exactly as the
  known starts and requeues explain, every other change is a new job at its tail;
- a running job stays in its queue until its attained service reaches the next threshold:
  a heap holds those times. A waiting job's attained service stands still, so its queue
  changes only when it has run, unless ``starvation_s`` promotes it.

With starvation, or where the changes cannot be told apart (another index, queue or ledger;
a node going down; GPUs held outside aitc; a job held and released), every job is judged
again, as on a first pass.

For the walk the lists keep, per queue and part, the running jobs, the GPUs of those the
walk may preempt, and the waiting jobs by kind and size (``Counts``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority, RunningJob
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle
from aitc.engine.ledger import UsageLedger
from aitc.engine.pending import PendingQueue
from aitc.engine.queues.walk import MANY
from aitc.engine.view import View

FRONT, BACK = 0, 1
Part = dict[JobId, int]  # the jobs of a part, each with its place (smaller: earlier)
Kind = tuple[int | None, str | None, str | None]  # a waiting job's nodes, MIG profile, model
Size = tuple[Kind, int]  # and its GPUs
WaitingLevel = Callable[[JobRequest], int]
RunningLevel = Callable[[RunningJob], tuple[int, float]]
_INF = float("inf")


@dataclass(slots=True)
class _Seen:
    """What the last update read, to tell what changed since."""

    capacity: CapacityIndex
    stamp: int
    queue: PendingQueue
    epoch: int
    usage: UsageLedger
    runs: list[RunningJob]  # the view's running jobs, in its order


@dataclass(slots=True)
class _Changes:
    """What changed between two updates."""

    runs: list[RunningJob]  # the view's running jobs, in its order
    began: list[RunningJob]  # runs that began (a job's new run included)
    ended: list[RunningJob]
    arrived: set[JobId]  # jobs queued since (or queued again with another request)
    left: set[JobId]  # jobs gone from the queue (or queued again with another request)
    rerun: list[JobId]  # jobs the last walk started that ran and stopped since


@dataclass(slots=True)
class Counts:
    """One part of a queue: its running jobs, the GPUs of those the walk may preempt, and
    its waiting jobs by the GPUs they ask for."""

    gpus: int = 0  # GPUs of the movable running jobs
    whole: int = 0  # whole GPUs they hold (a MIG slice: its GPU)
    running: set[JobId] = field(default_factory=set)  # every running job here
    sizes: dict[Size, set[JobId]] = field(default_factory=dict)  # the waiting jobs

    def smallest(self) -> int:
        """The fewest GPUs a waiting job here asks for (``MANY`` if none waits here)."""
        return min(gpus for _, gpus in self.sizes) if self.sizes else MANY

    def turns(self, part: Part, most: int, fewer: Callable[[Kind], int]) -> list[JobId]:
        """In list order: the running jobs, and the waiting jobs of at most ``most`` GPUs
        and fewer than ``fewer`` of their kind."""
        ids = [
            j
            for (kind, gpus), jobs in self.sizes.items()
            if gpus <= most and gpus < fewer(kind)
            for j in jobs
        ]
        ids += self.running
        return sorted(ids, key=part.__getitem__)


class EntryOrder:
    """Each job's queue and its place in that queue's list, kept across passes.

    A queue's list is its front then its back (see the module's docstring); a job that joins
    a queue goes to the end of its back. Passes on the same view give the same order (a
    driver may ask for several before applying one): the parts are cut again after each
    walk from what it decided, whether or not the driver applies it.

    For the walk it keeps the view's running jobs (``runs``) and queued jobs (``jobs``) by
    id, and ``counts`` per queue and part; ``allowed`` are the priorities the walk may
    preempt.
    """

    def __init__(self) -> None:
        self._level: dict[JobId, int] = {}  # every running or queued job's queue
        self.parts: list[tuple[Part, Part]] = []  # per queue: (front, back)
        self.counts: list[tuple[Counts, Counts]] = []
        self._last = itertools.count()  # places at the end of a part
        self._first = itertools.count(-1, -1)  # places at the front of a part
        self._until: dict[JobId, float] = {}  # a running job stays in its queue until then
        self._expiry: list[tuple[float, JobId]] = []  # a heap over ``_until``
        self.runs: dict[JobId, RunningJob] = {}
        self.jobs: dict[JobId, JobRequest] = {}
        self.allowed: frozenset[Priority] = frozenset()
        # what each job adds to ``counts``: queue, part, GPUs and whole GPUs if it runs and
        # may be preempted, and its size if it waits (None: it runs); the walk reads it
        self.counted: dict[JobId, tuple[int, int, int, int, Size | None]] = {}
        self.waiting_in_front: set[JobId] = set()
        self._seen: _Seen | None = None
        self._doomed: list[JobId] = []  # what the last walk preempted
        # what the last walk started, with its attained service then (to tell a rerun)
        self._started: dict[JobId, float | None] = {}

    # ------------------------------------------------------------------ step 1
    def update(
        self,
        view: View,
        allowed: frozenset[Priority],
        waiting_level: WaitingLevel,
        running_level: RunningLevel,
        *,
        waiting_stays: bool,
    ) -> None:
        """Bring the lists up to ``view``: jobs that left go, new jobs join the end of their
        queue in arrival order, then jobs that change queue join the end of their new one.

        ``running_level`` gives a running job's queue and until when it stays there (its
        attained service only grows while it runs), so a running job's queue is looked up
        only when that time comes, when it starts, or when the last walk preempted it.
        ``waiting_stays``: a waiting job's queue changes only when it runs (no starvation).
        """
        changed = self._changes(view, allowed) if waiting_stays else None
        if changed is None:
            runs = list(view.running)
            self._read_all(view, runs, allowed, waiting_level, running_level)
        else:
            runs = changed.runs
            self._read_changes(view, changed, waiting_level, running_level)
        queue, capacity = view.pending, view.capacity
        self._seen = _Seen(capacity, capacity.stamp, queue, queue.epoch, view.usage, runs)
        until = self._until
        if len(until) > 2 * len(runs) + 64:  # forget jobs that no longer run
            self._until = {job_id: until[job_id] for job_id in self.runs}
            self._expiry = [(t, j) for j, t in self._until.items() if t < _INF]
            heapq.heapify(self._expiry)

    def _changes(self, view: View, allowed: frozenset[Priority]) -> _Changes | None:
        """What changed since the last update, or ``None`` where that cannot be told
        exactly (see the module's docstring)."""
        seen = self._seen
        if (
            seen is None
            or seen.capacity is not view.capacity
            or seen.queue is not view.pending
            or seen.usage is not view.usage
            or allowed != self.allowed
        ):
            return None
        # the last walk's starts that ran and stopped since (a start and a stop each): their
        # attained service changed, or they ended for good (the books forget those)
        usage, queue = view.usage, view.pending
        history = usage.ran_before()
        rerun: list[JobId] = []
        for j, done in self._started.items():
            if history.get(j) is not done:
                if not usage.is_running(j) and queue.get(j) is None:
                    return None  # (gone: ended for good, or cancelled without running)
                rerun.append(j)  # ran and stopped (and may run again)
            elif not usage.is_running(j) and queue.get(j) is None:
                # ran and ended for good (the books forgot it), or left the queue without
                # the driver starting it: the stamp cannot tell these apart
                return None
            # else: still running, or the driver never started it (still queued)
        moved = view.capacity.stamp - seen.stamp - 2 * len(rerun)
        if moved == 0:  # the same runs (what else moved the stamp is accounted for)
            runs, began, ended = seen.runs, list[RunningJob](), list[RunningJob]()
        else:
            runs = list(view.running)
            diff = _diff(seen.runs, runs)
            if diff is None or len(diff[0]) + len(diff[1]) != moved:
                return None  # (a run began or ended unseen, or GPUs changed hands otherwise)
            began, ended = diff
        jobs = self.jobs
        tail: Sequence[JobRequest] = ()
        if queue.epoch == seen.epoch:  # the same jobs, followed by new ones
            if len(queue) > len(jobs):
                tail = queue[len(jobs) :]
            left, back = set[JobId](), set[JobId]()
        else:
            # each start took a job out once, each requeue put one back once: when that is
            # all the epoch counts, every other change is a new job at the tail
            left = {j for j in self._started if queue.get(j) is None}
            back = {r.request.id for r in ended if queue.get(r.request.id) is not None}
            again = sum(1 for j in rerun if queue.get(j) is not None)  # (out and back)
            new = len(queue) - len(jobs) + len(left) - len(back)
            if queue.epoch - seen.epoch != len(left) + len(back) + 2 * again or new < 0:
                return self._compare_queues(runs, began, ended, view.pending, rerun)
            if new:
                tail = queue[len(queue) - new :]
                if any(j.id in jobs or j.id in back for j in tail):  # (not the new ones)
                    return self._compare_queues(runs, began, ended, view.pending, rerun)
            for job_id in left:
                del jobs[job_id]
            jobs.update((job_id, queue.job(job_id)) for job_id in back)
        jobs.update((j.id, j) for j in tail)
        return _Changes(runs, began, ended, {j.id for j in tail} | back, left, rerun)

    def _compare_queues(
        self,
        runs: list[RunningJob],
        began: list[RunningJob],
        ended: list[RunningJob],
        queue: PendingQueue,
        rerun: list[JobId],
    ) -> _Changes:
        """The queue's changes found by comparing every job with the last update's."""
        old, self.jobs = self.jobs, dict(zip(queue.ids(), queue, strict=True))
        arrived, left = self.jobs.keys() - old.keys(), old.keys() - self.jobs.keys()
        fresh = set(map(id, self.jobs.values())) - set(map(id, old.values()))
        # a job taken out and put back with another request is judged again
        again = {j.id for j in self.jobs.values() if id(j) in fresh and j.id in old}
        return _Changes(runs, began, ended, arrived | again, left | again, rerun)

    def _read_all(
        self,
        view: View,
        runs: list[RunningJob],
        allowed: frozenset[Priority],
        waiting_level: WaitingLevel,
        running_level: RunningLevel,
    ) -> None:
        """Judge every job again (a first pass, or changes that cannot be told apart)."""
        queue = view.pending
        self.jobs = dict(zip(queue.ids(), queue, strict=True))
        self.runs = {r.request.id: r for r in runs}
        self.allowed = allowed
        gone = [j for j in self._level if j not in self.runs and j not in self.jobs]
        self._apply(view, self.runs, self.jobs, gone, waiting_level, running_level)
        self.counted = {}
        self.counts = [(Counts(), Counts()) for _ in self.parts]
        self.waiting_in_front = set()
        for job_id in self._level:
            self._recount(job_id)
        self._expiry = [(t, j) for j, t in self._until.items() if t < _INF]
        heapq.heapify(self._expiry)

    def _read_changes(
        self,
        view: View,
        changes: _Changes,
        waiting_level: WaitingLevel,
        running_level: RunningLevel,
    ) -> None:
        """Judge only the jobs that may have changed: runs that began or ended, queued jobs
        that came or went, the last walk's starts that ran since, running jobs whose time
        in their queue is up, and running jobs the last walk preempted (the driver may not
        have applied it)."""
        runs, jobs, now = self.runs, self.jobs, view.now
        for r in changes.ended:
            if runs.get(r.request.id) is r:
                del runs[r.request.id]
        for r in changes.began:
            runs[r.request.id] = r
        stopped = {r.request.id for r in changes.ended}
        stopped.update(changes.rerun)
        running = {r.request.id for r in changes.began}
        running.update(j for j in self._doomed if j in runs)
        expiry, until = self._expiry, self._until
        while expiry and expiry[0][0] <= now:
            t, job_id = heapq.heappop(expiry)
            if job_id in runs and until.get(job_id) == t:
                running.add(job_id)
        touched = stopped | changes.left | running
        gone = [j for j in touched if j not in runs and j not in jobs]
        waiting = (stopped | changes.arrived) & jobs.keys()
        self._apply(view, running, waiting, gone, waiting_level, running_level)
        for job_id in touched | waiting:
            self._recount(job_id)

    def _apply(
        self,
        view: View,
        running: Iterable[JobId],
        waiting: Iterable[JobId],
        gone: Iterable[JobId],
        waiting_level: WaitingLevel,
        running_level: RunningLevel,
    ) -> None:
        """Step 1 (the step 3 of the last walk is in the parts already) for the jobs given:
        ``running`` and ``waiting`` are judged, ``gone`` leave the lists."""
        level, until, now, runs = self._level, self._until, view.now, self.runs
        new: list[tuple[float, JobId, int]] = []
        moved: list[tuple[float, JobId, int]] = []
        for job_id in running:
            run, before = runs[job_id], level.get(job_id)
            if (
                before is not None
                and job_id not in self.parts[before][BACK]  # (not left waiting)
                and until.get(job_id, -1.0) > now
            ):
                continue  # the same queue as in the last pass
            queue, until[job_id] = running_level(run)
            if until[job_id] < _INF:
                heapq.heappush(self._expiry, (until[job_id], job_id))
            if before is None:
                new.append((run.request.submit, job_id, queue))
            elif queue != before:
                moved.append((run.request.submit, job_id, queue))
        for job_id in waiting:
            job, before = self.jobs[job_id], level.get(job_id)
            queue = waiting_level(job)
            if before is None:
                new.append((job.submit, job_id, queue))
            elif queue != before:
                moved.append((job.submit, job_id, queue))
        for job_id in gone:
            del self._part_of(job_id)[job_id]
            del level[job_id]
        # new jobs join the end of their queue in arrival order, then jobs changing queue
        for _, job_id, queue in sorted(new):
            level[job_id] = queue
            self._parts_of(queue)[BACK][job_id] = next(self._last)
        for _, job_id, queue in sorted(moved):
            del self._part_of(job_id)[job_id]
            level[job_id] = queue
            self._parts_of(queue)[BACK][job_id] = next(self._last)

    # ------------------------------------------------------------------ step 3
    def walked(self, cycle: Cycle, doomed: Iterable[JobId]) -> None:
        """3. Cut each queue again: the jobs the walk left running (or did not walk) form the
        front, in order; those it left waiting (queued and not started, or preempted) the
        back, in order."""
        started, doomed = cycle.started, set(doomed)
        level = self._level
        # the queues where anything moves: elsewhere every front job ran and every back job
        # is a queued job that did not start
        queues = {level[j] for j in doomed} | {level[j] for j in started}
        queues |= {level[j] for j in self.waiting_in_front}
        queues |= {q for q, (_, back) in enumerate(self.counts) if back.running}
        for q in sorted(queues):
            front, back = self.parts[q]
            fell = {j for j in self.waiting_in_front if level[j] == q and j not in started}
            fell |= {j for j in doomed if j in front}
            ran = {j for j in self.counts[q][BACK].running if j not in doomed}
            ran.update(j for j in started if j in back)
            for job_id in reversed(in_order(fell, front)):  # to the front of the back
                del front[job_id]
                back[job_id] = next(self._first)
            for job_id in in_order(ran, back):  # to the end of the front
                del back[job_id]
                front[job_id] = next(self._last)
            for job_id in fell | ran:
                self._recount(job_id)
        history = cycle.view.usage.ran_before()
        self._started = {j: history.get(j) for j in started}
        self._doomed = list(doomed)

    def level(self, job_id: JobId) -> int | None:
        return self._level.get(job_id)

    # ------------------------------------------------------------------ internals
    def _parts_of(self, queue: int) -> tuple[Part, Part]:
        while len(self.parts) <= queue:
            self.parts.append(({}, {}))
            self.counts.append((Counts(), Counts()))
        return self.parts[queue]

    def _part_of(self, job_id: JobId) -> Part:
        front, back = self.parts[self._level[job_id]]
        return back if job_id in back else front

    def _recount(self, job_id: JobId) -> None:
        """Keep ``counts`` in step with where ``job_id`` is and whether it runs or waits."""
        old = self.counted.pop(job_id, None)
        if old is not None:
            queue, part, gpus, whole, size = old
            counts = self.counts[queue][part]
            counts.gpus -= gpus
            counts.whole -= whole
            if size is None:
                counts.running.discard(job_id)
            else:
                same = counts.sizes[size]
                same.discard(job_id)
                if not same:
                    del counts.sizes[size]
                self.waiting_in_front.discard(job_id)
        queue_of = self._level.get(job_id)
        if queue_of is None:
            return
        part = BACK if job_id in self.parts[queue_of][BACK] else FRONT
        counts = self.counts[queue_of][part]
        run = self.runs.get(job_id)
        if run is not None:
            movable = run.request.priority in self.allowed
            gpus = run.request.gpus if movable else 0
            whole = whole_gpus(run) if movable else 0
            counts.gpus += gpus
            counts.whole += whole
            counts.running.add(job_id)
            self.counted[job_id] = (queue_of, part, gpus, whole, None)
            return
        job = self.jobs[job_id]
        size = ((job.nodes, job.mig, job.gpu_model), job.gpus)
        counts.sizes.setdefault(size, set()).add(job_id)
        if part == FRONT:
            self.waiting_in_front.add(job_id)
        self.counted[job_id] = (queue_of, part, 0, 0, size)


def _diff(
    before: list[RunningJob], after: list[RunningJob]
) -> tuple[list[RunningJob], list[RunningJob]] | None:
    """(began, ended) between two lists of a driver's running jobs, where runs keep their
    order and new ones come last: a run of ``before`` not at its place in ``after`` ended
    (each found by halving, comparing slices), what follows the last one began; ``None``
    where the lists do not read that way."""
    ended: list[RunningJob] = []
    i = j = 0
    while i < len(before) and j < len(after):
        n = min(len(before) - i, len(after) - j)
        if before[i : i + n] != after[j : j + n]:
            lo, hi = 0, n  # the first ``lo`` runs are the same, the first ``hi`` are not
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if before[i : i + mid] == after[j : j + mid]:
                    lo = mid
                else:
                    hi = mid
            n = lo
        i, j = i + n, j + n
        if i < len(before) and j < len(after):
            ended.append(before[i])
            i += 1
    ended += before[i:]
    began = after[j:]
    if {id(r) for r in began}.intersection(map(id, ended)):
        return None  # (a run both ended and began: the order changed)
    return began, ended


def in_order(jobs: Iterable[JobId], part: Part) -> list[JobId]:
    return sorted(jobs, key=part.__getitem__)


def whole_gpus(run: RunningJob) -> int:
    """At most how many whole GPUs stopping ``run`` frees (a MIG slice: its GPU)."""
    return run.request.gpus or 1

"""Tiresias as in the paper (``semantics: paper``): every pass re-walks every queue.

The paper's simulator (Gu et al., NSDI'19, discretised 2D-LAS) keeps one list per queue, running
and waiting jobs together, and at every event:

1. a new job joins the end of queue 0; a running job whose attained service crosses its
   queue's threshold leaves its queue and joins the end of the next one (so it goes behind
   the jobs waiting there), a starving job joins the end of queue 0;
2. walks the queues from queue 0, each in its list order, with the whole cluster to give
   out: a job that fits gets its GPUs (a waiting job starts, a running job keeps running),
   a running job that no longer fits is preempted, a waiting one waits;
3. moves the jobs that wait behind those that run, in each queue, keeping their order.

``EntryOrder`` keeps the lists across passes; ``PaperWalk`` is the walk. Which running jobs
may be preempted is ``preempt_running`` (``any`` as in the paper); the others keep their GPUs
whatever their queue. With the ``pool`` placement the walk counts GPUs as the simulator's
"count" placement does: a job fits when the GPUs not yet given out in this pass suffice, and
the starts are placed once the victims are known. With other placements a waiting job takes
free GPUs where it can, else those of running jobs later in the walk, which then no longer
fit; a running job keeps running when no job before it in the walk took its GPUs.

A pass decides as if it looked at every job in turn, but looks only at what can change the
outcome. Each shortcut is exact: the same actions as the plain walk, job for job (the tests
run both on random job streams, with drivers that do odd things between passes, and compare
every pass):

- each queue is kept as two parts: the *front* (the jobs the last walk left running, or did
  not walk) and the *back* (the jobs it left waiting, then the jobs that joined since). Step
  3 is then what the parts already are, instead of a renumbering of every waiting job on
  every pass. A job's place in its part is a number: joining the end takes the next one,
  going to the front of a back takes one below every number given so far;
- between passes the order learns what changed without reading every job. The capacity
  index's ``stamp`` moves once per start and once per stop; the driver's running jobs keep
  their order and new ones come last, so the runs that ended and began are found by
  comparing the list with the last one (slice comparisons), and a stamp that moved exactly
  that often proves that nothing ran unseen in between (the last walk's starts that ran and
  stopped since are told by their attained service). The queue's ``epoch`` counts the jobs
  taken out and put back: when it moved exactly as the known starts and requeues explain,
  the other changes are new jobs at its tail. A heap holds when each running job reaches
  its next queue. A waiting job's queue changes only when it runs, unless ``starvation_s``
  promotes it: with starvation, or where the changes cannot be told apart (another index,
  queue or ledger; a node going down; GPUs held outside aitc; a job held and released),
  every job is judged again, as on a first pass;
- per queue and part the order keeps the running jobs, the GPUs of those the walk may
  preempt, and the waiting jobs by size. The walk looks at the running jobs of a part and
  at the waiting jobs small enough to start there: a waiting job that asks for more GPUs
  than the walk could still give it (free, or held by the running jobs after it; this only
  shrinks along the walk) cannot start. A part with no such job is passed over with one
  subtraction: its running jobs keep running unless a job before them took their GPUs;
  counting GPUs, they all keep running when what is left to give out covers them all;
- where a waiting job does not fit in the free GPUs, the room the running jobs after it
  would leave is counted (the walks' size rule, ``FreeRoom``) before any of them is released
  on a trial overlay: a job that cannot fit even there fails without the trial.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement, Priority, RunningJob
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.ledger import UsageLedger
from aitc.engine.pending import PendingQueue
from aitc.engine.queues import Admit, FreeRoom, Walk
from aitc.engine.queues.walk import MANY, Why
from aitc.engine.view import View

CAUSE = "a job of a higher queue, or earlier in its queue, needs its GPUs"
FRONT, BACK = 0, 1
Part = dict[JobId, int]  # the jobs of a part, each with its place (smaller: earlier)
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
class _Counts:
    """One part of a queue: its running jobs, the GPUs of those the walk may preempt, and
    its waiting jobs by the GPUs they ask for."""

    gpus: int = 0  # GPUs of the movable running jobs
    whole: int = 0  # whole GPUs they hold (a MIG slice: its GPU)
    running: set[JobId] = field(default_factory=set)  # every running job here
    sizes: dict[int, set[JobId]] = field(default_factory=dict)

    def smallest(self) -> int:
        """The fewest GPUs a waiting job here asks for (``MANY`` if none waits here)."""
        return min(self.sizes) if self.sizes else MANY

    def turns(self, part: Part, most: int) -> list[JobId]:
        """In list order: the running jobs, and the waiting jobs of at most ``most`` GPUs."""
        ids = [j for size, jobs in self.sizes.items() if size <= most for j in jobs]
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
        self.counts: list[tuple[_Counts, _Counts]] = []
        self._last = itertools.count()  # places at the end of a part
        self._first = itertools.count(-1, -1)  # places at the front of a part
        self._until: dict[JobId, float] = {}  # a running job stays in its queue until then
        self._expiry: list[tuple[float, JobId]] = []  # a heap over ``_until``
        self.runs: dict[JobId, RunningJob] = {}
        self.jobs: dict[JobId, JobRequest] = {}
        self.allowed: frozenset[Priority] = frozenset()
        # what each job adds to ``counts``: queue, part, GPUs and whole GPUs if it runs and
        # may be preempted, and its size if it waits (-1: it runs)
        self._counted: dict[JobId, tuple[int, int, int, int, int]] = {}
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
        # the last walk's starts that ran and stopped since (a start and a stop each)
        history = view.usage.ran_before()
        rerun = [j for j, done in self._started.items() if history.get(j) is not done]
        moved = view.capacity.stamp - seen.stamp - 2 * len(rerun)
        if moved == 0:  # the same runs (what else moved the stamp is accounted for)
            runs, began, ended = seen.runs, list[RunningJob](), list[RunningJob]()
        else:
            runs = list(view.running)
            diff = _diff(seen.runs, runs)
            if diff is None or len(diff[0]) + len(diff[1]) != moved:
                return None  # (a run began or ended unseen, or GPUs changed hands otherwise)
            began, ended = diff
        queue, jobs = view.pending, self.jobs
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
        self._counted = {}
        self.counts = [(_Counts(), _Counts()) for _ in self.parts]
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
            for job_id in reversed(_in_order(fell, front)):  # to the front of the back
                del front[job_id]
                back[job_id] = next(self._first)
            for job_id in _in_order(ran, back):  # to the end of the front
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
            self.counts.append((_Counts(), _Counts()))
        return self.parts[queue]

    def _part_of(self, job_id: JobId) -> Part:
        front, back = self.parts[self._level[job_id]]
        return back if job_id in back else front

    def _recount(self, job_id: JobId) -> None:
        """Keep ``counts`` in step with where ``job_id`` is and whether it runs or waits."""
        old = self._counted.pop(job_id, None)
        if old is not None:
            queue, part, gpus, whole, size = old
            counts = self.counts[queue][part]
            counts.gpus -= gpus
            counts.whole -= whole
            if size < 0:
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
            whole = _whole(run) if movable else 0
            counts.gpus += gpus
            counts.whole += whole
            counts.running.add(job_id)
            self._counted[job_id] = (queue_of, part, gpus, whole, -1)
            return
        size = self.jobs[job_id].gpus
        counts.sizes.setdefault(size, set()).add(job_id)
        if part == FRONT:
            self.waiting_in_front.add(job_id)
        self._counted[job_id] = (queue_of, part, 0, 0, size)


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


def _in_order(jobs: Iterable[JobId], part: Part) -> list[JobId]:
    return sorted(jobs, key=part.__getitem__)


class PaperWalk:
    """The queue discipline of ``semantics: paper``: every job, running or waiting, in turn."""

    def __init__(self, prepare: Callable[[Cycle], EntryOrder]) -> None:
        self.prepare = prepare  # brings the policy's entry order up to the pass's view

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> Walk:
        del ordered, victims  # the walk takes the running jobs too, in its own order
        order = self.prepare(cycle)
        turns = _Turns(cycle, order)
        if cycle.placer.gpus_anywhere and not cycle.fences:
            doomed = _by_count(cycle, turns, admit)
        else:
            doomed = _by_placement(cycle, turns, admit)
        order.walked(cycle, doomed)
        return Walk(complete=True)

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why:
        return _QUEUE_BY_QUEUE


_QUEUE_BY_QUEUE = Why(otherwise="queue by queue, the jobs before it take the GPUs first")


class _Turns:
    """The walk's view of an ``EntryOrder``: the running jobs it may preempt (``movable``),
    and per queue and part the GPUs they hold, less the jobs preempted before the walk (for
    a reservation), which are no turn of it."""

    def __init__(self, cycle: Cycle, order: EntryOrder) -> None:
        self.order, self.runs, self.jobs = order, order.runs, order.jobs
        self.out = set(cycle.preempted)
        self.gpus = [[c.gpus for c in parts] for parts in order.counts]
        self.whole = [[c.whole for c in parts] for parts in order.counts]
        for job_id in self.out:
            counted = order._counted.get(job_id)
            if counted is not None:
                queue, part, gpus, whole, _ = counted
                self.gpus[queue][part] -= gpus
                self.whole[queue][part] -= whole

    def movable(self, job_id: JobId) -> RunningJob | None:
        run = self.runs.get(job_id)
        if run is None or run.request.priority not in self.order.allowed or job_id in self.out:
            return None
        return run

    def after(
        self, queue: int, part: int, place: int, doomed: dict[JobId, RunningJob]
    ) -> list[RunningJob]:
        """The movable running jobs after place ``place`` of part ``part`` of ``queue``, in
        walk order, not yet preempted."""
        parts, counts = self.order.parts, self.order.counts
        here = parts[queue][part]
        ids = _in_order((j for j in counts[queue][part].running if here[j] > place), here)
        if part == FRONT:
            ids += _in_order(counts[queue][BACK].running, parts[queue][BACK])
        for q in range(queue + 1, len(parts)):
            for p in (FRONT, BACK):
                ids += _in_order(counts[q][p].running, parts[q][p])
        later = []
        for job_id in ids:
            run = self.movable(job_id)
            if run is not None and job_id not in doomed:
                later.append(run)
        return later


def _ready(cycle: Cycle, job: JobRequest, admit: Admit) -> bool:
    return cycle.possible(job) and admit(cycle, job) is None


def _by_count(cycle: Cycle, turns: _Turns, admit: Admit) -> list[JobId]:
    """The simulator's walk: a job fits when enough GPUs are left to give out."""
    left = cycle.capacity.total_free() + sum(sum(g) for g in turns.gpus)
    victims: list[RunningJob] = []
    starts: list[JobRequest] = []
    jobs_get, order = turns.jobs.get, turns.order
    for q, parts in enumerate(order.parts):
        for part, part_ids in enumerate(parts):
            counts = order.counts[q][part]
            if counts.smallest() > left:  # none of its waiting jobs fits: only runs matter
                if left >= turns.gpus[q][part]:
                    left -= turns.gpus[q][part]  # each fits, being smaller than what is left
                    continue
                ids = _in_order(counts.running, part_ids)
            else:
                ids = counts.turns(part_ids, left)
            for job_id in ids:
                job = jobs_get(job_id)
                if job is None:  # (a running job)
                    run = turns.movable(job_id)
                    if run is None:
                        continue
                    if run.request.gpus <= left:
                        left -= run.request.gpus
                    else:
                        victims.append(run)
                elif job.gpus <= left and _ready(cycle, job, admit):
                    left -= job.gpus
                    starts.append(job)
    for run in victims:
        cycle.preempt(run, CAUSE)
    for job in starts:
        placement = cycle.place(job)  # (MIG slices and jobs with a node count: placed for real)
        if placement is not None:
            cycle.start(job, placement)
    return [run.request.id for run in victims]


def _by_placement(cycle: Cycle, turns: _Turns, admit: Admit) -> list[JobId]:
    """The walk with real placements, on ``held``: the pass's capacity with every running job
    not yet found in the way. A waiting job takes free GPUs where it can; else, if it fits
    once the running jobs after it in the walk are set aside, it takes what it needs of
    theirs and those jobs no longer fit. A job shape that does not fit that way keeps not
    fitting for the rest of the walk (what is given out only grows), so it is tried once."""
    placer, order = cycle.placer, turns.order
    held: CapacityIndex = cycle.capacity.overlay()
    free = held.total_free()
    later_gpus = sum(sum(w) for w in turns.whole)  # whole GPUs of the runs not yet walked
    doomed: dict[JobId, RunningJob] = {}
    doomed_whole = [[0, 0] for _ in order.parts]  # of the preempted jobs, per queue and part
    starts: list[tuple[JobRequest, Placement]] = []
    failed: dict[tuple[object, ...], int] = {}  # shape -> fewest GPUs that did not fit
    jobs_get = turns.jobs.get
    for q, parts in enumerate(order.parts):
        for part, part_ids in enumerate(parts):
            counts = order.counts[q][part]
            if counts.smallest() > free + later_gpus:
                # none of its waiting jobs can start: its running jobs only leave ``later``
                later_gpus -= turns.whole[q][part] - doomed_whole[q][part]
                continue
            for job_id in counts.turns(part_ids, free + later_gpus):
                job = jobs_get(job_id)
                if job is None:  # (a running job)
                    run = turns.movable(job_id)
                    if run is not None and job_id not in doomed:
                        later_gpus -= _whole(run)
                    continue
                if job.gpus > free + later_gpus:
                    continue
                fences = cycle.fences_for(job)
                shape = (job.nodes, job.mig, job.gpu_model, fences)
                if failed.get(shape, MANY) <= job.gpus or not _ready(cycle, job, admit):
                    continue
                placement = None
                if job.mig is not None or job.gpus <= free:  # (else no whole GPUs for it)
                    placement = placer.now(job, held, fences)
                if placement is None:
                    later = turns.after(q, part, part_ids[job_id], doomed)
                    if cycle.size_filters and not _could_fit(
                        job, held, later, placer.gpus_anywhere
                    ):
                        failed[shape] = job.gpus
                        continue
                    trial = held.overlay()
                    for other in later:
                        trial.release(other.placement)
                    placement = placer.now(job, trial, fences)
                    if placement is None:
                        failed[shape] = job.gpus
                        continue
                    taken = set(_gpus_of(placement))  # running jobs whose GPUs it takes
                    for victim in [r for r in later if taken.intersection(_gpus_of(r.placement))]:
                        victim_id = victim.request.id
                        later_gpus -= _whole(victim)
                        doomed[victim_id] = victim
                        where = order._counted[victim_id]
                        doomed_whole[where[0]][where[1]] += _whole(victim)
                        held.release(victim.placement)
                held.allocate(placement)
                free = held.total_free()
                starts.append((job, placement))
    for victim in doomed.values():
        cycle.preempt(victim, CAUSE)
    for job, placement in starts:
        cycle.start(job, placement)
    return list(doomed)


def _could_fit(
    job: JobRequest, capacity: CapacityIndex, runs: Iterable[RunningJob], anywhere: bool
) -> bool:
    """Whether ``job`` could fit in ``capacity`` once ``runs`` are stopped, by the walks' size
    rule (``FreeRoom.admits``), counted without stopping them: each node gains the GPUs of
    the runs on it (a MIG slice: its GPU, at most), so the room counted is never smaller than
    the room there would be. A MIG slice or a single GPU always could (the caller tried
    the size against the GPUs the runs hold)."""
    if job.mig is not None or job.gpus <= 1:
        return True
    pools = [p for p in capacity.pools() if p.nodes]
    if not pools:
        return True
    gained: dict[int, int] = {}
    position = capacity.position
    for run in runs:
        for alloc in run.placement.allocs:
            pos = position(alloc.node)
            gained[pos] = gained.get(pos, 0) + (len(alloc.gpus) or 1)
    free = capacity.total_free() + sum(gained.values())
    freest = max(p.max_node_free() for p in pools)
    whole = sum(p.idle_nodes for p in pools)
    nodes = capacity.cluster.nodes
    for pos, gpus in gained.items():
        after = capacity.free_mask(pos).bit_count() + gpus
        freest = max(freest, after)
        whole += after >= nodes[pos].gpus  # (a node a run holds is not idle before)
    node_gpus, big = min(p.node_gpus for p in pools), max(p.node_gpus for p in pools)
    room = FreeRoom(free if anywhere else freest, free, node_gpus, big, whole)
    return room.admits(job.gpus, job.nodes)


def _whole(run: RunningJob) -> int:
    """At most how many whole GPUs stopping ``run`` frees (a MIG slice: its GPU)."""
    return run.request.gpus or 1


def _gpus_of(placement: Placement) -> Iterable[tuple[str, int]]:
    """(node, GPU index) of every GPU a placement uses, whole or for a MIG slice (two slices
    on one GPU count as in each other's way: a cautious simplification)."""
    for alloc in placement.allocs:
        for gpu in alloc.gpus or ((alloc.mig.gpu,) if alloc.mig else ()):
            yield alloc.node, gpu

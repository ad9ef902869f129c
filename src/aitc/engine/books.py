"""The books: the one driver state that both drivers keep and the engine plans on.

A driver (the twin, the controller, a test) owns one ``Books``: the capacity index, the usage
ledger, the ``PendingQueue`` and the running jobs. It feeds it what happens (``submit``,
``finish``, ``requeue``, ``cancel``, nodes going down or up, GPUs used outside aitc) and hands
it the engine's actions (``apply``); nothing else changes these four, so they always agree with
each other, and ``view()`` is the engine's input without a copy. The controller keeps its books
across passes and rebuilds them only at start-up or on resync; the twin keeps them for a run.

Every change bumps ``changes``, so a driver can tell cheaply whether anything happened.

Jobs with a dependency (Slurm's ``--dependency``) enter the queue only once it holds; until
then they wait in ``dependencies`` (``aitc.engine.dependencies``: the waiting jobs and what the
rule needs). The books tell it when a job starts or is requeued; a driver tells the books when a
job ends for good (``ended``) and what time it is (``wake``, for ``after:ID+MIN``), and takes
the jobs whose dependency can never hold (``take_never``) to cancel them.

Jobs whose begin time (Slurm's ``--begin``) has not come wait out of the queue too, in
``begin_times`` (``aitc.engine.begin``), after their dependency holds; ``wake`` queues them when
the clock reaches it. ``next_due`` says when a driver must wake the books next (a begin time,
an ``after:ID+MIN``), and ``waiting_reasons`` why each job out of the queue waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar, overload

from aitc.domain.cluster import Cluster
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, JobState, Placement, RunningJob
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.engine.begin import BeginTimes
from aitc.engine.capacity import CapacityIndex
from aitc.engine.dependencies import DependencyBook
from aitc.engine.ledger import PastRun, UsageLedger
from aitc.engine.pending import PendingQueue
from aitc.engine.view import Action, Preempt, Reason, Start, View
from aitc.errors import SchedulingError

T = TypeVar("T")


class LiveValues(Sequence[T]):
    """The values of a dict as a read-only sequence, without copying them.

    The books never change while the engine holds a view (actions are applied after
    ``schedule`` returns), so iterating the live values is a faithful snapshot; indexing,
    which the engine rarely needs, materialises a list once.
    """

    __slots__ = ("_items", "_list")

    def __init__(self, items: dict[JobId, T]) -> None:
        self._items = items
        self._list: list[T] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if self._list is None:
            self._list = list(self._items.values())
        return self._list[index]


class Books:
    """Capacity index, usage ledger, pending queue and running jobs, changed only together."""

    def __init__(self, cluster: Cluster, half_life_s: float) -> None:
        self.cluster = cluster
        self.capacity = CapacityIndex(cluster)
        self.ledger = UsageLedger(half_life_s)
        self.pending = PendingQueue()
        self.running: dict[JobId, RunningJob] = {}
        self.dependencies = DependencyBook(self.running)
        self.begin_times = BeginTimes()
        self.changes = 0
        self._down: set[str] = set()
        self._foreign: dict[str, int] = {}

    # ------------------------------------------------------------------ the engine's input
    def view(
        self,
        now: float,
        *,
        organisations: Sequence[Organisation] = (),
        reservations: Sequence[Reservation] = (),
    ) -> View:
        return View(  # (by position: a view is made for every pass)
            now,
            self.cluster,
            self.pending,
            LiveValues(self.running),
            self.capacity,
            self.ledger,
            organisations,
            reservations,
            self.dependencies.provisional.keys(),
        )

    # ------------------------------------------------------------------ the queue
    def submit(self, job: JobRequest) -> None:
        """Queue a new job as the newest arrival (once its dependency holds)."""
        self.changes += 1
        self.dependencies.note(job)
        if job.dependency is None or self.dependencies.admit(job):
            self._enter(job, newest=True)

    def restore(self, job: JobRequest) -> None:
        """Queue a job at its place in arrival order (a released hold, a requeue), once its
        dependency holds."""
        self.changes += 1
        self.dependencies.note(job)
        if job.dependency is None or self.dependencies.admit(job):
            self._enter(job)

    def _enter(self, job: JobRequest, *, newest: bool = False) -> None:
        """Queue a job whose dependency holds, or keep it out until its begin time."""
        if self.begin_times.defers(job):
            self.begin_times.defer(job)
        elif newest:
            self.pending.add(job)
        else:
            self.pending.requeue(job)

    def queued(self, job_id: JobId) -> JobRequest | None:
        """A pending job the books hold: in the queue, waiting for its dependency or for its
        begin time; None if neither (running, held out by the driver, or unknown)."""
        return (
            self.pending.get(job_id)
            or self.dependencies.waiting.get(job_id)
            or self.begin_times.waiting.get(job_id)
        )

    def cancel(self, job_id: JobId) -> JobRequest | None:
        """Take a pending job out of the queue (or out of waiting for its dependency or its
        begin time); None if it was none of these. A hold cancels too: the job ends for good
        only with ``ended``."""
        if self.pending.get(job_id) is None:
            waiting = self.dependencies.withdraw(job_id) or self.begin_times.withdraw(job_id)
            self.changes += waiting is not None
            return waiting
        self.changes += 1
        return self.pending.remove(job_id)

    def amend(self, job: JobRequest, *, held: JobRequest | None = None) -> bool:
        """A pending job's request changed (``aitc update``): take the old one out and queue
        ``job`` at the old one's place in arrival order (the queue's indexes follow its new
        size and class), its dependency judged afresh if it or the job's name changed.
        ``held``: the old request of a job the driver holds out of the books; it stays out
        (``restore`` it when released). False (nothing changed) if the books hold neither."""
        old = held if held is not None else self.cancel(job.id)
        if old is None:
            return False
        self.changes += 1
        ready = self.dependencies.amend(old, job, held=held is not None)
        if held is None:
            self.restore(job)
        self.dependencies.forget_outcomes(old)
        self._queue_ready(ready)
        return True

    # ------------------------------------------------------------------ dependencies
    def ended(self, job: JobRequest, state: JobState, at: float) -> None:
        """A job ended for good in ``state`` at ``at`` (after ``finish`` or ``cancel``, never
        for a preemption or a hold): the ledger forgets its attained service (its usage stays
        in the decayed totals), the jobs waiting for it are judged again, and those whose
        dependency now holds go into the queue at their place."""
        self.ledger.forget(job.id)
        self._queue_ready(self.dependencies.ended(job, state, at))

    def wake(self, now: float) -> None:
        """The clock reached ``now``: jobs waiting for the minutes of ``after:ID+MIN`` that
        came due are judged again, and jobs whose begin time came are queued (``next_due``:
        when the next of either comes)."""
        if self.dependencies.waiting:
            self._queue_ready(self.dependencies.wake(now))
        begin = self.begin_times
        if not begin.waiting:  # (every pass: the usual case costs one comparison)
            if now > begin.now:
                begin.now = now
            return
        begun = begin.wake(now)
        for job in begun:
            self.pending.requeue(job)
        self.changes += bool(begun)

    def next_due(self) -> float | None:
        """When to ``wake`` the books next: the first begin time or ``after:ID+MIN`` to come
        (None: none)."""
        after = self.dependencies.next_due()
        if not self.begin_times.waiting:  # (every pass: the usual case)
            return after
        begin = self.begin_times.next_due()
        return begin if after is None else after if begin is None else min(after, begin)

    def waiting_reasons(self) -> dict[JobId, Reason]:
        """Why each job out of the queue waits: its dependency, or its begin time."""
        return {**self.dependencies.reasons(), **self.begin_times.reasons()}

    def _queue_ready(self, ready: list[JobRequest]) -> None:
        for waiting in ready:
            self._enter(waiting)
        self.changes += bool(ready or self.dependencies.waiting)  # a reason may have changed

    def take_never(self) -> list[tuple[JobRequest, str]]:
        """Jobs whose dependency can never hold, out of the books, with why (to cancel)."""
        return self.dependencies.take_never()

    # ------------------------------------------------------------------ actions
    def apply(
        self, actions: Sequence[Action], now: float, *, planned: CapacityIndex | None = None
    ) -> list[Action]:
        """Apply the engine's actions in order; returns them. A ``Start`` takes the job out of
        the queue and allocates its placement; a ``Preempt`` frees the job's GPUs at once and
        puts it back at its place in the queue.

        ``planned``: the pass's own capacity (``Outcome.planned``, an overlay of this index
        with the actions taken). Where the pass only started jobs and nothing else changed
        the index since, the index takes it over (``CapacityIndex.absorb``) instead of
        allocating every start again: the same holdings either way."""
        done: list[Action] = []
        allocated = planned is not None and self.capacity.absorb(
            planned, sum(isinstance(a, Start) for a in actions)
        )
        for action in actions:
            if isinstance(action, Start):
                job = self.pending.remove(action.job_id)
                self.adopt(job, action.placement, now, attained=None, allocated=allocated)
            elif isinstance(action, Preempt):
                self.requeue(action.job_id, now)
            done.append(action)
        return done

    def adopt(
        self,
        job: JobRequest,
        placement: Placement,
        started: float,
        *,
        attained: float | None,
        allocated: bool = False,
    ) -> RunningJob:
        """Count ``job`` as running on ``placement`` since ``started`` (a start, or a job found
        running at start-up). ``attained``: GPU-seconds before this run (None: the ledger's).
        ``allocated``: the capacity index holds the placement already (``apply``)."""
        if not allocated:
            self.capacity.allocate(placement)  # SchedulingError if the GPUs are taken
        self.dependencies.note(job)
        done = self.ledger.attained(job.id, started) if attained is None else attained
        if not self.ledger.is_running(job.id):
            self.ledger.job_started(job, started)
        run = RunningJob(job, placement, started, done)
        self.running[job.id] = run
        self.changes += 1
        ready, blocked = self.dependencies.started(job, started)
        for job_id in blocked:  # singletons of its name and member that wait again
            queued = self.pending.get(job_id)
            if queued is not None and self.dependencies.evict(queued):
                self.pending.remove(job_id)
        self._queue_ready(ready)
        return run

    def amend_running(self, job: JobRequest) -> bool:
        """A running job's request changed (its time limit: ``aitc update``): the books count
        the same run (start, placement, attained service) with the new request, so the
        estimated starts that wait for it move. False if it does not run or nothing changed."""
        run = self.running.get(job.id)
        if run is None or run.request == job:
            return False
        self.running[job.id] = RunningJob(job, run.placement, run.started, run.attained_gpu_seconds)
        self.changes += 1
        return True

    def finish(self, job_id: JobId, now: float) -> RunningJob:
        """A running job ended: free its GPUs and stop its usage. ``KeyError`` if not running."""
        run = self.running.pop(job_id)
        self.capacity.release(run.placement)
        if self.ledger.is_running(job_id):
            self.ledger.job_stopped(job_id, now)
        self.changes += 1
        return run

    def requeue(self, job_id: JobId, now: float) -> RunningJob:
        """A running job goes back to the queue (preempted, or lost and retried)."""
        if job_id not in self.running:
            raise SchedulingError(f"job {job_id} was preempted or requeued but is not running")
        run = self.finish(job_id, now)
        job = run.request
        ready = self.dependencies.stopped(job)
        if job.dependency is None or self.dependencies.admit(job):  # a singleton may wait
            self._enter(job)
        self._queue_ready(ready)
        return run

    # ------------------------------------------------------------------ history and nodes
    def replay(self, runs: Iterable[PastRun]) -> None:
        """Feed past and current runs to the ledger in time order (before anything else)."""
        self.ledger.replay(runs)

    def set_down(self, node: str, down: bool) -> None:
        """Follow a node going down (or drained) and coming back."""
        if down and node not in self._down:
            self.capacity.set_node_down(node)
            self._down.add(node)
            self.changes += 1
        elif not down and node in self._down:
            self.capacity.set_node_up(node)
            self._down.discard(node)
            self.changes += 1

    def set_foreign(self, node: str, gpus: int) -> None:
        """Hold ``gpus`` GPUs of ``node`` for use outside aitc (as many as are free);
        ``SchedulingError`` if the index refuses."""
        have = self._foreign.get(node, 0)
        want = min(gpus, have + len(self.capacity.node_free(node).gpus))
        if want > have:
            self.capacity.hold_foreign(node, want - have)
        elif want < have:
            self.capacity.release_foreign(node, have - want)
        if want != have:
            self._foreign[node] = want
            self.changes += 1

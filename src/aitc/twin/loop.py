"""The twin's event loop: a heap of ``(time, priority, seq, event)``, as in SimPy's core.

Events are arrivals, completions, reservation starts and ends, policy ticks, and the times
when a job waiting for ``after:ID+MIN`` may go into the queue (wake-ups). All events of
one instant are handled first (completions before arrivals, by priority; ties by a counter, so
runs replay exactly); then, if the state changed, the engine is called once and its actions are
applied in order to the twin's ``Books`` (``aitc.engine.books``, the driver state the controller
keeps too), and the twin then follows them with its own records. Preempted jobs free
their GPUs at once and return to the queue; their next run begins with ``preempt_overhead_s``
seconds of checkpoint restore and lost work. A job with a dependency waits in the books
until it holds (the same rule as production's); one whose dependency can never hold leaves as
``rejected``. The loop never reads the wall clock.
"""

from __future__ import annotations

import gc
import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from aitc.domain.cluster import Cluster
from aitc.domain.job import JobRequest, JobState
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.engine.books import Books
from aitc.engine.capacity import CapacityIndex
from aitc.engine.params import DEFAULT_HALF_LIFE_S
from aitc.engine.view import Preempt, Start, View
from aitc.errors import TraceError
from aitc.twin.jobs import JobRecord, Outcome
from aitc.twin.locality import LocalityModel, Topology
from aitc.twin.metrics import JobTable, Timeline
from aitc.twin.trace import TraceJob

# Event priorities within one instant: resources come back before anyone asks for them.
END, RES_END, ARRIVE, RES_START, TICK, WAKE = 0, 1, 2, 3, 4, 5

Event = tuple[float, str, int | str]
# Passes at one instant: a pass that preempts is followed by another at once (the controller
# passes again at once after a busy pass), at most this many in all.
_PASSES_PER_INSTANT = 8
# How a twin outcome ends a job for the jobs that depend on it.
_ENDED = {
    Outcome.COMPLETED: JobState.COMPLETED,
    Outcome.TIMEOUT: JobState.TIMEOUT,
    Outcome.REJECTED: JobState.FAILED,
    Outcome.UNFINISHED: JobState.CANCELLED,
}
Progress = Callable[[float, int, int], None]


@dataclass(frozen=True, slots=True)
class TwinConfig:
    """Knobs of the twin (not of the policy): locality, preemption cost, ticks, decay."""

    locality: LocalityModel = field(default_factory=LocalityModel)
    preempt_overhead_s: float = 60.0
    tick_s: float | None = None
    half_life_s: float = DEFAULT_HALF_LIFE_S
    # whether a run ends at the job's time limit (state ``timeout``), as Slurm does; off for
    # ``--oracle``, whose limits are the runtimes themselves
    kill_at_time_limit: bool = True
    progress_every: int = 50_000
    # every so many events, what is alive leaves the garbage collector's sweeps (see
    # ``_collector_spared``); 0: never
    freeze_every: int = 100_000


class PassLike(Protocol):
    """What the loop reads of one pass (``aitc.engine.scheduler.Outcome``)."""

    @property
    def actions(self) -> Sequence[Start | Preempt]: ...

    @property
    def planned(self) -> CapacityIndex | None: ...


class SchedulerLike(Protocol):
    """What the loop needs of an ``aitc.engine`` scheduler."""

    def run(self, view: View) -> PassLike: ...


class Twin:
    """One simulated run of ``jobs`` on ``cluster`` under ``scheduler``."""

    def __init__(
        self,
        cluster: Cluster,
        scheduler: SchedulerLike,
        jobs: Iterator[TraceJob],
        *,
        organisations: Sequence[Organisation] = (),
        reservations: Sequence[Reservation] = (),
        config: TwinConfig | None = None,
        can_ever_run: Callable[[JobRequest], bool] | None = None,
        record: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.cfg = config or TwinConfig()
        self.cluster, self.scheduler = cluster, scheduler
        self.organisations = tuple(organisations)
        self.reservations = tuple(sorted(reservations, key=lambda r: (r.start, r.id)))
        self.books = Books(cluster, self.cfg.half_life_s)
        self.capacity, self.ledger = self.books.capacity, self.books.ledger
        self.topology = Topology(cluster, self.cfg.locality)
        self.table, self.timeline = JobTable(), Timeline()
        self.events: list[Event] | None = [] if record else None
        self.now, self.passes, self.handled = 0.0, 0, 0
        self._jobs, self._can_run, self._progress = jobs, can_ever_run, progress
        self._heap: list[tuple[float, int, int, int, int]] = []
        self._seq = 0
        self._records: dict[int, JobRecord] = {}
        self._pending, self._running = self.books.pending, self.books.running
        self._busy, self._tick_at, self._last_submit = 0.0, -1.0, 0.0
        self._wake_at = float("inf")  # the next wake-up pushed (after:ID+MIN)
        self._dirty = self._force = False
        self.tenant_gpu_seconds: dict[str, float] = {}

    # ------------------------------------------------------------------ the loop
    def run(self) -> Twin:
        """Run until no event is left; every job ends completed, rejected or unfinished."""
        with _collector_spared():
            for i, res in enumerate(self.reservations):
                self._push(res.start, RES_START, i)
                self._push(res.end, RES_END, i)
            self._next_arrival()
            heap, handlers, pop = self._heap, self._handlers(), heapq.heappop
            progress, every = self._progress, self.cfg.progress_every
            freeze_every = self.cfg.freeze_every
            # every so many events, a progress report or a freeze may be due
            due = math.gcd(every if progress else 0, freeze_every) or 1 << 62
            handled = self.handled
            while heap:
                t, prio, _, a, b = pop(heap)
                self.now = t
                handlers[prio](a, b)
                handled += 1
                if self._dirty and (not heap or heap[0][0] > t):
                    self._pass()
                if handled % due == 0:
                    self.handled = handled
                    if progress and handled % every == 0:
                        progress(t, len(self.table), handled)
                    if freeze_every and handled % freeze_every == 0:
                        gc.collect(1)  # young garbage goes first, then what lives stays out
                        gc.freeze()
            self.handled = handled
            self._finish_unfinished()
        return self

    def _handlers(self) -> list[Callable[[int, int], None]]:
        """The handler of each event priority, indexed by it."""
        by_prio = {
            END: self._on_end,
            RES_END: self._on_release,
            ARRIVE: self._on_arrival,
            RES_START: self._on_reserve,
            TICK: self._on_tick,
            WAKE: self._on_wake,
        }
        return [by_prio[prio] for prio in range(len(by_prio))]

    def _push(self, t: float, prio: int, a: int, b: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, a, b))

    def _record(self, kind: str, subject: int | str) -> None:
        if self.events is not None:
            self.events.append((self.now, kind, subject))

    # ------------------------------------------------------------------ handlers
    def _next_arrival(self) -> None:
        nxt = next(self._jobs, None)
        if nxt is None:
            return
        req = nxt.request
        if req.submit < self._last_submit:
            raise TraceError(
                f"job {req.id} (submitted at {req.submit}) comes after a "
                f"job submitted at {self._last_submit}; a trace must be sorted by submit time"
            )
        self._last_submit = req.submit
        self._records[req.id] = JobRecord(req, nxt.runtime)
        self._push(req.submit, ARRIVE, req.id)

    def _on_arrival(self, job_id: int, _: int) -> None:
        rec = self._records[job_id]
        self._record("arrive", job_id)
        self._next_arrival()
        if self._can_run is not None and not self._can_run(rec.request):
            self._record("reject", job_id)
            self._close(rec, Outcome.REJECTED)
            return
        self.books.submit(rec.request)
        self._dirty = True

    def _on_end(self, job_id: int, epoch: int) -> None:
        rec = self._records.get(job_id)
        if rec is None or rec.epoch != epoch:  # a run that a preemption cut short
            return
        timed_out = rec.timed_out
        self._stop(rec)
        self._record("timeout" if timed_out else "end", job_id)
        self._close(rec, Outcome.TIMEOUT if timed_out else Outcome.COMPLETED)
        self._dirty = True

    def _on_reserve(self, index: int, _: int) -> None:
        self._record("reserve", self.reservations[index].id)
        self._dirty = self._force = True

    def _on_release(self, index: int, _: int) -> None:
        self._record("release", self.reservations[index].id)
        self._dirty = self._force = True

    def _on_tick(self, _: int, __: int) -> None:
        self._dirty = True

    def _on_wake(self, _: int, __: int) -> None:
        self._wake_at = float("inf")
        self._dirty = True

    # ------------------------------------------------------------------ engine pass
    def _pass(self) -> None:
        self._dirty = False
        self.books.wake(self.now)
        while never := self.books.take_never():  # closing one may doom those depending on it
            for job, _ in never:
                self._record("reject", job.id)
                self._close(self._records[job.id], Outcome.REJECTED)
        forced, self._force = self._force, False
        again = self._pending or forced
        for _ in range(_PASSES_PER_INSTANT):
            if not again:
                break
            self.passes += 1
            outcome = self.scheduler.run(self._view())
            # in the books first, in order (a pass that only started jobs: its capacity taken
            # over, ``Books.apply``); then the twin's own records of each
            self.books.apply(outcome.actions, self.now, planned=outcome.planned)
            again = False
            for action in outcome.actions:
                if isinstance(action, Start):
                    self._started(action)
                else:  # preempted: back at its place in the queue, its GPUs free
                    self._stop(self._records[action.job_id], preempted=True)
                    self._record("preempt", action.job_id)
                    # the GPUs it frees may fit jobs the walk tried before it, and the job
                    # itself may run elsewhere: pass again at once, as the controller does
                    again = bool(self._pending)
        self.timeline.sample(self.now, self._busy, len(self._pending))
        self._schedule_tick()
        self._schedule_wake()

    def _view(self) -> View:
        now = self.now
        held = tuple(r for r in self.reservations if r.end > now) if self.reservations else ()
        return self.books.view(now, organisations=self.organisations, reservations=held)

    def _schedule_tick(self) -> None:
        tick = self.cfg.tick_s
        if tick and self._pending and self._running and self._tick_at <= self.now:
            self._tick_at = self.now + tick
            self._push(self._tick_at, TICK, 0)

    def _schedule_wake(self) -> None:
        due = self.books.next_due()
        if due is not None and self.now < due < self._wake_at:
            self._wake_at = due
            self._push(due, WAKE, 0)

    def _started(self, action: Start) -> None:
        """Follow a start the books took: the run's record, the GPUs busy, its end."""
        rec = self._records[action.job_id]
        job = rec.request
        spread = self.topology.spread(action.placement)
        cfg = self.cfg
        end = rec.begin_run(
            self.now, spread, cfg.preempt_overhead_s, kill_at_limit=cfg.kill_at_time_limit
        )
        self._busy += job.gpu_demand
        self._record("start", job.id)
        self._push(end, END, job.id, rec.epoch)

    def _stop(self, rec: JobRecord, *, preempted: bool = False) -> None:
        """End the current run of ``rec`` (already out of the books if ``preempted``): free its
        GPUs, stop its usage, count its GPU time."""
        job = rec.request
        if not preempted:
            self.books.finish(job.id, self.now)
        self._busy -= job.gpu_demand
        held = rec.end_run(self.now, preempted=preempted)
        self.tenant_gpu_seconds[job.org] = self.tenant_gpu_seconds.get(job.org, 0.0) + held

    # ------------------------------------------------------------------ bookkeeping
    def _close(self, rec: JobRecord, outcome: Outcome) -> None:
        del self._records[rec.request.id]
        self.table.add(rec.row(self.now, outcome))
        self.books.ended(rec.request, _ENDED[outcome], self.now)

    def _finish_unfinished(self) -> None:
        """Jobs still queued when nothing can happen any more (the engine never started them)."""
        waiting = list(self.books.dependencies.waiting)
        for job_id in [*self._pending.ids(), *waiting]:
            self.books.cancel(job_id)
            self._close(self._records[job_id], Outcome.UNFINISHED)


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Keep Python's cyclic garbage collector off the objects a replay keeps alive.

    A long replay holds hundreds of thousands of objects for long (queued and running jobs,
    their records) and makes garbage all the time, so the collector runs full sweeps that walk
    every one of them again and again (a quarter of a million-job run's time). Frozen objects
    (``gc.freeze``) are skipped by the sweeps but still freed as soon as nothing refers to
    them; the objects alive when the run starts, and those alive every ``freeze_every``
    events, are frozen, and all are unfrozen when it ends (unless something else had frozen
    objects before, which stay as they were).
    """
    mine = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if mine:
            gc.unfreeze()

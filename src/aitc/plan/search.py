"""The sweep: policies x sizes x seeds through the twin in worker processes.

Each policy searches the size ladder on its own. Service figures improve with size (see
``aitc.plan.targets``), so the smallest size that meets them is found by bisection: about
log2(sizes) + 1 points per policy instead of every size. A point (one policy on one size) is
``seeds`` runs; it passes when every service figure meets its target. The utilisation floor
is then read at that size: larger clusters are only emptier, so if it fails there the
policy has no size meeting every target. ``grid=True`` runs every size instead (for plots
and for the monotonicity test).

``max_runs`` and ``budget_s`` bound the sweep: no point starts that would pass ``max_runs``
runs, or once ``budget_s`` seconds have passed (runs under way finish). A policy whose search
was cut short reports the smallest passing size it saw, marked as not proven smallest.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from aitc.arch.labfile import load_lab
from aitc.domain.lab import Lab
from aitc.plan.runs import RunRecord, RunTask, run
from aitc.plan.targets import Figure, figures


@dataclass(frozen=True)
class Point:
    """One policy on one size, over every seed, with its target figures."""

    policy: str
    nodes: int
    records: tuple[RunRecord, ...]
    figures: tuple[Figure, ...]

    @property
    def service_met(self) -> bool:
        return all(f.met for f in self.figures if f.service)

    @property
    def met(self) -> bool:
        return all(f.met for f in self.figures)

    @property
    def failing(self) -> list[str]:
        return [f.key for f in self.figures if not f.met]

    @property
    def utilisation(self) -> float:
        return sum(r.utilisation for r in self.records) / max(len(self.records), 1)

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


@dataclass(frozen=True)
class Outcome:
    """What the search found for one policy.

    ``smallest``: the smallest size seen meeting the service targets; ``proven``: the size
    below it was run and failed (or it is the first size); ``meets_all``: it also meets the
    utilisation floor.
    """

    policy: str
    smallest: int | None
    proven: bool
    meets_all: bool


@dataclass
class SweepResult:
    lab: Lab
    ra: str
    sizes: tuple[int, ...]
    policies: tuple[str, ...]
    seeds: int
    days: float
    points: list[Point]
    outcomes: dict[str, Outcome]
    runs: int
    wall_s: float
    stopped: str | None = None

    @property
    def choice(self) -> Point | None:
        """The smallest size meeting every target; on a tie, the policy named first."""
        fits = [o for o in self.outcomes.values() if o.meets_all and o.smallest is not None]
        if not fits:
            return None
        best = min(fits, key=lambda o: (o.smallest, self.policies.index(o.policy)))
        return self.point(best.policy, best.smallest)

    def point(self, policy: str, nodes: int | None) -> Point | None:
        return next((p for p in self.points if p.policy == policy and p.nodes == nodes), None)

    def below(self, point: Point) -> Point | None:
        """The point of the same policy one size smaller, when it was run."""
        i = self.sizes.index(point.nodes)
        return self.point(point.policy, self.sizes[i - 1]) if i > 0 else None


@dataclass
class Bisection:
    """The smallest passing index of a monotone pass/fail ladder, one probe at a time."""

    size: int
    lo: int = 0
    hi: int = -1
    found: int | None = None
    busy: bool = False

    def __post_init__(self) -> None:
        self.hi = self.size - 1

    def next(self) -> int | None:
        if self.busy or self.lo > self.hi:
            return None
        self.busy = True
        return (self.lo + self.hi) // 2

    def record(self, index: int, passed: bool) -> None:
        self.busy = False
        if passed:
            self.found, self.hi = index, index - 1
        else:
            self.lo = index + 1

    @property
    def done(self) -> bool:
        return not self.busy and self.lo > self.hi


@dataclass
class Grid:
    """Every index, smallest first (no probe waits for another)."""

    size: int
    cursor: int = 0
    open: int = 0

    def next(self) -> int | None:
        if self.cursor >= self.size:
            return None
        self.cursor += 1
        self.open += 1
        return self.cursor - 1

    def record(self, index: int, passed: bool) -> None:
        self.open -= 1

    @property
    def done(self) -> bool:
        return self.cursor >= self.size and not self.open


@dataclass(frozen=True)
class SweepProgress:
    """Where the sweep stands, for a progress display."""

    runs_done: int
    runs_started: int
    expected_runs: int
    elapsed_s: float
    last: Point | None = None


@dataclass
class _State:
    """The sweep's bookkeeping while it runs."""

    searches: dict[str, Bisection | Grid]
    queue: deque[RunTask] = field(default_factory=deque)
    partial: dict[tuple[str, int], list[RunRecord]] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    started: int = 0
    done: int = 0
    stopped: str | None = None


def sweep(
    lab_path: Path,
    *,
    ra: str,
    sizes: Sequence[int],
    policies: Sequence[str],
    seeds: int = 3,
    days: float = 3.0,
    workers: int = 0,
    max_runs: int | None = None,
    budget_s: float | None = None,
    grid: bool = False,
    progress: Callable[[SweepProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SweepResult:
    """Search ``sizes`` (ascending node counts of ``ra``) under each policy."""
    lab = load_lab(lab_path)
    began = clock()
    state = _State({p: Grid(len(sizes)) if grid else Bisection(len(sizes)) for p in policies})
    expected = len(policies) * seeds * (len(sizes) if grid else len(sizes).bit_length())
    procs = workers or os.cpu_count() or 1

    def activate() -> None:
        for policy, search in state.searches.items():
            while len(state.queue) < procs and state.stopped is None:
                if max_runs is not None and state.started + len(state.queue) + seeds > max_runs:
                    state.stopped = "max-runs"
                    return
                if budget_s is not None and clock() - began >= budget_s:
                    state.stopped = "budget"
                    return
                index = search.next()
                if index is None:
                    break
                state.partial[(policy, sizes[index])] = []
                state.queue.extend(
                    RunTask(lab_path, ra, sizes[index], policy, seed, days) for seed in range(seeds)
                )

    def finished(record: RunRecord) -> None:
        state.done += 1
        key = (record.task.policy, record.task.nodes)
        state.partial[key].append(record)
        if len(state.partial[key]) == seeds:
            records = tuple(sorted(state.partial.pop(key), key=lambda r: r.task.seed))
            point = Point(key[0], key[1], records, tuple(figures(records, lab)))
            state.points.append(point)
            state.searches[key[0]].record(sizes.index(key[1]), point.service_met)
        if progress is not None:
            last = state.points[-1] if state.points else None
            progress(SweepProgress(state.done, state.started, expected, clock() - began, last))

    pool: Executor | None = ProcessPoolExecutor(max_workers=procs) if procs > 1 else None
    try:
        _drive(state, pool, procs, activate, finished)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    order = {p: i for i, p in enumerate(policies)}
    state.points.sort(key=lambda p: (order[p.policy], p.nodes))
    outcomes = {p: _outcome(p, sizes, state.points) for p in policies}
    return SweepResult(
        lab,
        ra,
        tuple(sizes),
        tuple(policies),
        seeds,
        days,
        state.points,
        outcomes,
        state.done,
        clock() - began,
        state.stopped,
    )


def _drive(
    state: _State,
    pool: Executor | None,
    procs: int,
    activate: Callable[[], None],
    finished: Callable[[RunRecord], None],
) -> None:
    """Keep ``procs`` runs going until no search has anything left to run."""
    inflight: set[Future[RunRecord]] = set()
    while True:
        activate()
        if pool is None:
            if not state.queue:
                return
            state.started += 1
            finished(run(state.queue.popleft()))
            continue
        while state.queue and len(inflight) < procs:
            state.started += 1
            inflight.add(pool.submit(run, state.queue.popleft()))
        if not inflight:
            return
        done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
        for future in done:
            finished(future.result())


def _outcome(policy: str, sizes: Sequence[int], points: Sequence[Point]) -> Outcome:
    mine = {p.nodes: p for p in points if p.policy == policy}
    passing = [n for n in sizes if n in mine and mine[n].service_met]
    if not passing:
        return Outcome(policy, None, False, False)
    smallest = passing[0]
    i = sizes.index(smallest)
    proven = i == 0 or (sizes[i - 1] in mine and not mine[sizes[i - 1]].service_met)
    return Outcome(policy, smallest, proven, mine[smallest].met)

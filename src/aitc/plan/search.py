"""The sweep: configurations x policies x sizes x workloads through the twin in worker processes.

A *configuration* is a reference architecture (a GPU generation) and a MIG layout of the course
seats (``aitc.plan.configs``); each has its own ladder of sizes. Each configuration and policy
searches its ladder on its own. Service figures improve with size (see ``aitc.plan.targets``),
so the smallest size that meets them is found by bisection: about log2(sizes) + 1 points per
search instead of every size. A point (one configuration, policy and size) is one run per
workload: each seed of the lab's generated jobs, and the recorded history when one is given;
it passes when every service figure meets its target. The utilisation floor is then read at
that size: larger clusters are only emptier, so if it fails there the search has no size
meeting every target. ``grid=True`` runs every size instead (for plots and for the
monotonicity test).

The *choice* is the smallest configuration meeting every target: fewest nodes, then least
power, then the configuration and the policy named first.

``max_runs`` and ``budget_s`` bound the sweep: no point starts that would pass ``max_runs``
runs, or once ``budget_s`` seconds have passed (runs under way finish). A search cut short
reports the smallest passing size it saw, marked as not proven smallest.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from aitc.domain.lab import Lab
from aitc.plan.configs import Config, design_of
from aitc.plan.history import History
from aitc.plan.lab import load_lab
from aitc.plan.runs import HISTORY, RunRecord, RunTask, install_history, run
from aitc.plan.targets import Figure, figures

Search = tuple[Config, str]  # (configuration, policy)


@dataclass(frozen=True)
class Point:
    """One policy on one size of one configuration, over every workload, with its figures."""

    config: Config
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
    """What the search of one configuration and policy found.

    ``smallest``: the smallest size seen meeting the service targets; ``proven``: the size
    below it was run and failed (or it is the first size); ``meets_all``: it also meets the
    utilisation floor.
    """

    config: Config
    policy: str
    smallest: int | None
    proven: bool
    meets_all: bool


@dataclass
class SweepResult:
    lab: Lab
    ladders: dict[Config, tuple[int, ...]]
    policies: tuple[str, ...]
    seeds: int
    days: float
    points: list[Point]
    outcomes: list[Outcome]
    runs: int
    wall_s: float
    stopped: str | None = None
    history: History | None = None

    @property
    def configs(self) -> tuple[Config, ...]:
        return tuple(self.ladders)

    @property
    def choice(self) -> Point | None:
        """The smallest configuration meeting every target (see the module docstring)."""
        fits = [o for o in self.outcomes if o.meets_all and o.smallest is not None]
        if not fits:
            return None
        best = min(fits, key=self._rank)
        return self.point(best.policy, best.smallest, best.config)

    def _rank(self, o: Outcome) -> tuple[int, float, int, int]:
        nodes = o.smallest or 0
        power = design_of(o.config.ra, nodes).power_kw
        return nodes, power, self.configs.index(o.config), self.policies.index(o.policy)

    def outcome(self, policy: str, config: Config | None = None) -> Outcome:
        """The outcome of ``policy`` (in ``config``; default: the only or first one)."""
        config = config or self.configs[0]
        return next(o for o in self.outcomes if o.policy == policy and o.config == config)

    def point(self, policy: str, nodes: int | None, config: Config | None = None) -> Point | None:
        config = config or self.configs[0]
        return next(
            (
                p
                for p in self.points
                if p.policy == policy and p.nodes == nodes and p.config == config
            ),
            None,
        )

    def below(self, point: Point) -> Point | None:
        """The point of the same configuration and policy one size smaller, when it was run."""
        sizes = self.ladders[point.config]
        i = sizes.index(point.nodes)
        return self.point(point.policy, sizes[i - 1], point.config) if i > 0 else None


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

    searches: dict[Search, Bisection | Grid]
    queue: deque[RunTask] = field(default_factory=deque)
    partial: dict[tuple[Config, str, int], list[RunRecord]] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    started: int = 0
    done: int = 0
    stopped: str | None = None


def sweep(
    lab_path: Path,
    *,
    ladders: Mapping[Config, Sequence[int]],
    policies: Sequence[str],
    seeds: int = 3,
    days: float = 3.0,
    history: History | None = None,
    workers: int = 0,
    max_runs: int | None = None,
    budget_s: float | None = None,
    grid: bool = False,
    progress: Callable[[SweepProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SweepResult:
    """Search each configuration's ``ladders`` (ascending node counts of its RA) under each
    policy, over ``seeds`` generated workloads and the recorded ``history`` when given."""
    if seeds < 0 or (seeds == 0 and history is None):
        raise ValueError("a sweep needs at least one workload: seeds > 0, or a history")
    lab = load_lab(lab_path)
    began = clock()
    sizes = {c: tuple(v) for c, v in ladders.items()}
    workloads = [*range(seeds), *([HISTORY] if history is not None else [])]
    state = _State(
        {
            (c, p): Grid(len(sizes[c])) if grid else Bisection(len(sizes[c]))
            for c in sizes
            for p in policies
        }
    )
    expected = len(workloads) * sum(
        len(policies) * (len(v) if grid else len(v).bit_length()) for v in sizes.values()
    )
    procs = workers or os.cpu_count() or 1

    def activate() -> None:
        for (config, policy), search in state.searches.items():
            while len(state.queue) < procs and state.stopped is None:
                if (
                    max_runs is not None
                    and state.started + len(state.queue) + len(workloads) > max_runs
                ):
                    state.stopped = "max-runs"
                    return
                if budget_s is not None and clock() - began >= budget_s:
                    state.stopped = "budget"
                    return
                index = search.next()
                if index is None:
                    break
                nodes = sizes[config][index]
                state.partial[(config, policy, nodes)] = []
                state.queue.extend(
                    RunTask(lab_path, config, nodes, policy, seed, days) for seed in workloads
                )

    def finished(record: RunRecord) -> None:
        state.done += 1
        t = record.task
        key = (t.config, t.policy, t.nodes)
        state.partial[key].append(record)
        if len(state.partial[key]) == len(workloads):
            records = tuple(sorted(state.partial.pop(key), key=_workload_order))
            point = Point(*key, records, tuple(figures(records, lab)))
            state.points.append(point)
            passed = point.service_met
            state.searches[(t.config, t.policy)].record(sizes[t.config].index(t.nodes), passed)
        if progress is not None:
            last = state.points[-1] if state.points else None
            progress(SweepProgress(state.done, state.started, expected, clock() - began, last))

    install_history(history)  # for runs in this process (workers=1)
    pool: Executor | None = (
        ProcessPoolExecutor(max_workers=procs, initializer=install_history, initargs=(history,))
        if procs > 1
        else None
    )
    try:
        _drive(state, pool, procs, activate, finished)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        install_history(None)
    configs, order = list(sizes), {p: i for i, p in enumerate(policies)}
    state.points.sort(key=lambda p: (configs.index(p.config), order[p.policy], p.nodes))
    outcomes = [_outcome(c, p, sizes[c], state.points) for c in configs for p in policies]
    return SweepResult(
        lab,
        sizes,
        tuple(policies),
        seeds,
        days,
        state.points,
        outcomes,
        state.done,
        clock() - began,
        state.stopped,
        history,
    )


def _workload_order(record: RunRecord) -> tuple[bool, int]:
    """Seeds first, in order, then the recorded history."""
    return record.task.seed == HISTORY, record.task.seed


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


def _outcome(config: Config, policy: str, sizes: Sequence[int], points: Sequence[Point]) -> Outcome:
    mine = {p.nodes: p for p in points if p.policy == policy and p.config == config}
    passing = [n for n in sizes if n in mine and mine[n].service_met]
    if not passing:
        return Outcome(config, policy, None, False, False)
    smallest = passing[0]
    i = sizes.index(smallest)
    proven = i == 0 or (sizes[i - 1] in mine and not mine[sizes[i - 1]].service_met)
    return Outcome(config, policy, smallest, proven, mine[smallest].met)

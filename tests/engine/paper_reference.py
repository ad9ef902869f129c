"""The plain walk of ``tiresias`` with ``semantics: paper``, as first written: every pass
renumbers every job's place, sorts every job into walk order and looks at each in turn.

``tiresias_paper.py`` and ``tiresias_lists.py`` decide the same with shortcuts; the tests run
both on the same job streams and compare every pass (``reference_paper`` swaps this walk into
a scheduler).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement, RunningJob
from aitc.engine import make_scheduler
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.policies.tiresias_paper import CAUSE
from aitc.engine.queues import Admit, Walk
from aitc.engine.queues.walk import Why
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import View

Turn = tuple[JobRequest, RunningJob | None]


def reference_paper(**params: object) -> Scheduler:
    """A ``tiresias`` scheduler with ``semantics: paper`` that walks the plain way."""
    scheduler = make_scheduler("tiresias", semantics="paper", **params)
    policy = scheduler.policy
    entries = EntryOrder()

    def turns(cycle: Cycle) -> tuple[list[Turn], bool]:
        view = cycle.view
        allowed, preempted = policy._movable_priorities(), cycle.preempted  # type: ignore[attr-defined]
        movable = {
            r.request.id: r
            for r in view.running
            if r.request.priority in allowed and r.request.id not in preempted
        }
        order = entries.update(
            view,
            movable,
            policy._waiting_level(view),  # type: ignore[attr-defined]
            policy._running_level(view),  # type: ignore[attr-defined]
        )
        return order, cycle.placer.gpus_anywhere

    policy.queue = PlainWalk(turns, entries)
    return scheduler


class EntryOrder:
    """Each job's queue and its place in that queue's list, kept across passes."""

    def __init__(self) -> None:
        self._entry: dict[JobId, tuple[int, int]] = {}
        self._waiting: set[JobId] = set()  # left waiting by the last walk
        self._until: dict[JobId, float] = {}  # a running job stays in its queue until then
        self._seq = itertools.count()

    def update(
        self,
        view: View,
        movable: Mapping[JobId, RunningJob],
        waiting_level: Callable[[JobRequest], int],
        running_level: Callable[[RunningJob], tuple[int, float]],
    ) -> list[Turn]:
        old, seq, waiting, until, now = self._entry, self._seq, self._waiting, self._until, view.now
        entry: dict[JobId, tuple[int, int]] = {}
        levels: dict[JobId, tuple[int, float]] = {}  # level, submit time
        behind: list[tuple[tuple[int, int], JobId]] = []
        new: list[JobRequest] = []
        for r in view.running:
            job_id = r.request.id
            place = old.get(job_id)
            if place is not None and job_id not in waiting and until.get(job_id, -1.0) > now:
                entry[job_id] = place
                continue
            level, until[job_id] = running_level(r)
            levels[job_id] = (level, r.request.submit)
            if place is None:
                new.append(r.request)
            elif job_id in waiting:
                behind.append((place, job_id))
            else:
                entry[job_id] = place
        for job in view.pending:
            place = old.get(job.id)
            levels[job.id] = (waiting_level(job), job.submit)
            if place is None:
                new.append(job)
            elif job.id in waiting:
                behind.append((place, job.id))
            else:
                entry[job.id] = place
        for (level, _), job_id in sorted(behind):
            entry[job_id] = (level, next(seq))
        for job in sorted(new, key=lambda j: (j.submit, j.id)):
            entry[job.id] = (levels[job.id][0], next(seq))
        moved = sorted((t, i, lv) for i, (lv, t) in levels.items() if entry[i][0] != lv)
        for _, job_id, level in moved:
            entry[job_id] = (level, next(seq))
        self._entry = entry
        if len(until) > 2 * len(view.running) + 64:
            self._until = {r.request.id: until[r.request.id] for r in view.running}
        ordered: list[tuple[tuple[int, int], Turn]] = [
            (entry[j.id], (j, None)) for j in view.pending
        ]
        ordered += [(entry[job_id], (r.request, r)) for job_id, r in movable.items()]
        ordered.sort(key=lambda x: x[0])
        return [turn for _, turn in ordered]

    def walked(self, cycle: Cycle, turns: Sequence[Turn]) -> None:
        started, preempted = cycle.started, cycle.preempted
        self._waiting = {
            job.id
            for job, run in turns
            if (job.id in preempted if run is not None else job.id not in started)
        }


class PlainWalk:
    def __init__(
        self, turns: Callable[[Cycle], tuple[list[Turn], bool]], entries: EntryOrder
    ) -> None:
        self.turns = turns
        self.entries = entries

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> Walk:
        turns, counting = self.turns(cycle)
        if counting and not cycle.fences:
            _by_count(cycle, turns, admit)
        else:
            _by_placement(cycle, turns, admit)
        self.entries.walked(cycle, turns)
        return Walk(complete=True)

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why:
        return Why()


def _ready(cycle: Cycle, job: JobRequest, admit: Admit) -> bool:
    return cycle.possible(job) and admit(cycle, job) is None


def _by_count(cycle: Cycle, turns: Sequence[Turn], admit: Admit) -> None:
    left = cycle.capacity.total_free()
    left += sum(r.request.gpus for _, r in turns if r is not None)
    victims: list[RunningJob] = []
    starts: list[JobRequest] = []
    for job, run in turns:
        if run is None and not _ready(cycle, job, admit):
            continue
        if job.gpus <= left:
            left -= job.gpus
            if run is None:
                starts.append(job)
        elif run is not None:
            victims.append(run)
    for run in victims:
        cycle.preempt(run, CAUSE)
    for job in starts:
        placement = cycle.place(job)
        if placement is not None:
            cycle.start(job, placement)


def _by_placement(cycle: Cycle, turns: Sequence[Turn], admit: Admit) -> None:
    placer = cycle.placer
    held: CapacityIndex = cycle.capacity.overlay()
    later = {run.request.id: run for _, run in turns if run is not None}
    later_gpus = sum(_whole(run) for run in later.values())
    doomed: dict[JobId, RunningJob] = {}
    starts: list[tuple[JobRequest, Placement]] = []
    failed: dict[tuple[object, ...], int] = {}
    for job, run in turns:
        if run is not None:
            if later.pop(run.request.id, None) is not None:
                later_gpus -= _whole(run)
            continue
        if not _ready(cycle, job, admit):
            continue
        fences = cycle.fences_for(job)
        shape = (job.nodes, job.mig, job.gpu_model, fences)
        if job.gpus > held.total_free() + later_gpus or failed.get(shape, 1 << 30) <= job.gpus:
            continue
        placement = placer.now(job, held, fences)
        if placement is None:
            trial = held.overlay()
            for other in later.values():
                trial.release(other.placement)
            placement = placer.now(job, trial, fences)
            if placement is None:
                failed[shape] = job.gpus
                continue
            taken = set(_gpus_of(placement))
            for victim in [r for r in later.values() if taken.intersection(_gpus_of(r.placement))]:
                del later[victim.request.id]
                later_gpus -= _whole(victim)
                doomed[victim.request.id] = victim
                held.release(victim.placement)
        held.allocate(placement)
        starts.append((job, placement))
    for victim in doomed.values():
        cycle.preempt(victim, CAUSE)
    for job, placement in starts:
        cycle.start(job, placement)


def _whole(run: RunningJob) -> int:
    return run.request.gpus or 1


def _gpus_of(placement: Placement) -> Iterable[tuple[str, int]]:
    for alloc in placement.allocs:
        for gpu in alloc.gpus or ((alloc.mig.gpu,) if alloc.mig else ()):
            yield alloc.node, gpu

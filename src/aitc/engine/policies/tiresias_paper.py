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

``EntryOrder`` keeps the lists across passes as one sequence number per job; ``PaperWalk`` is
the walk. Which running jobs may be preempted is ``preempt_running`` (``any`` as in the
paper); the others keep their GPUs whatever their queue. With the ``pool`` placement the walk
counts GPUs as the simulator's "count" placement does: a job fits when the GPUs not yet
given out in this pass suffice, and the starts are placed once the victims are known. With
other placements a waiting job takes free GPUs where it can, else those of running jobs later
in the walk, which then no longer fit; a running job keeps running when no job before it in
the walk took its GPUs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement, RunningJob
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.queues import Admit, Walk
from aitc.engine.queues.walk import Why
from aitc.engine.view import View

# one job of the walk: the request, and its run if it runs now and may be preempted
Turn = tuple[JobRequest, RunningJob | None]
CAUSE = "a job of a higher queue, or earlier in its queue, needs its GPUs"


class EntryOrder:
    """Each job's queue and its place in that queue's list, kept across passes.

    A place is a sequence number: a job that joins a queue gets the next one, so it goes
    behind everyone there. Passes on the same view give the same order (the controller asks
    for several): step 3 moves the jobs that the last walk left waiting, whether or not the
    driver has applied that walk yet.
    """

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
        """The pending jobs of ``view`` and its ``movable`` running jobs, in walk order.

        ``running_level`` gives a running job's queue and until when it stays there (its
        attained service only grows while it runs), so most passes look up no level at all.
        """
        old, seq, waiting, until, now = self._entry, self._seq, self._waiting, self._until, view.now
        entry: dict[JobId, tuple[int, int]] = {}
        levels: dict[JobId, tuple[int, float]] = {}  # level, submit time
        behind: list[tuple[tuple[int, int], JobId]] = []
        new: list[JobRequest] = []
        for r in view.running:
            job_id = r.request.id
            place = old.get(job_id)
            if place is not None and job_id not in waiting and until.get(job_id, -1.0) > now:
                entry[job_id] = place  # (the same queue as in the last pass)
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
        # 3. (of the last walk) those left waiting go behind those that run, order kept
        for (level, _), job_id in sorted(behind):
            entry[job_id] = (level, next(seq))
        # 1. new jobs join the end of their queue in arrival order, then jobs changing queue
        for job in sorted(new, key=lambda j: (j.submit, j.id)):
            entry[job.id] = (levels[job.id][0], next(seq))
        moved = sorted((t, i, lv) for i, (lv, t) in levels.items() if entry[i][0] != lv)
        for _, job_id, level in moved:
            entry[job_id] = (level, next(seq))
        self._entry = entry
        if len(until) > 2 * len(view.running) + 64:  # forget jobs that no longer run
            self._until = {r.request.id: until[r.request.id] for r in view.running}
        ordered: list[tuple[tuple[int, int], Turn]] = [
            (entry[j.id], (j, None)) for j in view.pending
        ]
        ordered += [(entry[job_id], (r.request, r)) for job_id, r in movable.items()]
        ordered.sort(key=lambda x: x[0])
        return [turn for _, turn in ordered]

    def walked(self, cycle: Cycle, turns: Sequence[Turn]) -> None:
        """Remember which jobs the walk left waiting (for step 3 of the next pass)."""
        started, preempted = cycle.started, cycle.preempted
        self._waiting = {
            job.id
            for job, run in turns
            if (job.id in preempted if run is not None else job.id not in started)
        }

    def level(self, job_id: JobId) -> int | None:
        place = self._entry.get(job_id)
        return None if place is None else place[0]


class PaperWalk:
    """The queue discipline of ``semantics: paper``: every job, running or waiting, in turn."""

    def __init__(
        self, turns: Callable[[Cycle], tuple[list[Turn], bool]], entries: EntryOrder
    ) -> None:
        self.turns = turns  # the walk order and whether the placement only counts GPUs
        self.entries = entries

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> Walk:
        del ordered, victims  # the walk takes the running jobs too, in its own order
        turns, counting = self.turns(cycle)
        if counting and not cycle.fences:
            _by_count(cycle, turns, admit)
        else:
            _by_placement(cycle, turns, admit)
        self.entries.walked(cycle, turns)
        return Walk(complete=True)

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why:
        return _QUEUE_BY_QUEUE


_QUEUE_BY_QUEUE = Why(otherwise="queue by queue, the jobs before it take the GPUs first")


def _ready(cycle: Cycle, job: JobRequest, admit: Admit) -> bool:
    return cycle.possible(job) and admit(cycle, job) is None


def _by_count(cycle: Cycle, turns: Sequence[Turn], admit: Admit) -> None:
    """The simulator's walk: a job fits when enough GPUs are left to give out."""
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
        placement = cycle.place(job)  # (MIG slices and jobs with a node count: placed for real)
        if placement is not None:
            cycle.start(job, placement)


def _by_placement(cycle: Cycle, turns: Sequence[Turn], admit: Admit) -> None:
    """The walk with real placements, on ``held``: the pass's capacity with every running job
    not yet found in the way. A waiting job takes free GPUs where it can; else, if it fits
    once the running jobs after it in the walk are set aside, it takes what it needs of
    theirs and those jobs no longer fit. A job shape that does not fit that way keeps not
    fitting for the rest of the walk (what is given out only grows), so it is tried once."""
    placer = cycle.placer
    held: CapacityIndex = cycle.capacity.overlay()
    later = {run.request.id: run for _, run in turns if run is not None}  # not yet walked
    later_gpus = sum(_whole(run) for run in later.values())
    doomed: dict[JobId, RunningJob] = {}
    starts: list[tuple[JobRequest, Placement]] = []
    failed: dict[tuple[object, ...], int] = {}  # shape -> fewest GPUs that did not fit
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
            taken = set(_gpus_of(placement))  # running jobs whose GPUs it takes no longer fit
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
    """At most how many whole GPUs stopping ``run`` frees (a MIG slice: its GPU)."""
    return run.request.gpus or 1


def _gpus_of(placement: Placement) -> Iterable[tuple[str, int]]:
    """(node, GPU index) of every GPU a placement uses, whole or for a MIG slice (two slices
    on one GPU count as in each other's way: a cautious simplification)."""
    for alloc in placement.allocs:
        for gpu in alloc.gpus or ((alloc.mig.gpu,) if alloc.mig else ()):
            yield alloc.node, gpu

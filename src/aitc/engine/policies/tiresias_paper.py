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
other placements a running job keeps running when its own GPUs are still free at its turn,
and a waiting job takes free GPUs where it can, else those of running jobs later in the walk,
which then no longer fit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement, RunningJob
from aitc.engine import reasons
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.queue import Admit
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
        self._seq = itertools.count()

    def update(
        self,
        view: View,
        movable: Mapping[JobId, RunningJob],
        waiting_level: Callable[[JobRequest], int],
        running_level: Callable[[RunningJob], int],
    ) -> list[Turn]:
        """The pending jobs of ``view`` and its ``movable`` running jobs, in walk order."""
        old, seq, waiting = self._entry, self._seq, self._waiting
        entry: dict[JobId, tuple[int, int]] = {}
        # 3. (of the last walk) those left waiting go behind those that run, order kept
        present = [r.request for r in view.running]
        present += view.pending
        behind = []
        for job in present:
            place = old.get(job.id)
            if place is None:
                continue
            if job.id in waiting:
                behind.append((place, job.id))
            else:
                entry[job.id] = place
        for (level, _), job_id in sorted(behind):
            entry[job_id] = (level, next(seq))
        # 1. new jobs join the end of their queue in arrival order, then jobs changing queue
        levels = {j.id: waiting_level(j) for j in view.pending}
        levels.update((r.request.id, running_level(r)) for r in view.running)
        new = [j for j in present if j.id not in entry]
        for job in sorted(new, key=lambda j: (j.submit, j.id)):
            entry[job.id] = (levels[job.id], next(seq))
        moved = sorted((j.submit, j.id) for j in present if entry[j.id][0] != levels[j.id])
        for _, job_id in moved:
            entry[job_id] = (levels[job_id], next(seq))
        self._entry = entry
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
    ) -> None:
        del ordered, victims  # the walk takes the running jobs too, in its own order
        turns, counting = self.turns(cycle)
        if counting and not cycle.fences:
            _by_count(cycle, turns, admit)
        else:
            _by_placement(cycle, turns, admit)
        self.entries.walked(cycle, turns)
        cycle.complete = True


def _ready(cycle: Cycle, job: JobRequest, admit: Admit) -> bool:
    if not cycle.possible(job):
        return False
    refused = admit(cycle, job)
    if refused is not None:
        cycle.blocked(job, refused)
    return refused is None


def _wait(cycle: Cycle, job: JobRequest, ahead: int) -> None:
    """Record why ``job`` waits: it does not fit, or the jobs before it took what fits."""
    cycle.blocked(job)
    if cycle.explaining and not cycle.reasons.get(job.id):
        why = "queue by queue, the jobs before it take the GPUs first"
        cycle.blocked(job, reasons.priority(job, ahead, why), fit=False)


def _by_count(cycle: Cycle, turns: Sequence[Turn], admit: Admit) -> None:
    """The simulator's walk: a job fits when enough GPUs are left to give out."""
    left = cycle.capacity.total_free()
    left += sum(r.request.gpus for _, r in turns if r is not None)
    victims: list[RunningJob] = []
    starts: list[JobRequest] = []
    given = 0  # jobs given GPUs so far
    for job, run in turns:
        if run is None and not _ready(cycle, job, admit):
            continue
        if job.gpus <= left:
            left -= job.gpus
            given += 1
            if run is None:
                starts.append(job)
        elif run is not None:
            victims.append(run)
        else:
            _wait(cycle, job, given)
    for run in victims:
        cycle.preempt(run, CAUSE)
    for job in starts:
        placement = cycle.place(job)
        if placement is None:  # (MIG slices and jobs with a node count are placed for real)
            _wait(cycle, job, given)
        else:
            cycle.start(job, placement)


def _by_placement(cycle: Cycle, turns: Sequence[Turn], admit: Admit) -> None:
    """The walk with real placements: ``held`` has every running job not yet found in the
    way, ``given`` only what the walk gave out so far (running jobs at their turn)."""
    placer = cycle.placer
    held: CapacityIndex = cycle.capacity.overlay()
    given: CapacityIndex = cycle.capacity.overlay()
    owner: dict[tuple[str, int], RunningJob] = {}
    for _, run in turns:
        if run is not None:
            given.release(run.placement)
            for key in _gpus_of(run.placement):
                owner[key] = run
    doomed: dict[JobId, RunningJob] = {}
    starts: list[tuple[JobRequest, Placement]] = []
    kept = 0
    for job, run in turns:
        if run is not None:
            if run.request.id not in doomed:
                given.allocate(run.placement)
                kept += 1
                _disown(owner, run)  # it keeps its GPUs: nobody later takes them from it
            continue
        if not _ready(cycle, job, admit):
            continue
        fences = cycle.fences_for(job)
        placement = placer.now(job, held, fences) or placer.now(job, given, fences)
        if placement is None:
            _wait(cycle, job, kept + len(starts))
            continue
        for key in _gpus_of(placement):  # running jobs whose GPUs it takes no longer fit
            victim = owner.pop(key, None)
            if victim is not None and victim.request.id not in doomed:
                doomed[victim.request.id] = victim
                held.release(victim.placement)
        held.allocate(placement)
        given.allocate(placement)
        starts.append((job, placement))
    for victim in doomed.values():
        cycle.preempt(victim, CAUSE)
    for job, placement in starts:
        cycle.start(job, placement)


def _gpus_of(placement: Placement) -> Iterable[tuple[str, int]]:
    """(node, GPU index) of every GPU a placement uses, whole or for a MIG slice (two slices
    on one GPU count as in each other's way: a cautious simplification)."""
    for alloc in placement.allocs:
        for gpu in alloc.gpus or ((alloc.mig.gpu,) if alloc.mig else ()):
            yield alloc.node, gpu


def _disown(owner: dict[tuple[str, int], RunningJob], run: RunningJob) -> None:
    for key in _gpus_of(run.placement):
        if owner.get(key) is run:
            del owner[key]

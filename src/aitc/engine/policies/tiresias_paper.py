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

``EntryOrder`` (``tiresias_lists.py``) keeps the lists across passes and steps 1 and 3;
``PaperWalk`` is the walk. Which running jobs may be preempted is ``preempt_running`` (``any``
as in the paper); the others keep their GPUs whatever their queue. With the ``pool`` placement
the walk counts GPUs as the simulator's "count" placement does: a job fits when the GPUs not
yet given out in this pass suffice, and the starts are placed once the victims are known.
With other placements a waiting job takes free GPUs where it can, else those of running jobs
later in the walk, which then no longer fit; a running job keeps running when no job before
it in the walk took its GPUs.

The walk decides as if it looked at every job in turn, but looks only at what can change
the outcome. Each shortcut is exact: the same actions as the plain walk, job for job (the
tests run both on random job streams, with drivers that do odd things between passes, and
compare every pass):

- in each part of a queue it looks at the running jobs and at the waiting jobs that could
  start there: a waiting job that asks for more GPUs than the walk could still give it
  (free, or held by the running jobs after it; this only shrinks along the walk), or at
  least as many as a job of its kind that failed, cannot start;
- a part with no such job is passed over with one subtraction: its running jobs keep
  running unless a job before them took their GPUs; counting GPUs, they all keep running
  when what is left to give out covers them all;
- where a waiting job does not fit in the free GPUs, the room the running jobs after it
  would leave is counted (the walks' size rule, ``FreeRoom``) before any of them is released
  on a trial index: a job that cannot fit even there fails without the trial;
- the trial index is made once per pass, for the first job that needs it (all the running
  jobs after it released at once, ``CapacityIndex.release_all``), and kept in step with the
  walk: what the walk passes or starts is allocated on it again in one batch, when the next
  job needs it. Placement reads only what is free, never how the index came to hold it
  (``Pool.best_fit`` takes the lowest node), so the trial answers as a fresh one would.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement, RunningJob
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.policies.tiresias_lists import (
    BACK,
    FRONT,
    EntryOrder,
    Kind,
    in_order,
    whole_gpus,
)
from aitc.engine.queues import Admit, FreeRoom, Walk
from aitc.engine.queues.walk import MANY, Why

CAUSE = "a job of a higher queue, or earlier in its queue, needs its GPUs"


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
        self._movable: dict[tuple[int, int], tuple[list[int], list[RunningJob]]] = {}
        self.gpus = [[c.gpus for c in parts] for parts in order.counts]
        self.whole = [[c.whole for c in parts] for parts in order.counts]
        for job_id in self.out:
            counted = order.counted.get(job_id)
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
        places, runs = self._movable_in(queue, part)
        later = runs[bisect.bisect_right(places, place) :]
        if part == FRONT:
            later += self._movable_in(queue, BACK)[1]
        for q in range(queue + 1, len(self.order.parts)):
            later += self._movable_in(q, FRONT)[1]
            later += self._movable_in(q, BACK)[1]
        if doomed:
            return [r for r in later if r.request.id not in doomed]
        return later

    def movable_in(self, queue: int, part: int) -> list[RunningJob]:
        """The movable running jobs of a part, in walk order."""
        return self._movable_in(queue, part)[1]

    def _movable_in(self, queue: int, part: int) -> tuple[list[int], list[RunningJob]]:
        """The places and the movable running jobs of a part, in order (the parts do not
        change during a walk: found once)."""
        found = self._movable.get((queue, part))
        if found is None:
            here = self.order.parts[queue][part]
            ids = in_order(self.order.counts[queue][part].running, here)
            pairs = [(here[j], r) for j in ids if (r := self.movable(j)) is not None]
            found = self._movable[queue, part] = ([p for p, _ in pairs], [r for _, r in pairs])
        return found


def _any_kind(kind: Kind) -> int:
    """No kind of waiting job is known to fail (the counting walk keeps no failed shapes)."""
    return MANY


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
                ids = in_order(counts.running, part_ids)
            else:
                ids = counts.turns(part_ids, left, _any_kind)
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
    """The walk with real placements (``_Placing``); returns the jobs it preempts."""
    return _Placing(cycle, turns, admit).run()


class _Placing:
    """The walk with real placements, on ``held``: the pass's capacity with every running job
    not yet found in the way. A waiting job takes free GPUs where it can; else, if it fits
    once the running jobs after it in the walk are set aside, it takes what it needs of
    theirs and those jobs no longer fit. A job shape that does not fit that way keeps not
    fitting for the rest of the walk (what is given out only grows), so it is tried once."""

    def __init__(self, cycle: Cycle, turns: _Turns, admit: Admit) -> None:
        self.cycle, self.turns, self.admit, self.order = cycle, turns, admit, turns.order
        self.held: CapacityIndex = cycle.capacity.overlay()
        self.free = self.held.total_free()
        self.later_gpus = sum(sum(w) for w in turns.whole)  # of the runs not yet walked
        self.doomed: dict[JobId, RunningJob] = {}
        self.doomed_whole = [[0, 0] for _ in self.order.parts]  # per queue and part
        self.starts: list[tuple[JobRequest, Placement]] = []
        self.failed: dict[tuple[object, ...], int] = {}  # shape -> fewest GPUs that failed
        self.plain: tuple[str, ...] | None = None  # every job's fences, if the pass has none
        # ``held`` with the running jobs after the walk's place released: made for the first
        # job that needs it, then kept through the walk; ``owed`` are what ``held`` has
        # allocated since (runs the walk passed, starts), allocated on it when next needed
        self.trial: CapacityIndex | None = None
        self.owed: list[Placement] = []

    def run(self) -> list[JobId]:
        for q in range(len(self.order.parts)):
            for part in (FRONT, BACK):
                self._walk(q, part)
        for victim in self.doomed.values():
            self.cycle.preempt(victim, CAUSE)
        for job, placement in self.starts:
            self.cycle.start(job, placement)
        return list(self.doomed)

    def fewer(self, kind: Kind) -> int:
        """A waiting job of this kind with as many GPUs fails (``MANY``: none known)."""
        return MANY if self.plain is None else self.failed.get((*kind, self.plain), MANY)

    def _walk(self, q: int, part: int) -> None:
        """The turns of one part: its running jobs and the waiting jobs that could start."""
        counts, here = self.order.counts[q][part], self.order.parts[q][part]
        if counts.smallest() > self.free + self.later_gpus:
            # none of its waiting jobs can start: its running jobs only leave ``later``
            self.later_gpus -= self.turns.whole[q][part] - self.doomed_whole[q][part]
            if self.trial is not None:
                passed = self.turns.movable_in(q, part)
                self.owed += [r.placement for r in passed if r.request.id not in self.doomed]
            return
        ids, i = counts.turns(here, self.free + self.later_gpus, self.fewer), 0
        while i < len(ids):
            job_id = ids[i]
            i += 1
            job = self.turns.jobs.get(job_id)
            if job is None:  # (a running job)
                run = self.turns.movable(job_id)
                if run is not None and job_id not in self.doomed:
                    self.later_gpus -= whole_gpus(run)
                    if self.trial is not None:  # it keeps its GPUs (for now)
                        self.owed.append(run.placement)
            elif self._try(job, q, part, here[job_id]) is False:
                # a failure lowers what a job of its kind may ask for: the rest looked again
                most, place = self.free + self.later_gpus, here[job_id]
                ids, i = [j for j in counts.turns(here, most, self.fewer) if here[j] > place], 0

    def _try(self, job: JobRequest, q: int, part: int, place: int) -> bool | None:
        """Start ``job`` if it can: True if it starts, False if its shape failed, None if
        it was passed over."""
        cycle, held = self.cycle, self.held
        if job.gpus > self.free + self.later_gpus:
            return None
        fences = cycle.fences_for(job)
        if not cycle.fences:
            self.plain = fences  # (the same for every job: ``Cycle.fences_for``)
        shape = (job.nodes, job.mig, job.gpu_model, fences)
        if self.failed.get(shape, MANY) <= job.gpus or not _ready(cycle, job, self.admit):
            return None
        placement = None
        if job.mig is not None or job.gpus <= self.free:  # (else no whole GPUs for it)
            placement = cycle.placer.now(job, held, fences)
        if placement is None:
            placement = self._take(job, fences, q, part, place)
            if placement is None:
                self.failed[shape] = job.gpus
                return False
        held.allocate(placement)
        if self.trial is not None:
            self.owed.append(placement)
        self.free = held.total_free()
        self.starts.append((job, placement))
        return True

    def _take(
        self, job: JobRequest, fences: Sequence[str], q: int, part: int, place: int
    ) -> Placement | None:
        """Where ``job`` fits once the running jobs after its place are set aside (those
        whose GPUs it takes are preempted), or ``None``."""
        cycle, held, trial = self.cycle, self.held, self.trial
        anywhere = cycle.placer.gpus_anywhere
        if trial is None:
            later = self.turns.after(q, part, place, self.doomed)
            if cycle.size_filters and not _could_fit(job, held, later, anywhere):
                return None
            trial = self.trial = held.released(r.placement for r in later)
        else:
            if self.owed:
                trial.allocate_all(self.owed)
                self.owed.clear()
            if cycle.size_filters:
                room = FreeRoom.of(trial, anywhere)
                if room is not None and not room.admits(job.gpus, job.nodes):
                    return None
        placement = cycle.placer.now(job, trial, fences)
        if placement is None:
            return None
        taken = set(_gpus_of(placement))  # running jobs whose GPUs it takes
        nodes = {node for node, _ in taken}
        later = self.turns.after(q, part, place, self.doomed)
        for victim in [r for r in later if _takes(taken, nodes, r.placement)]:
            victim_id = victim.request.id
            self.later_gpus -= whole_gpus(victim)
            self.doomed[victim_id] = victim
            where = self.order.counted[victim_id]
            self.doomed_whole[where[0]][where[1]] += whole_gpus(victim)
            held.release(victim.placement)  # (``trial`` holds it released already)
        return placement


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


def _takes(taken: set[tuple[str, int]], nodes: set[str], placement: Placement) -> bool:
    """Whether ``placement`` uses any of the GPUs ``taken`` (on ``nodes``: looked at first)."""
    return any(a.node in nodes for a in placement.allocs) and not taken.isdisjoint(
        _gpus_of(placement)
    )


def _gpus_of(placement: Placement) -> Iterable[tuple[str, int]]:
    """(node, GPU index) of every GPU a placement uses, whole or for a MIG slice (two slices
    on one GPU count as in each other's way: a cautious simplification)."""
    for alloc in placement.allocs:
        for gpu in alloc.gpus or ((alloc.mig.gpu,) if alloc.mig else ()):
            yield alloc.node, gpu

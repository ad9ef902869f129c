"""``greedy``: try every job in order, start whatever fits (Kueue's BestEffortFIFO)."""

from __future__ import annotations

from collections.abc import Iterable, Sized

from aitc.domain.job import JobRequest
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.pending import PendingQueue
from aitc.engine.queues.room import Buckets, FreeRoom, Phased, QueueSizes, could_fit
from aitc.engine.queues.walk import IN_ORDER, MANY, Admit, Full, Walk, Why, admitted


class GreedyQueue:
    """Try every job in order, start whatever fits; stop once nothing more can start.

    Jobs of one *class* (organisation, priority, node count, MIG profile, GPU model, and time
    limit while reservations exist) differ only in size: where one failed, a larger one fails
    too (capacity only shrinks during a pass, admission only tightens), so it is skipped
    until a preemption frees capacity. Policies keep this sound by ordering jobs so that a
    later job of a class never has more right to preempt than an earlier one. Where nothing
    may be preempted, jobs too large for the free capacity never reach the class check
    (``could_fit``). Where the queue is the driver's ``PendingQueue``, which knows each
    class's smallest job, the walk ends as soon as every class has failed at that size: the
    rest of the queue would only be skipped.
    """

    def __init__(self) -> None:
        self._least_of: tuple[PendingQueue, int, dict[tuple[object, ...], int]] | None = None
        self._sizes = QueueSizes()

    def _least(self, pending: PendingQueue) -> dict[tuple[object, ...], int]:
        """``_least_per_class``, kept while the queue's classes keep their sizes."""
        kept = self._least_of
        if kept is None or kept[0] is not pending or kept[1] != pending.classes_epoch:
            kept = self._least_of = (pending, pending.classes_epoch, _least_per_class(pending))
        return kept[2]

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> Walk:
        failed: dict[tuple[object, ...], int] = {}  # class -> fewest GPUs that failed
        seen_preempted = -1
        fenced = bool(cycle.fences)
        # the stop rule needs the queue's smallest job per class (read at the first failure)
        counting = not fenced
        least: dict[tuple[object, ...], int] | None = None
        live = -1  # classes with a job not yet refused
        actions, preempted = cycle.actions, cycle.preempted
        full = Full(cycle, victims)
        parts = ordered.parts if isinstance(ordered, Phased) else (ordered,)
        for phase, part in enumerate(parts):
            if isinstance(part, Sized) and not part:
                continue  # (an empty part asks nothing of the policy)
            cycle.phase = phase
            full.again()
            seen = -1  # look at the capacity before the first job of the part
            if cycle.size_filters and (victims is None or not victims.could_preempt(cycle)):
                # nothing will be preempted, so free capacity only shrinks during this part
                room = FreeRoom.of(cycle.capacity, cycle.placer.gpus_anywhere)
                if self._sizes.none_fit(cycle.view.pending, room):
                    continue  # (every job of the part would be passed over)
                part = part.fitting(room) if isinstance(part, Buckets) else could_fit(part, room)
            for job in part:
                if len(actions) != seen:  # capacity changed: look again
                    if full():
                        return Walk()
                    if len(preempted) != seen_preempted:
                        failed.clear()  # a preemption freed capacity
                        live = len(least) if least is not None else -1
                    seen, seen_preempted = len(actions), len(preempted)
                # inline: this check is the whole cost of a job that cannot start
                cls = (
                    job.org,
                    job.priority,
                    job.nodes,
                    job.mig,
                    job.gpu_model,
                    job.time_limit if fenced else None,
                )
                before = failed.get(cls, MANY)
                if before <= job.gpus or not cycle.possible(job):
                    continue
                if not admitted(cycle, job, admit) or not cycle.try_start(job, victims):
                    failed[cls] = min(before, job.gpus)
                    if not counting:
                        continue
                    if least is None:
                        least = self._least(cycle.view.pending)
                        live = sum(1 for c, n in least.items() if failed.get(c, MANY) > n)
                    elif job.gpus <= least.get(cls, -1) < before:
                        live -= 1  # every job of this class would now be skipped
                    if live == 0:
                        return Walk(complete=True)
        return Walk(complete=True)

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why:
        return IN_ORDER


def _least_per_class(pending: PendingQueue) -> dict[tuple[object, ...], int]:
    """The fewest GPUs any queued job of each class asks for (the greedy walk's class, with
    no time limit), from the driver's ``PendingQueue``."""
    return {(*cls, None): min(sizes) for cls, sizes in pending.classes().items()}

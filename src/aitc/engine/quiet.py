"""Quiet passes: after a pass that started nothing, the next one looks only at new jobs.

A pass that walked the whole queue and started nothing proves that every waiting job fails on
that capacity. Until capacity grows (the driver releases GPUs, takes a node down or up, or a
reservation shows up) the same jobs keep failing: capacity only shrank, and placement never
finds room in less capacity where it found none in more. So the next pass needs to look only
at the jobs that arrived since (the queue is in arrival order: they are its tail), plus, for
EASY backfill, the head job whose promise the tail must respect. The decisions are the same as
a full walk's; the pass costs the new jobs, not the queue. Under a strict queue in arrival
order a pass that started nothing stopped at its head, which fails again while the memo
holds, and every new job waits behind it: the next pass walks nothing (``blocked_head``).

Preemption keeps the proof where the policy's choice of victims depends only on the running
jobs and the queue, not on the clock (``Policy.stable_victims``; Tiresias's levels grow with
attained service, so it is not): while the capacity index has not changed at all
(``CapacityIndex.stamp``), the running jobs are the ones the old jobs failed to preempt, and
jobs started during the pass are never victims of it. A preemption during the pass gives
capacity back, though, and an old job might fit in it: the scheduler then walks the whole
queue again (``Scheduler._pass``).

The memo holds only when every one of these is true, each O(1) to check: no reservations; the
same capacity index, not grown since (``CapacityIndex.version``); the same queue, whose
``epoch`` stands still (no job left or came back since: the old jobs are still there, in
order, followed by new ones); nothing can be preempted, or the index unchanged and the
victims stable; and for backfill, arrival order, open admission and the head's kept promise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from aitc.domain.job import JobRequest
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle
from aitc.engine.pending import PendingQueue
from aitc.engine.policy import Policy
from aitc.engine.queues import BackfillQueue, FreeRoom, GreedyQueue, StrictQueue, Walk
from aitc.engine.view import View


@dataclass(frozen=True, slots=True)
class Quiet:
    """What a pass that started nothing and looked at every job leaves behind."""

    capacity: CapacityIndex
    version: int
    stamp: int
    pending: PendingQueue
    epoch: int  # the queue's: while it stands still, only new jobs came after these
    length: int
    head: JobRequest | None
    strict: bool  # a strict queue in arrival order (``head``: the job that blocked it)


def remember(view: View, acted: bool, walk: Walk, policy: Policy) -> Quiet | None:
    """The memo after a pass on ``view`` (``acted``: it started or preempted a job), or
    ``None`` if the next pass must walk the whole queue."""
    if acted or view.reservations or not _memo_queue(policy):
        return None
    strict = _strict(policy)
    if not walk.complete and not (strict and walk.head is not None):
        return None
    pending = view.pending
    if not pending or pending.newest(1)[0].submit > view.now:  # it may start later
        return None
    capacity = view.capacity
    return Quiet(
        capacity,
        capacity.version,
        capacity.stamp,
        pending,
        pending.epoch,
        len(pending),
        walk.head,
        strict,
    )


def jobs_to_walk(cycle: Cycle, policy: Policy, quiet: Quiet | None) -> Sequence[JobRequest]:
    """The jobs this pass must look at: the tail (and the head) while ``quiet`` holds, else
    the whole queue."""
    view = cycle.view
    pending = view.pending
    if quiet is None or not _holds(view, policy, quiet, partial(policy.could_preempt, cycle)):
        return pending
    tail = pending.newest(len(pending) - quiet.length)
    return tail if quiet.head is None else [quiet.head, *tail]


def blocked_head(
    view: View,
    policy: Policy,
    quiet: Quiet | None,
    *,
    capacity: CapacityIndex,
    could_preempt: Callable[[], bool],
    size_filters: bool = True,
) -> JobRequest | None:
    """Under a strict queue in arrival order, the job that blocked the last pass, if it
    fails again, so that nothing behind it may start (``None``: walk): while ``quiet``
    holds; or where only capacity grew since (the same queue, nothing to preempt, no
    reservation) and the head is still too large for the free capacity by the walks' size
    rule (``FreeRoom``), as a blocked head mostly is after a job ends.

    What the pass starts from: its ``capacity`` (the cycle's, or the view's own where nothing
    is fenced), whether the policy ``could_preempt`` and whether the size rule may be used
    (``Cycle.size_filters``)."""
    if quiet is None or quiet.head is None or not quiet.strict:
        return None
    if _holds(view, policy, quiet, could_preempt):
        return quiet.head
    head = quiet.head
    if (
        view.capacity is not quiet.capacity
        or view.pending is not quiet.pending
        or view.pending.epoch != quiet.epoch
        or view.reservations
        or not size_filters
        or could_preempt()
    ):
        return None
    room = FreeRoom.of(capacity, policy.placement.gpus_anywhere)
    return None if room is None or room.admits(head.gpus, head.nodes) else head


def _strict(policy: Policy) -> bool:
    return isinstance(policy.queue, StrictQueue) and type(policy).order is Policy.order


def _memo_queue(policy: Policy) -> bool:
    queue = policy.queue
    if isinstance(queue, GreedyQueue) or _strict(policy):
        return True
    # backfill: the head stays first only in arrival order, and only if admission is open
    return (
        isinstance(queue, BackfillQueue)
        and queue.open_admission
        and type(policy).order is Policy.order
    )


def _holds(view: View, policy: Policy, quiet: Quiet, could_preempt: Callable[[], bool]) -> bool:
    # (a memo is made only for the queues and orders it holds for: ``remember``)
    capacity, pending = view.capacity, view.pending
    if view.reservations:
        return False
    if capacity is not quiet.capacity or capacity.version != quiet.version:
        return False
    if pending is not quiet.pending or pending.epoch != quiet.epoch:
        return False  # (a job left or came back: the old jobs may have moved)
    if could_preempt() and not (policy.stable_victims and capacity.stamp == quiet.stamp):
        return False
    queue = policy.queue
    if isinstance(queue, BackfillQueue):
        return queue.promise_still_kept(quiet.head, view.now)
    return True

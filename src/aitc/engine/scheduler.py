"""``Scheduler``: one pure pass from a ``View`` to the actions that start and preempt jobs.

The pass reads like Kueue's ``Scheduler.schedule``, in numbered steps that match
docs/scheduling.md. Between passes a scheduler keeps only what a real scheduler keeps too:
which job shapes are impossible, which nodes an auto-placed reservation holds, the head job's
backfill promise (while it stays the head, as Slurm keeps a job's planned start), the
fair-share ranking (recomputed every ``recalc_s``) and, after a pass that started nothing,
which jobs are known to fail until capacity grows (``quiet.py``). The same passes in the same
order give the same answers, so replays stay byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from aitc.domain.cluster import Cluster
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.domain.org import Organisation
from aitc.engine.capacity import CapacityIndex
from aitc.engine.cycle import Cycle, Hold
from aitc.engine.estimate import estimates
from aitc.engine.explain import explain
from aitc.engine.policy import Policy
from aitc.engine.queues import Walk
from aitc.engine.quiet import Quiet, blocked_head, jobs_to_walk, remember
from aitc.engine.registry import policy_class
from aitc.engine.reservations import ReservationBook, touches
from aitc.engine.view import Action, Reason, ReasonCode, View

_ShapeKey = tuple[int, int | None, str | None, str | None]


class Scheduler:
    """A policy (chosen by name) with placement, reservations, preemption and reasons."""

    def __init__(
        self,
        policy: str,
        *,
        params: Mapping[str, object] = {},
        organisations: Sequence[Organisation] = (),
    ) -> None:
        self.policy: Policy = policy_class(policy)(params, organisations)
        self.name = policy
        # driver settings carried by the policy parameters: the ledger's half-life, and the
        # seconds of work a preemption costs
        self.half_life_s = self.policy.half_life_s
        self.preempt_overhead_s = self.policy.preempt_overhead_s
        self._book = ReservationBook()
        self._cluster: Cluster | None = None
        self._impossible: dict[_ShapeKey, Reason | None] = {}
        self._quiet: Quiet | None = None

    def run(self, view: View) -> Outcome:
        """One pass: its actions and, from the same cycle, the reasons and estimates."""
        cycle, walk = self._pass(view)
        return Outcome(view, cycle, walk, self)

    def schedule(self, view: View) -> list[Action]:
        """The actions of one pass (``run(view).actions``), for drivers that need no reasons."""
        return self.run(view).actions

    def impossible(self, view: View) -> tuple[JobId, ...]:
        """Pending jobs that can never run on this cluster; drivers reject them."""
        return tuple(j.id for j in view.pending if self._never(view.cluster, j) is not None)

    def _pass(self, view: View) -> tuple[Cycle | None, Walk]:
        """The pass's cycle (``None``: it was decided without planning, see step 0) and walk."""
        policy = self.policy
        # 0. Without reservations and with nothing to preempt, steps 3 and 4's blocked head
        #    are decided on the view itself: no cycle is planned (``Outcome`` makes one if
        #    the reasons are read). Most passes of a busy cluster end here.
        bare = not view.reservations and policy.cannot_preempt(view)
        if bare:
            if not view.capacity.has_room():
                return None, Walk()
            head = blocked_head(
                view, policy, self._quiet, capacity=view.capacity, could_preempt=_no
            )
            if head is not None:
                return None, self._blocked(view, head)
        # 1. Plan on a copy-on-write overlay of the driver's capacity index.
        cycle = self._cycle(view)
        if not bare:
            # 2. Fence reserved nodes; preempt preemptible jobs of others on active
            #    reservations.
            self._fence_reservations(cycle)
            # 3. Nothing free and nothing to preempt: nothing can change, whatever the queue
            #    holds (a quiet memo stays valid: capacity did not grow).
            if not cycle.has_room() and not policy.could_preempt(cycle):
                return cycle, Walk()
        # 4. Order the queue by the policy's priority: after a pass that started nothing and
        #    while capacity has not grown, only the jobs that arrived since (quiet.py), and
        #    under a strict queue none (its head fails again and blocks them).
        cycle.possible = self._possible_for(view)
        if not bare:
            head = blocked_head(
                view,
                policy,
                self._quiet,
                capacity=cycle.capacity,
                could_preempt=partial(policy.could_preempt, cycle),
                size_filters=cycle.size_filters,
            )
            if head is not None:
                return cycle, self._blocked(view, head)
        jobs = jobs_to_walk(cycle, policy, self._quiet)
        ordered = policy.order(view, jobs)
        # 5. Walk the queue with the policy's discipline: admission, placement, preemption and
        #    backfill all happen here, on the overlay. Jobs not yet submitted are skipped and
        #    impossible ones set aside (``cycle.possible``); drivers reject the latter. Active
        #    reservations first start their own jobs on their own GPUs, as Slurm schedules a
        #    reservation apart from the general queue (so no job of the queue holds them up).
        self._start_in_reservations(cycle)
        walk = policy.queue.run(cycle, ordered, policy, policy.admit)
        if jobs is not view.pending and cycle.preempted:
            # a preemption gave capacity back, where an old job may now fit: walk them all
            self._quiet = None
            return self._pass(view)
        self._quiet = remember(view, bool(cycle.actions), walk, policy)
        # 6. The actions, in the order they must be applied, are the cycle's.
        return cycle, walk

    def _cycle(self, view: View) -> Cycle:
        """A fresh pass on ``view``: an overlay of its capacity, nothing decided yet."""
        policy = self.policy
        return Cycle(view, view.capacity.overlay(), policy.placement, policy.default_time_limit)

    def _blocked(self, view: View, head: JobRequest) -> Walk:
        """The walk of a pass that a strict queue's blocked ``head`` ends at once; the memo
        follows the capacity where it grew (``blocked_head``)."""
        walk = Walk(complete=False, head=head)
        if self._quiet is None or self._quiet.version != view.capacity.version:
            self._quiet = remember(view, False, walk, self.policy)
        return walk

    def _start_in_reservations(self, cycle: Cycle) -> None:
        """Each active reservation's own jobs, in the policy's order, on its own GPUs only
        (the part of a node it holds, then its whole nodes); what starts here is not walked
        again."""
        view, now = cycle.view, cycle.now
        active = [f for f in cycle.fences if f.reservation.active(now)]
        if not active:
            return
        by_org = view.pending.by_org()
        place = view.pending.positions()
        possible = cycle.possible
        for fence in active:
            buckets = by_org.get(fence.reservation.org)
            if not buckets:
                continue
            mine = sorted(
                (j for b in buckets.values() for j in b.values()), key=lambda j: place[j.id]
            )
            for job in self.policy.order(view, mine):
                if job.id in cycle.started or not possible(job):
                    continue
                if self.policy.admit(cycle, job) is not None:
                    continue
                placement = cycle.place_in(job, fence)
                if placement is not None:
                    cycle.start(job, placement)
        if cycle.started:
            started = cycle.started
            cycle.possible = lambda job: job.id not in started and possible(job)

    def _fence_reservations(self, cycle: Cycle) -> None:
        view = cycle.view
        if not view.reservations:
            return
        cycle.fences = self._book.fences(view.cluster, view.reservations, view.now)
        nodes = view.cluster.nodes
        for fence in cycle.fences:
            cycle.capacity.fence(fence.positions, fence.tag)
            if not fence.reservation.active(view.now):
                continue
            mine = {nodes[p].name for p in fence.positions}
            part = fence.part
            for r in list(cycle.running()):
                if r.request.org == fence.reservation.org:
                    continue
                on_whole = bool(set(r.placement.nodes) & mine)
                if not on_whole and not (
                    part is not None
                    and touches(r.placement, nodes[part.pos].name, part, cycle.capacity.slot_bits)
                ):
                    continue
                if r.request.priority is Priority.PREEMPTIBLE:
                    cycle.preempt(r, f"reservation {fence.reservation.id} starts")
        # the parts of nodes: what of their GPUs is free now is the reservation's alone
        for fence in cycle.fences:
            part = fence.part
            if part is not None:
                held = cycle.capacity.withhold(part.pos, part.gpus, part.slots)
                cycle.holds.append(Hold(fence, nodes[part.pos].name, part, held))

    def _possible_for(self, view: View) -> Callable[[JobRequest], bool]:
        """Whether a job may be tried in this pass: submitted, and able to run here at all.
        The test refers to the view, not to the pass's cycle, which holds it: so no
        reference cycle keeps a finished pass alive until Python's cyclic collector comes by."""
        now, cluster, never = view.now, view.cluster, self._never

        def possible(job: JobRequest) -> bool:
            return job.submit <= now and never(cluster, job) is None

        return possible

    def _never(self, cluster: Cluster, job: JobRequest) -> Reason | None:
        if cluster is not self._cluster:
            self._cluster, self._impossible = cluster, {}
        key = (job.gpus, job.nodes, job.mig, job.gpu_model)
        if key not in self._impossible:
            self._impossible[key] = self.policy.placement.ever(job, cluster)
        return self._impossible[key]


class Outcome:
    """One pass: its actions, and why every pending job waits and when it may start.

    Reasons and estimates are read from the pass's own cycle, computed on first use (the
    twin never asks), and must be read before the driver applies the actions to its books:
    the cycle plans on an overlay of the books' capacity index, which the actions change. A
    pass decided without planning (``Scheduler._pass``, step 0) has no cycle until they are
    read: it is then a fresh cycle, which is what that pass left (it changed nothing).
    """

    __slots__ = (
        "_cycle",
        "_estimates",
        "_reasons",
        "_scheduler",
        "_stamp",
        "_view",
        "_walk",
        "actions",
    )

    def __init__(self, view: View, cycle: Cycle | None, walk: Walk, scheduler: Scheduler) -> None:
        self.actions: list[Action] = cycle.actions if cycle is not None else []
        self._view, self._cycle, self._walk, self._scheduler = view, cycle, walk, scheduler
        self._stamp = view.capacity.stamp
        self._reasons: dict[JobId, tuple[Reason, ...]] | None = None
        self._estimates: dict[JobId, float | None] | None = None

    @property
    def planned(self) -> CapacityIndex | None:
        """The pass's own capacity: an overlay of the books' index with its actions taken
        (for ``Books.apply``, which may take it over instead of applying them again);
        ``None`` where the pass planned nothing."""
        return self._cycle.capacity if self._cycle is not None else None

    def reasons(self) -> Mapping[JobId, tuple[Reason, ...]]:
        """Every reason each pending job waits (an empty tuple: it starts in this pass)."""
        if self._reasons is None:
            cycle, s = self._planned_cycle(), self._scheduler
            never = partial(s._never, cycle.view.cluster)
            self._reasons = explain(cycle, self._walk, s.policy, never)
        return self._reasons

    def estimates(self) -> Mapping[JobId, float | None]:
        """Earliest start of each pending job if it were next in line, from the running jobs'
        time limits (``None``: it can never run here); the head's promise is not held
        against the others."""
        if self._estimates is None:
            cycle = self._planned_cycle()
            self._estimates = estimates(cycle, partial(self._scheduler._never, cycle.view.cluster))
        return self._estimates

    def _planned_cycle(self) -> Cycle:
        if self._view.capacity.stamp != self._stamp:
            raise RuntimeError("read a pass's reasons and estimates before applying its actions")
        if self._cycle is None:  # decided without planning: a fresh cycle is the same
            self._cycle = self._scheduler._cycle(self._view)  # (the pass changed nothing)
        return self._cycle


def _no() -> bool:
    return False


def is_impossible(reasons: Sequence[Reason]) -> bool:
    return any(r.code is ReasonCode.IMPOSSIBLE for r in reasons)

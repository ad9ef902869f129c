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

from collections.abc import Callable, Iterable, Mapping, Sequence

from aitc.domain.cluster import Cluster
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.domain.org import Organisation
from aitc.engine.cycle import Cycle
from aitc.engine.policy import Policy
from aitc.engine.pool import GENERAL
from aitc.engine.queue import earliest_start
from aitc.engine.quiet import Quiet, jobs_to_walk, remember
from aitc.engine.registry import policy_class
from aitc.engine.reservations import ReservationBook
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

    def schedule(self, view: View) -> list[Action]:
        """The actions to apply, in order: applying them never over-allocates."""
        return self._pass(view, explaining=False).actions

    def explain(self, view: View) -> Mapping[JobId, tuple[Reason, ...]]:
        """Every reason each pending job waits (an empty tuple: it starts in this pass)."""
        cycle = self._pass(view, explaining=True)
        started = {job_id for job_id in cycle.started}
        out: dict[JobId, tuple[Reason, ...]] = {}
        for job in view.pending:
            if job.id in started:
                out[job.id] = ()
                continue
            found = list(cycle.reasons.get(job.id, ()))
            rank = self.policy.rank_reason(cycle, job)
            if rank is not None and all(r.code != rank.code for r in found):
                found.insert(0, rank)
            out[job.id] = tuple(found)
        return out

    def impossible(self, view: View) -> tuple[JobId, ...]:
        """Pending jobs that can never run on this cluster; drivers reject them."""
        return tuple(j.id for j in view.pending if self._never(view.cluster, j) is not None)

    def estimate_starts(self, view: View) -> Mapping[JobId, float | None]:
        """Earliest start of each pending job if it were next in line, from the running jobs'
        time limits (``None``: it can never run here)."""
        cycle = self._pass(view, explaining=False)
        cycle.capacity.fence(cycle.shadowed, GENERAL)  # estimates ignore the head's promise
        out: dict[JobId, float | None] = {}
        memo: dict[tuple[object, ...], float | None] = {}
        for job in view.pending:
            if job.id in cycle.started:
                out[job.id] = view.now
                continue
            if self._never(view.cluster, job) is not None:
                out[job.id] = None
                continue
            key = (job.gpus, job.nodes, job.mig, job.gpu_model, cycle.fences_for(job))
            if key not in memo:
                found = earliest_start(cycle, job)
                memo[key] = None if found is None else found[0]
            out[job.id] = memo[key] if memo[key] is None else max(memo[key] or 0.0, job.submit)
        return out

    def _pass(self, view: View, *, explaining: bool) -> Cycle:
        # 1. Plan on a copy-on-write overlay of the driver's capacity index.
        cycle = Cycle(
            view,
            view.capacity.overlay(),
            self.policy.placement,
            self.policy.default_time_limit,
            explaining=explaining,
        )
        # 2. Fence reserved nodes; preempt preemptible jobs of others on active reservations.
        self._fence_reservations(cycle)
        # 3. Nothing free and nothing to preempt: nothing can change, whatever the queue holds.
        idle = not cycle.capacity.has_room() and not self.policy.could_preempt(cycle)
        if idle and not explaining:
            return cycle  # (a quiet memo stays valid: capacity did not grow)
        # 4. Order the queue by the policy's priority: after a pass that started nothing and
        #    while capacity has not grown, only the jobs that arrived since (quiet.py).
        if explaining:  # every job is walked: reasons read what lazy orders fill in on the way
            jobs = view.pending
            ordered: Iterable[JobRequest] = list(self.policy.order(view, jobs))
        else:
            jobs = jobs_to_walk(cycle, self.policy, self._quiet)
            ordered = self.policy.order(view, jobs)
        # 5. Walk the queue with the policy's discipline: admission, placement, preemption and
        #    backfill all happen here, on the overlay. Jobs not yet submitted are skipped and
        #    impossible ones set aside (``cycle.possible``); drivers reject the latter.
        cycle.possible = self._possible_for(view, cycle.reasons if explaining else None)
        self.policy.queue.run(cycle, ordered, self.policy, self.policy.admit)
        if jobs is not view.pending and cycle.preempted:
            # a preemption gave capacity back, where an old job may now fit: walk them all
            self._quiet = None
            return self._pass(view, explaining=False)
        if not explaining:
            head = getattr(self.policy.queue, "head", None)
            self._quiet = remember(cycle, self.policy, head)
        # 6. The actions, in the order they must be applied.
        return cycle

    def _fence_reservations(self, cycle: Cycle) -> None:
        view = cycle.view
        if not view.reservations:
            return
        cycle.fences = self._book.fences(view.cluster, view.reservations, view.now)
        for fence in cycle.fences:
            cycle.capacity.fence(fence.positions, fence.tag)
            if not fence.reservation.active(view.now):
                continue
            mine = {view.cluster.nodes[p].name for p in fence.positions}
            for r in list(cycle.running()):
                if r.request.org == fence.reservation.org or not set(r.placement.nodes) & mine:
                    continue
                if r.request.priority is Priority.PREEMPTIBLE:
                    cycle.preempt(r, f"reservation {fence.reservation.id} starts")

    def _possible_for(
        self, view: View, reasons: dict[JobId, list[Reason]] | None
    ) -> Callable[[JobRequest], bool]:
        """Whether a job may be tried in this pass: submitted, and able to run here at all
        (with ``reasons``, an impossible job's reason is recorded there). The test refers to
        the view and the reasons, not to the pass's cycle, which holds it: so no reference
        cycle keeps a finished pass alive until Python's cyclic collector comes by."""
        now, cluster, never = view.now, view.cluster, self._never

        def possible(job: JobRequest) -> bool:
            if job.submit > now:
                return False
            reason = never(cluster, job)
            if reason is not None and reasons is not None:
                reasons.setdefault(job.id, []).append(reason)
            return reason is None

        return possible

    def _never(self, cluster: Cluster, job: JobRequest) -> Reason | None:
        if cluster is not self._cluster:
            self._cluster, self._impossible = cluster, {}
        key = (job.gpus, job.nodes, job.mig, job.gpu_model)
        if key not in self._impossible:
            self._impossible[key] = self.policy.placement.ever(job, cluster)
        return self._impossible[key]


def is_impossible(reasons: Sequence[Reason]) -> bool:
    return any(r.code is ReasonCode.IMPOSSIBLE for r in reasons)

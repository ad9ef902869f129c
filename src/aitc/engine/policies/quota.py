"""``quota``: guaranteed GPUs per organisation, borrowing of idle quota, reclaim by preemption.

Like Kueue's ClusterQueues in one cohort. ``Organisation.quota`` is the number of GPUs
guaranteed to it (none: 0); any use above it is *borrowed* from quota others leave idle, up to
``Organisation.borrow_limit`` more (none: no limit). Jobs that fit in their organisation's
quota are tried before jobs that would borrow. When a job within its quota cannot start, the
engine *reclaims*: it preempts the newest jobs of organisations that are above their quota
(never guaranteed jobs, never pushing a borrower below its quota), then preemptible jobs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import ClassVar

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority, RunningJob
from aitc.domain.org import Organisation
from aitc.engine import reasons
from aitc.engine.cycle import Cycle, Memo
from aitc.engine.pending import PendingQueue
from aitc.engine.policy import Policy
from aitc.engine.queues import Buckets, Phased, SizedBucket
from aitc.engine.registry import register
from aitc.engine.view import Reason, View

_EPS = 1e-9
# what a pass remembers, per state of the pass (preemptions, starts; and phase)
_VICTIMS: Memo[tuple[tuple[int, int], list[RunningJob]]] = Memo("quota.victims")
_RECLAIM: Memo[tuple[tuple[int, int, int], bool]] = Memo("quota.reclaim")
_NO_QUOTA: tuple[float, int | None] = (0.0, None)


def _fitting(jobs: Iterable[JobRequest], room: dict[str, float]) -> list[JobRequest]:
    """The jobs whose demand fits in their organisation's ``room`` (a hot loop: a job of an
    organisation without room costs one lookup, and ``gpu_demand``'s property call happens
    only for MIG slices)."""
    get = room.get
    return [
        j
        for j in jobs
        if (r := get(j.org)) is not None and (j.gpus if j.mig is None else j.gpu_demand) <= r
    ]


def _mig_demand(profile: str) -> float:
    """The GPU demand of one slice of ``profile`` (as ``JobRequest.gpu_demand`` counts it)."""
    return JobRequest(JobId(0), "", "", "", 0, 0.0, mig=profile).gpu_demand


@register
class Quota(Policy):
    """Nominal quota first, borrowing second, reclaim when an owner needs its quota back."""

    name = "quota"
    PARAMS: ClassVar[Mapping[str, object]] = {"queue": "greedy"}

    def __init__(
        self, params: Mapping[str, object] = {}, organisations: Sequence[Organisation] = ()
    ) -> None:
        super().__init__(params, organisations)
        self._quotas = {o.id: (float(o.quota or 0), o.borrow_limit) for o in organisations}
        self._room_of: tuple[View, dict[str, float]] | None = None
        # each organisation's buckets of the queue, while they stay the same buckets
        self._buckets_of: tuple[PendingQueue, int, dict[str, list[SizedBucket]]] | None = None
        self._least_of: tuple[View, dict[str, float]] | None = None

    def quota(self, org: str) -> tuple[float, int | None]:
        """(guaranteed GPUs, borrow limit or None for unlimited) of ``org``."""
        return self._quotas.get(org, _NO_QUOTA)

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]:
        """Jobs that fit in their organisation's unused quota first, then the borrowers, each
        part in arrival order. From the driver's ``PendingQueue`` both parts are read from
        its buckets of jobs per organisation and size: the first from the organisations with
        unused quota only, the second a bucket at a time (``Buckets``); from a plain sequence
        the borrowers come out lazily."""
        room = self._room(view)
        if jobs is view.pending:
            queue = view.pending
            inside: list[SizedBucket] = []
            outside: list[SizedBucket] = []
            by_org = queue.by_org()
            kept = self._buckets_of
            if kept is None or kept[0] is not queue or kept[1] != queue.sizes_epoch:
                every = {o: [(g, n, b) for (g, n), b in by.items()] for o, by in by_org.items()}
                kept = self._buckets_of = (queue, queue.sizes_epoch, every)
            every = kept[2]
            for org, by_size in by_org.items():
                r = room.get(org)
                if r is None:  # no unused quota: every job of the organisation borrows
                    outside.extend(every[org])
                    continue
                for (gpus, nodes), bucket in by_size.items():
                    if gpus == 0 and r > 0:  # MIG slices: each job's share of a GPU
                        mine = {i: j for i, j in bucket.items() if j.gpu_demand <= r}
                        rest = {i: j for i, j in bucket.items() if i not in mine}
                        inside.extend([(0, nodes, mine)] if mine else [])
                        outside.extend([(0, nodes, rest)] if rest else [])
                    elif gpus <= r:
                        inside.append((gpus, nodes, bucket))
                    else:
                        outside.append((gpus, nodes, bucket))
            return Phased(Buckets(queue, inside), Buckets(queue, outside))
        if not room:
            return Phased((), jobs)  # every job would borrow
        get = room.get
        borrowers = (
            j
            for j in jobs
            if (r := get(j.org)) is None or (j.gpus if j.mig is None else j.gpu_demand) > r
        )
        return Phased(_fitting(jobs, room), borrowers)

    def _room(self, view: View) -> dict[str, float]:
        """GPUs of quota each organisation leaves unused at the start of the pass (only those
        with some), with a rounding margin; once per view."""
        if self._room_of is not None and self._room_of[0] is view:
            return self._room_of[1]
        used = view.usage.holding()
        room = {
            o: r for o, (q, _) in self._quotas.items() if (r := q - used.get(o, 0.0) + _EPS) >= _EPS
        }
        self._room_of = (view, room)
        return room

    def _least(self, view: View) -> dict[str, float]:
        """The smallest demand among each organisation's pending jobs (once per view), from
        the smallest job of each class the driver's ``PendingQueue`` knows."""
        if self._least_of is not None and self._least_of[0] is view:
            return self._least_of[1]
        least: dict[str, float] = {}
        for (org, _, _, mig, _), sizes in view.pending.classes().items():
            demand = min(sizes) if mig is None else _mig_demand(mig)
            if demand < least.get(org, math.inf):
                least[org] = demand
        self._least_of = (view, least)
        return least

    def admit(self, cycle: Cycle, job: JobRequest) -> Reason | None:
        quota, borrow = self._quotas.get(job.org, _NO_QUOTA)
        if borrow is None:
            return None
        used = cycle.org_gpus.get(job.org, 0.0)
        if used + job.gpu_demand <= quota + borrow + _EPS:
            return None
        return reasons.quota(job, round(used), round(quota), borrow)

    def candidates(self, cycle: Cycle, job: JobRequest) -> Sequence[RunningJob]:
        base = list(super().candidates(cycle, job))
        quota, _ = self.quota(job.org)
        if cycle.org_gpus.get(job.org, 0.0) + job.gpu_demand > quota + _EPS:
            return base
        out = [r for r in self._reclaimable(cycle) if r.request.org != job.org]
        if not out:
            return base
        seen = {r.request.id for r in out}
        return out + [r for r in base if r.request.id not in seen]

    def _reclaimable(self, cycle: Cycle) -> list[RunningJob]:
        """The running jobs a reclaim may preempt, newest first: each organisation above its
        quota gives its newest non-guaranteed jobs until it would be back at its quota (once
        per state of the pass; a job's own organisation is left out by the caller). Only use
        that was there before this pass can be reclaimed: jobs started in this pass are never
        preempted by it."""
        state = (len(cycle.preempted), len(cycle.started))
        memo = cycle.recall(_VICTIMS)
        if memo is not None and memo[0] == state:
            return memo[1]
        left = {o: u - cycle.org_started.get(o, 0.0) for o, u in cycle.org_gpus.items()}
        quotas = {org: self.quota(org)[0] for org in left}
        out: list[RunningJob] = []
        if any(used > quotas[org] + _EPS for org, used in left.items()):
            for r in cycle.newest_first():
                org = r.request.org
                if r.request.priority is not Priority.GUARANTEED and left[org] > quotas[org] + _EPS:
                    out.append(r)
                    left[org] -= r.request.gpu_demand
        cycle.remember(_VICTIMS, (state, out))
        return out

    def group(self, cycle: Cycle, job: JobRequest) -> Hashable:
        within = cycle.org_gpus.get(job.org, 0.0) + job.gpu_demand <= self.quota(job.org)[0]
        return (job.org, job.priority, within)

    def could_preempt(self, cycle: Cycle) -> bool:
        """Preemptible jobs run, or an organisation borrows while another, below its quota,
        has a job waiting that fits in its quota (so it may reclaim)."""
        return Policy.could_preempt(self, cycle) or self._reclaim_possible(cycle)

    def _reclaim_possible(self, cycle: Cycle) -> bool:
        if cycle.phase and not cycle.preempted:
            # the borrowers' part: their organisations had no room for them at the start of
            # the pass, and without a preemption none has gained any since
            return False
        state = (cycle.phase, len(cycle.preempted), len(cycle.started))
        memo = cycle.recall(_RECLAIM)
        if memo is not None and memo[0] == state:
            return memo[1]
        held = cycle.org_gpus
        quotas = self._quotas
        lost: set[str] | None = None
        if cycle.phase:  # borrowers: only organisations that lost jobs in this pass gained room
            gone = cycle.preempted
            lost = {r.request.org for r in cycle.view.running if r.request.id in gone}
        # A job fits the room left now if and only if its organisation's smallest job does.
        least = self._least(cycle.view)
        found = any(
            o in quotas
            and (lost is None or o in lost)
            and (r := quotas[o][0] - held.get(o, 0.0) + _EPS) >= _EPS
            and d <= r
            for o, d in least.items()
        )
        if found:  # and someone to reclaim from: use that was there before this pass
            started = cycle.org_started
            found = any(
                u - started.get(o, 0.0) > quotas.get(o, _NO_QUOTA)[0] + _EPS
                for o, u in held.items()
            )
        cycle.remember(_RECLAIM, (state, found))
        return found

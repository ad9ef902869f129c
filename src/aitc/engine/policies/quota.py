"""``quota``: guaranteed GPUs per organisation, borrowing of idle quota, reclaim by preemption.

Like Kueue's ClusterQueues in one cohort. ``Organisation.quota`` is the number of GPUs
guaranteed to it (none: 0); any use above it is *borrowed* from quota others leave idle, up to
``Organisation.borrow_limit`` more (none: no limit). Jobs that fit in their organisation's
quota are tried before jobs that would borrow. When a job within its quota cannot start, the
engine *reclaims*: it preempts the newest jobs of organisations that are above their quota
(never guaranteed jobs, never pushing a borrower below its quota), then preemptible jobs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import ClassVar

from aitc.domain.job import JobRequest, Priority, RunningJob
from aitc.domain.org import Organisation
from aitc.engine import reasons
from aitc.engine.cycle import Cycle
from aitc.engine.policy import Policy
from aitc.engine.registry import register
from aitc.engine.view import Reason, View

_EPS = 1e-9
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
        self._inside_of: tuple[View, list[JobRequest]] | None = None
        self._least_of: tuple[View, dict[str, float]] | None = None

    def quota(self, org: str) -> tuple[float, int | None]:
        """(guaranteed GPUs, borrow limit or None for unlimited) of ``org``."""
        return self._quotas.get(org, _NO_QUOTA)

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]:
        """Jobs that fit in their organisation's unused quota first, then the borrowers (the
        borrowers come out lazily: a pass that stops early never sorts them out)."""
        inside = self._inside(view, jobs)
        if not inside:
            return jobs
        chosen = {j.id for j in inside}
        return itertools.chain(inside, (j for j in jobs if j.id not in chosen))

    def _inside(self, view: View, jobs: Sequence[JobRequest]) -> list[JobRequest]:
        """The jobs that fit in their organisation's unused quota at the start of the pass;
        computed once per view (``order`` and the reclaim test both ask)."""
        if self._inside_of is not None and self._inside_of[0] is view and jobs is view.pending:
            return self._inside_of[1]
        used = view.usage.holding()
        room = {o: q - used.get(o, 0.0) + _EPS for o, (q, _) in self._quotas.items()}
        room = {o: r for o, r in room.items() if r >= _EPS}
        inside = _fitting(jobs, room) if room else []
        if jobs is view.pending:
            self._inside_of = (view, inside)
        return inside

    def _least(self, view: View) -> dict[str, float]:
        """The smallest demand of each organisation's jobs that fit in its unused quota at the
        start of the pass (once per view): a job fits the room left now if and only if its
        organisation's smallest does."""
        if self._least_of is not None and self._least_of[0] is view:
            return self._least_of[1]
        least: dict[str, float] = {}
        for j in self._inside(view, view.pending):
            demand = j.gpus if j.mig is None else j.gpu_demand
            if demand < least.get(j.org, math.inf):
                least[j.org] = demand
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
        # Only use that was there before this pass can be reclaimed: jobs started in this
        # pass are never preempted by it.
        left = {o: u - cycle.org_started.get(o, 0.0) for o, u in cycle.org_gpus.items()}
        out: list[RunningJob] = []
        quotas = {org: self.quota(org)[0] for org in left}
        if all(used <= quotas[org] + _EPS for org, used in left.items()):
            return base
        for r in cycle.newest_first():
            org = r.request.org
            if org == job.org or r.request.priority is Priority.GUARANTEED:
                continue
            if left[org] > quotas[org] + _EPS:
                out.append(r)
                left[org] -= r.request.gpu_demand
        seen = {r.request.id for r in out}
        return out + [r for r in base if r.request.id not in seen]

    def group(self, cycle: Cycle, job: JobRequest) -> Hashable:
        within = cycle.org_gpus.get(job.org, 0.0) + job.gpu_demand <= self.quota(job.org)[0]
        return (job.org, job.priority, within)

    def could_preempt(self, cycle: Cycle) -> bool:
        """Preemptible jobs run, or an organisation borrows while another, below its quota,
        has a job waiting that fits in its quota (so it may reclaim)."""
        return Policy.could_preempt(self, cycle) or self._reclaim_possible(cycle)

    def _reclaim_possible(self, cycle: Cycle) -> bool:
        held = cycle.org_gpus
        state = (len(cycle.preempted), len(cycle.started))
        memo = cycle.memo.get("quota.reclaim")
        if memo is not None and memo[0] == state:
            return bool(memo[1])
        started = cycle.org_started
        borrowing = any(u - started.get(o, 0.0) > self.quota(o)[0] + _EPS for o, u in held.items())
        if not borrowing:  # nobody to reclaim from: no table to build, no job to look at
            cycle.memo["quota.reclaim"] = (state, False)
            return False
        room = {o: q - held.get(o, 0.0) + _EPS for o, (q, _) in self._quotas.items()}
        room = {o: r for o, r in room.items() if r >= _EPS}
        # Without preemptions room only shrinks during a pass, so only jobs that fitted at
        # its start can fit now; a preemption gives room back, so then every job is looked at.
        view = cycle.view
        if not cycle.preempted:  # one look per organisation with room: its smallest job
            least = self._least(view)
            found = any(least.get(o, math.inf) <= r for o, r in room.items())
        else:
            found = any(
                j.org in room and (j.gpus if j.mig is None else j.gpu_demand) <= room[j.org]
                for j in view.pending
            )
        cycle.memo["quota.reclaim"] = (state, found)
        return found

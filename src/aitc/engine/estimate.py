"""Start estimates: when and where a job could start if running jobs end at their time limits.

Backfill's promise to its head job and the estimates a pass gives every pending job are the
same computation. The nodes promised to the head (fenced ``SHADOW`` in the pass) count as
free: an estimate says when the job could start if it were next in line.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement
from aitc.engine.cycle import Cycle
from aitc.engine.pool import GENERAL, SHADOW
from aitc.engine.view import Reason


def earliest_start(
    cycle: Cycle, job: JobRequest, fences: Sequence[str] | None = None
) -> tuple[float, Placement] | None:
    """When and where ``job`` could start if running jobs end at their time limits."""
    fences = tuple(fences if fences is not None else cycle.fences_for(job))
    if GENERAL in fences:
        fences = (*fences, SHADOW)
    placement = cycle.placer.now(job, cycle.capacity, fences)
    if placement is not None:
        return cycle.now, placement
    trial = cycle.capacity.overlay()
    ends = [
        (max(cycle.now, r.started + cycle.limit(r.request)), i, r)
        for i, r in enumerate(cycle.running())
    ]
    heapq.heapify(ends)
    while ends:
        time, _, r = heapq.heappop(ends)
        trial.release(r.placement)
        if ends and ends[0][0] == time:
            continue
        if trial.total_free() < job.gpus:
            continue
        placement = cycle.placer.now(job, trial, fences)
        if placement is not None:
            return time, placement
    return None


def estimates(
    cycle: Cycle, never: Callable[[JobRequest], Reason | None]
) -> dict[JobId, float | None]:
    """Earliest start of each pending job of ``cycle``'s view if it were next in line, after
    the pass's actions (``None``: it can never run here). Jobs of one shape behind the same
    fences share one estimate."""
    now = cycle.now
    out: dict[JobId, float | None] = {}
    memo: dict[tuple[object, ...], float | None] = {}
    for job in cycle.view.pending:
        if job.id in cycle.started:
            out[job.id] = now
            continue
        if never(job) is not None:
            out[job.id] = None
            continue
        key = (job.gpus, job.nodes, job.mig, job.gpu_model, cycle.fences_for(job))
        if key not in memo:
            found = earliest_start(cycle, job)
            memo[key] = None if found is None else found[0]
        start = memo[key]
        out[job.id] = None if start is None else max(start, job.submit)
    return out

"""Why each pending job waits, read from a pass after its walk.

The walk decides and records nothing but its actions and a ``Walk`` (the head, backfill's
promise, where a depth cut the walk short); the explanation reads the cycle as the pass left
it, for every pending job in the policy's order: the job can never run here; its
organisation's admission refuses it (quota); the queue discipline holds it back (behind the
head, past the depth, on the head's promised nodes); the capacity left has no room for its
shape (``Cycle.fit_reason``); its rank in the policy's order (fair share, Tiresias level).
A waiting job that none of these explains fits in what the pass left: the walk tried it
before an earlier job's preemption freed room, and the next pass starts it.

Jobs of one shape behind the same fences share one capacity reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest
from aitc.engine import reasons
from aitc.engine.cycle import Cycle
from aitc.engine.policy import Policy
from aitc.engine.queues import Walk
from aitc.engine.view import Reason


def explain(
    cycle: Cycle,
    walk: Walk,
    policy: Policy,
    never: Callable[[JobRequest], Reason | None],
) -> dict[JobId, tuple[Reason, ...]]:
    """Every reason each pending job of ``cycle``'s view waits (empty: it starts in this pass,
    or it is not submitted yet)."""
    view, now, queue = cycle.view, cycle.now, policy.queue
    out: dict[JobId, tuple[Reason, ...]] = {}
    fits: dict[tuple[object, ...], Reason | None] = {}
    ahead = 0  # waiting jobs before this one in the order
    ordered: Iterable[JobRequest] = policy.order(view, view.pending)
    for job in _every(ordered, view.pending):
        if job.id in cycle.started or job.submit > now:
            out[job.id] = ()
            continue
        impossible = never(job)
        if impossible is not None:
            out[job.id] = (impossible,)
            continue
        found: list[Reason] = []
        refused = policy.admit(cycle, job)
        if refused is not None:
            found.append(refused)
        why = queue.why(cycle, walk, job, ahead)
        for reason in why.found:
            _add(found, reason)
        if why.fit:
            key = (job.gpus, job.nodes, job.mig, job.gpu_model, cycle.fences_for(job))
            if key not in fits:
                fits[key] = cycle.fit_reason(job)
            _add(found, fits[key])
        rank = policy.rank_reason(cycle, job)
        if rank is not None and all(r.code != rank.code for r in found):
            found.insert(0, rank)
        if not found:
            found.append(reasons.priority(job, ahead, why.otherwise))
        out[job.id] = tuple(found)
        ahead += 1
    return out


def _add(found: list[Reason], reason: Reason | None) -> None:
    if reason is not None and all(r.code != reason.code for r in found):
        found.append(reason)


def _every(ordered: Iterable[JobRequest], pending: Iterable[JobRequest]) -> Iterable[JobRequest]:
    """The jobs of ``ordered``, then any pending job the order left out (none, for the
    built-in policies)."""
    seen: set[JobId] = set()
    for job in ordered:
        seen.add(job.id)
        yield job
    for job in pending:
        if job.id not in seen:
            yield job

"""``sjf``: shortest job first, by time limit.

Jobs are tried in order of their time limit, the shortest first; jobs without a time limit
come last, and jobs of equal limits (or none) in arrival order. The time limit is the only
duration the engine knows: a short, honest limit moves a job forward. In the twin,
``aitc sim --oracle`` sets each job's limit to its true runtime, so the order is that of
the perfect-knowledge policy the literature compares against. Non-preemptive, with a greedy
queue by default (a job that does not fit does not hold back shorter ones behind it).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from aitc.domain.job import JobRequest
from aitc.engine.pending import PendingQueue
from aitc.engine.policy import Policy
from aitc.engine.registry import register
from aitc.engine.view import View

_LIMIT = operator.attrgetter("time_limit")


@register
class ShortestJobFirst(Policy):
    """Shortest time limit first, greedy queue by default."""

    name = "sjf"
    PARAMS: ClassVar[Mapping[str, object]] = {"queue": "greedy"}

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]:
        # The driver's queue keeps this order (``PendingQueue.by_limit``): a pass reads it
        # without sorting the queue. A plain sequence (the new jobs of a quiet pass, a
        # reservation's jobs) is sorted: ``sorted`` is stable and the jobs come in arrival
        # order, so ties keep it; the key is read in C (``attrgetter``).
        if isinstance(jobs, PendingQueue):
            return jobs.by_limit()
        limited = [j for j in jobs if j.time_limit is not None]
        if len(limited) == len(jobs):
            return sorted(limited, key=_LIMIT)
        unlimited = [j for j in jobs if j.time_limit is None]
        return sorted(limited, key=_LIMIT) + unlimited

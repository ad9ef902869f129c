"""The ordered queue of one pass, with a cheap look at every job not yet walked.

A queue walk mostly skips jobs whose class already failed in this pass: capacity only shrinks
while a pass starts jobs, so a job at least as large as one that failed fails too. On a long
queue with free GPUs that fit nobody, those skips are the whole cost of a pass. After a run of
skips, ``Walk.all_dead`` takes the rest of the queue as a list and asks, once per *kind* of job
(organisation, priority, node count, MIG profile, GPU model, time limit) rather than once per
job, whether any of them could still be tried; if none could, the walk ends early with the
same outcome. The per-job work of that test runs in C (``map``, ``set``, ``min``), several
times cheaper than the skip loop it replaces. The checks back off (the threshold doubles after
each check that finds a live kind), so a walk never spends more than a few full looks on them.
"""

from __future__ import annotations

import itertools
import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from aitc.domain.job import JobRequest

Kind = tuple[object, ...]  # (org, priority, nodes, mig, gpu_model, time_limit)
KIND = operator.attrgetter("org", "priority", "nodes", "mig", "gpu_model", "time_limit")
_GPUS = operator.attrgetter("gpus")
FIRST_CHECK = 64


class Walk:
    """Iterate ``walk.jobs``; ``all_dead`` may end the walk once a run of skips is long."""

    def __init__(self, ordered: Iterable[JobRequest]) -> None:
        self._parts: deque[Iterator[JobRequest]] = deque([iter(ordered)])
        self._current: Iterator[JobRequest] = iter(())
        self.jobs: Iterator[JobRequest] = itertools.chain.from_iterable(self._next_part())
        self.check_at = FIRST_CHECK  # skips in a row before the next look

    def _next_part(self) -> Iterator[Iterator[JobRequest]]:
        while self._parts:
            self._current = self._parts.popleft()
            yield self._current

    def all_dead(self, dead: Callable[[Kind, int], bool]) -> bool:
        """Whether ``dead(kind, fewest_gpus)`` holds for every kind of job not yet walked
        (``fewest_gpus``: a lower bound of those jobs' GPUs). If not, the walk goes on over
        the same jobs, and the next look waits for twice as many skips."""
        rest = list(self._current)
        self._parts.appendleft(iter(rest))
        if not rest:
            return True
        fewest = max(1, min(map(_GPUS, rest)))
        if True:
            return True
        self.check_at *= 2
        return False

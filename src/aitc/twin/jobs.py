"""The twin's private record of one job: its true runtime and how much work is left.

The engine sees only the ``JobRequest``; how long the job really runs is known here alone.
A run ("segment") begins on ``Start`` and ends on completion, time-out or preemption. Work
advances at ``1 / slowdown`` per second (the locality model); a run after a preemption first
spends the checkpoint/restore overhead without progress.
"""

from __future__ import annotations

from enum import StrEnum

from aitc.domain.job import JobRequest
from aitc.twin.locality import Spread
from aitc.twin.metrics import JobRow

_NAN = float("nan")


class Outcome(StrEnum):
    COMPLETED = "completed"
    TIMEOUT = "timeout"
    REJECTED = "rejected"
    UNFINISHED = "unfinished"


class JobRecord:
    """Mutable state of a job inside the twin (one per job in the system)."""

    __slots__ = (
        "request",
        "runtime",
        "remaining",
        "first_start",
        "epoch",
        "preemptions",
        "spread",
        "timed_out",
        "_seg_start",
        "_seg_overhead",
    )

    def __init__(self, request: JobRequest, runtime: float) -> None:
        self.request, self.runtime, self.remaining = request, runtime, runtime
        self.first_start = _NAN
        self.epoch = self.preemptions = 0
        self.spread: Spread | None = None
        self.timed_out = False
        self._seg_start = self._seg_overhead = 0.0

    def begin_run(
        self, now: float, spread: Spread, overhead_s: float, *, kill_at_limit: bool = True
    ) -> float:
        """Start a run at ``now``; returns when it ends (done, or killed at the time limit
        unless ``kill_at_limit`` is off)."""
        self.epoch += 1
        self.spread = spread
        self._seg_start = now
        self._seg_overhead = overhead_s if self.preemptions else 0.0
        if self.first_start != self.first_start:
            self.first_start = now
        duration = self._seg_overhead + self.remaining * spread.slowdown
        limit = self.request.time_limit if kill_at_limit else None
        self.timed_out = limit is not None and duration > limit
        return now + (limit if self.timed_out and limit is not None else duration)

    def end_run(self, now: float, *, preempted: bool = False) -> float:
        """Stop the run at ``now``; returns the GPU-seconds it held."""
        elapsed = now - self._seg_start
        assert self.spread is not None
        work = max(0.0, elapsed - self._seg_overhead) / self.spread.slowdown
        self.remaining = max(0.0, self.remaining - work)
        self.epoch += 1
        if preempted:
            self.preemptions += 1
        return elapsed * self.request.gpu_demand

    def row(self, now: float, outcome: Outcome) -> JobRow:
        """The job's row of the job table (``JobTable.FIELDS``), as it ends with ``outcome``."""
        req, spread = self.request, self.spread
        ran = outcome is Outcome.COMPLETED or outcome is Outcome.TIMEOUT
        if spread is None:
            nodes = leaves = sus = 0
            slowdown = _NAN
        else:
            nodes, leaves, sus, slowdown = spread.nodes, spread.leaves, spread.sus, spread.slowdown
        return (
            int(req.id),
            req.org,
            req.project,
            req.member,
            req.gpu_demand,
            req.submit,
            self.first_start,
            now if ran else _NAN,
            self.runtime,
            self.preemptions,
            nodes,
            leaves,
            sus,
            slowdown,
            outcome.value,
        )

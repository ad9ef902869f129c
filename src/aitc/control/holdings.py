"""What only the controller tracks on the cluster: preempted attempts still stopping.

The books (``aitc.engine.books``) treat a preempted job's GPUs as free at once (``Preempt``), as
the engine does; ``Draining`` keeps a job started in its place from being dispatched until the
preempted attempt's processes have really ended, so two jobs never share a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence

from aitc.control.executors.base import ExecJob
from aitc.domain.job import Placement

Attempt = tuple[int, int]


class Draining:
    """Preempted attempts that are still stopping, and started jobs waiting for their GPUs."""

    def __init__(self) -> None:
        self.stopping: dict[Attempt, Placement] = {}
        self.deferred: dict[int, ExecJob] = {}

    def add(self, attempt: Attempt, placement: Placement) -> None:
        self.stopping[attempt] = placement

    def settle(self, running: set[Attempt]) -> None:
        """Forget stopping attempts the executor no longer reports running."""
        for attempt in [a for a in self.stopping if a not in running]:
            del self.stopping[attempt]

    def admit(self, jobs: Sequence[ExecJob]) -> list[ExecJob]:
        """The jobs that may be dispatched now; the others wait in ``deferred``."""
        for job in jobs:
            self.deferred[job.job_id] = job
        return self.ready()

    def ready(self) -> list[ExecJob]:
        out = [j for j in self.deferred.values() if not self._blocked(j.placement)]
        for job in out:
            del self.deferred[job.job_id]
        return out

    def drop(self, job_id: int) -> ExecJob | None:
        return self.deferred.pop(job_id, None)

    def _blocked(self, placement: Placement) -> bool:
        return any(_overlap(placement, p) for p in self.stopping.values())


def _overlap(a: Placement, b: Placement) -> bool:
    """Whether two placements share a GPU (a MIG slice counts as its whole GPU here)."""

    def used(p: Placement) -> set[tuple[str, int]]:
        return {(x.node, g) for x in p.allocs for g in (x.gpus if x.mig is None else (x.mig.gpu,))}

    return bool(used(a) & used(b))

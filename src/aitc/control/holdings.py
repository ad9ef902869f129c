"""What the controller holds on the cluster: its capacity index and usage ledger.

The controller is the engine's second driver. Like the twin, it owns one ``CapacityIndex`` and
one ``UsageLedger`` and updates them incrementally as jobs start and stop, so a scheduling pass
never rebuilds them. Both are rebuilt once, from the store, when the controller starts.

The engine treats a preempted job's GPUs as free at once (``Preempt``), and so do these books;
``Draining`` keeps a job started in its place from being dispatched until the preempted
attempt's processes have really ended, so two jobs never share a GPU.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aitc.control.executors.base import ExecJob, NodeInfo, NodeState
from aitc.domain.cluster import Cluster
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Placement
from aitc.engine.capacity import CapacityIndex
from aitc.engine.ledger import UsageLedger
from aitc.errors import SchedulingError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PastRun:
    """One stretch of GPU use from the store, to replay into the ledger at start-up."""

    request: JobRequest
    started: float
    ended: float | None


class Holdings:
    """The capacity index and usage ledger, kept in step with the store's active jobs."""

    def __init__(self, cluster: Cluster, half_life_s: float) -> None:
        self.cluster = cluster
        self.capacity = CapacityIndex(cluster)
        self.ledger = UsageLedger(half_life_s)
        self._held: dict[int, Placement] = {}
        self._foreign: dict[str, int] = {}
        self._down: set[str] = set()

    def replay(self, runs: Iterable[PastRun]) -> None:
        """Feed past and current runs to the ledger in time order (start-up only)."""
        events: list[tuple[float, int, PastRun]] = []
        for run in runs:
            events.append((run.started, 1, run))
            if run.ended is not None:
                events.append((max(run.ended, run.started), 0, run))
        for at, is_start, run in sorted(events, key=lambda e: (e[0], e[1], e[2].request.id)):
            if is_start:
                self.ledger.job_started(run.request, at)
            elif self.ledger.is_running(run.request.id):
                self.ledger.job_stopped(run.request.id, at)

    def holds(self, job_id: int) -> bool:
        return job_id in self._held

    def placement(self, job_id: int) -> Placement | None:
        return self._held.get(job_id)

    def hold(self, request: JobRequest, placement: Placement, started: float) -> bool:
        """Allocate an active job's placement and start its usage; False if the GPUs are taken."""
        if request.id in self._held:
            return True
        try:
            self.capacity.allocate(placement)
        except SchedulingError as exc:
            log.error("job %s: cannot hold its placement: %s", request.id, exc)
            return False
        self._held[request.id] = placement
        if not self.ledger.is_running(request.id):
            self.ledger.job_started(request, started)
        return True

    def release(self, job_id: int, now: float) -> Placement | None:
        """Stop a job's usage and free its GPUs; returns the placement it held."""
        if self.ledger.is_running(JobId(job_id)):
            self.ledger.job_stopped(JobId(job_id), now)
        placement = self._held.pop(job_id, None)
        if placement is not None:
            self.capacity.release(placement)
        return placement

    def held_jobs(self) -> Sequence[int]:
        return tuple(self._held)

    def set_nodes(self, nodes: Sequence[NodeInfo]) -> None:
        """Follow the executor's node states (down, drained) and GPUs held outside aitc."""
        for node in nodes:
            if node.name not in self.cluster:
                continue
            self._set_down(node.name, node.state != NodeState.UP)
            self._set_foreign(node.name, node.foreign_gpus)

    def _set_down(self, name: str, down: bool) -> None:
        if down and name not in self._down:
            self.capacity.set_node_down(name)
            self._down.add(name)
        elif not down and name in self._down:
            self.capacity.set_node_up(name)
            self._down.discard(name)

    def _set_foreign(self, name: str, gpus: int) -> None:
        have = self._foreign.get(name, 0)
        want = min(gpus, have + len(self.capacity.node_free(name).gpus))
        try:
            if want > have:
                self.capacity.hold_foreign(name, want - have)
            elif want < have:
                self.capacity.release_foreign(name, have - want)
        except SchedulingError as exc:
            log.warning("node %s: cannot follow foreign GPU use: %s", name, exc)
            return
        self._foreign[name] = want


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

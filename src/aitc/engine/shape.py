"""The shape of a job on one GPU model: how many nodes, how many GPUs on each, or a MIG slice.

Rules (docs/scheduling.md, "Placement"):
- a MIG job takes one slice of its profile;
- a job that fits on one node stays on one node;
- ``nodes=n`` spreads ``gpus`` evenly over ``n`` nodes (``gpus`` must divide by ``n``);
- otherwise a job larger than a node takes ``gpus // per_node`` whole nodes and puts the
  remainder on one more node.
"""

from __future__ import annotations

from dataclasses import dataclass

from aitc.domain.job import JobRequest


@dataclass(frozen=True, slots=True)
class Shape:
    """``count`` nodes with ``per_node`` GPUs each, plus one node with ``remainder`` GPUs."""

    count: int
    per_node: int
    remainder: int = 0
    mig: str | None = None

    @property
    def gpus(self) -> int:
        return self.count * self.per_node + self.remainder

    @property
    def node_count(self) -> int:
        return self.count + (1 if self.remainder else 0)


def shape_of(job: JobRequest, node_gpus: int) -> Shape | None:
    """The job's shape on nodes of ``node_gpus`` GPUs, or ``None`` if it cannot be shaped."""
    if job.mig is not None:
        return Shape(1, 0, 0, job.mig)
    if job.gpus <= 0 or node_gpus <= 0:
        return None
    if job.nodes is not None and job.nodes > 1:
        if job.gpus % job.nodes or job.gpus // job.nodes > node_gpus:
            return None
        return Shape(job.nodes, job.gpus // job.nodes)
    if job.gpus <= node_gpus:
        return Shape(1, job.gpus)
    if job.nodes == 1:
        return None
    return Shape(job.gpus // node_gpus, node_gpus, job.gpus % node_gpus)

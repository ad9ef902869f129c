"""``pool``: all GPUs of a model as one pool, as the public simulators' "count" placement.

Tiresias's and Alibaba's PAI simulators place a job by counting: it starts when enough GPUs
are free anywhere in the cluster, wherever they are. ``PoolPlacement`` does the same for jobs
that name no node count: a job takes any free whole GPUs of one GPU model, from the fullest
nodes first (a one-GPU job lands where a node is nearly full, and idle nodes stay whole; of
equally full nodes, the lowest-numbered first), so a 16-GPU job may run on sixteen nodes.
Jobs that name a node count (``nodes``) and MIG slices are placed as under ``topology``;
which jobs can ever run is the same rule under every placement. In the twin, locality
penalties still apply to where the GPUs end up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from aitc.domain.job import JobRequest, Placement
from aitc.engine.capacity import CapacityIndex
from aitc.engine.placement import TopologyPlacement, candidate_pools, lowest_free_gpus
from aitc.engine.pool import Pool
from aitc.engine.registry import register_placement


@register_placement
class PoolPlacement(TopologyPlacement):
    """Any free GPUs of one model, fullest nodes first; no locality."""

    name: ClassVar[str] = "pool"
    gpus_anywhere: ClassVar[bool] = True

    def now(
        self, job: JobRequest, capacity: CapacityIndex, fences: Sequence[str]
    ) -> Placement | None:
        if job.mig is not None or job.nodes is not None:
            return super().now(job, capacity, fences)
        by_model: dict[str, list[Pool]] = {}  # a job never mixes GPU models
        for pool in candidate_pools(job, capacity, fences):
            by_model.setdefault(pool.key[0], []).append(pool)
        for pools in by_model.values():
            if sum(p.free for p in pools) >= job.gpus:
                return _scatter(job.gpus, pools, capacity)
        return None


def _scatter(gpus: int, pools: Sequence[Pool], capacity: CapacityIndex) -> Placement | None:
    """``gpus`` free GPUs from ``pools`` in the order given, fullest nodes first, and of
    equally full nodes the lowest-numbered first (read from each bucket's bitmask: a set's
    own order would depend on how the index came to hold its nodes)."""
    picks: list[tuple[int, int]] = []
    need = gpus
    for pool in pools:
        for free in range(1, len(pool.lowest)):
            nodes = pool.lowest[free]
            while nodes:
                low = nodes & -nodes
                nodes ^= low
                pos = low.bit_length() - 1
                take = min(free, need)
                picks.append((pos, take))
                need -= take
                if not need:
                    return lowest_free_gpus(capacity, picks)
    return None

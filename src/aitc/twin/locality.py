"""How placement slows a job down: the locality model of the twin.

A job whose GPUs sit on one node talks over NVLink; across nodes of one leaf it crosses one
switch; across leaves it crosses the spine; across scalable units (SUs) the core. The twin
stretches a job's work by ``1 + leaf_penalty`` when its nodes span several leaves of one SU and
by ``1 + su_penalty`` when they span several SUs, so that placement matters in the results.
"""

from __future__ import annotations

from dataclasses import dataclass

from aitc.domain.cluster import ACROSS_SUS, SAME_SU, Cluster
from aitc.domain.job import Placement
from aitc.engine.params import DEFAULT_LEAF_PENALTY, DEFAULT_SU_PENALTY


@dataclass(frozen=True, slots=True)
class LocalityModel:
    """Slowdown factors for jobs spread across leaves (``leaf_penalty``) or SUs (``su_penalty``)."""

    leaf_penalty: float = DEFAULT_LEAF_PENALTY
    su_penalty: float = DEFAULT_SU_PENALTY


@dataclass(frozen=True, slots=True)
class Spread:
    """How widely a placement is spread, and the resulting slowdown of its work."""

    nodes: int
    leaves: int
    sus: int
    slowdown: float


_ON_ONE, _ON_NONE = Spread(1, 1, 1, 1.0), Spread(0, 0, 0, 1.0)


class Topology:
    """Looks up leaves and SUs of placements in O(nodes of the placement)."""

    def __init__(self, cluster: Cluster, model: LocalityModel) -> None:
        self._where = {n.name: (n.leaf, n.su) for n in cluster.nodes}
        self._cluster = cluster
        self._model = model

    def spread(self, placement: Placement) -> Spread:
        names = placement.nodes
        if len(names) <= 1:
            return _ON_ONE if names else _ON_NONE
        where = [self._where[n] for n in names]
        leaves = len({(su, leaf) for leaf, su in where})
        sus = len({su for _, su in where})
        return Spread(len(names), leaves, sus, self._slowdown(names, leaves, sus))

    def _slowdown(self, names: tuple[str, ...], leaves: int, sus: int) -> float:
        far = max(self._cluster.distance(names[0], n) for n in names[1:])
        if sus > 1 or far >= ACROSS_SUS:
            return 1.0 + self._model.su_penalty
        if leaves > 1 or far >= SAME_SU:
            return 1.0 + self._model.leaf_penalty
        return 1.0

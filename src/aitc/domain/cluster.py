"""The cluster: nodes and the topology that connects them.

The tree, from the inside out: a *node* is one NVLink domain (its GPUs talk over NVLink); nodes
hang off a *leaf* (the group of nodes whose rail traffic crosses one leaf switch); leaves form a
*scalable unit* (SU) joined by spine switches; SUs are joined by core switches when the fabric
has three tiers. In a rail-optimised SuperPOD every node of an SU reaches the same rail leaves,
so there a leaf group is the whole SU; test rigs and hand-written clusters may have several
leaves per SU.

``Cluster.distance(a, b)`` answers "how far apart are these two nodes" in O(1):
0 same node, 1 same leaf, 2 same SU, 3 different SUs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from aitc.domain.node import NodeModel
from aitc.errors import CatalogError, ConfigError

SAME_NODE, SAME_LEAF, SAME_SU, ACROSS_SUS = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Node:
    """One server in the cluster and where it sits in the topology."""

    name: str
    model: NodeModel
    leaf: int
    su: int
    rack: int = 0

    @property
    def gpus(self) -> int:
        return self.model.gpus

    @property
    def gpu_model(self) -> str:
        return self.model.gpu.name


@dataclass(frozen=True)
class Cluster:
    """An immutable set of nodes with O(1) lookups by name and topological distance."""

    name: str
    nodes: tuple[Node, ...]
    reference_architecture: str | None = None
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, n in enumerate(self.nodes):
            if n.name in index:
                raise ConfigError(f"duplicate node name {n.name!r}", field="nodes")
            index[n.name] = i
        object.__setattr__(self, "_index", MappingProxyType(index))

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def node(self, name: str) -> Node:
        try:
            return self.nodes[self._index[name]]
        except KeyError:
            raise CatalogError(f"unknown node {name!r} in cluster {self.name!r}") from None

    def position(self, name: str) -> int:
        """The index of node ``name`` in ``nodes`` (stable; engines key arrays by it)."""
        try:
            return self._index[name]
        except KeyError:
            raise CatalogError(f"unknown node {name!r} in cluster {self.name!r}") from None

    def distance(self, a: str, b: str) -> int:
        """0 same node, 1 same leaf, 2 same SU, 3 across SUs."""
        na, nb = self.node(a), self.node(b)
        if na.name == nb.name:
            return SAME_NODE
        if na.su != nb.su:
            return ACROSS_SUS
        return SAME_LEAF if na.leaf == nb.leaf else SAME_SU

    @property
    def total_gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    @property
    def max_gpus_per_node(self) -> int:
        return max((n.gpus for n in self.nodes), default=0)

    @property
    def gpu_models(self) -> tuple[str, ...]:
        return tuple(sorted({n.gpu_model for n in self.nodes}))

    def leaves(self) -> Mapping[int, Sequence[Node]]:
        out: dict[int, list[Node]] = {}
        for n in self.nodes:
            out.setdefault(n.leaf, []).append(n)
        return out

    def sus(self) -> Mapping[int, Sequence[Node]]:
        out: dict[int, list[Node]] = {}
        for n in self.nodes:
            out.setdefault(n.su, []).append(n)
        return out

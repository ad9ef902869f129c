"""One pool of the capacity index: counts over the nodes of one GPU model behind one fence."""

from __future__ import annotations

from collections.abc import Iterable

GENERAL = ""
DOWN = "!down"
SHADOW = "!shadow"  # nodes promised to backfill's head job, for the rest of a pass

PoolKey = tuple[str, str]  # (GPU model, fence tag)


class Pool:
    """Free whole GPUs of a set of nodes, bucketed by free count and grouped by leaf and SU.

    ``buckets[k]`` holds the positions of nodes with exactly ``k`` free whole GPUs;
    ``leaf_idle[leaf]`` the nodes of a leaf whose GPUs are all free; ``mig_nodes`` the nodes
    that carry at least one MIG slice (where a new slice is tried first, to pack them).

    A copy shares the sets of ``leaf_idle`` with its original and copies one only when it
    first changes it, so that copying costs the leaves, not their nodes (a pass copies the
    pools it writes to). The ``buckets`` are copied whole. Like every overlay, a copy is read
    only while its original does not change (``fork`` makes one that may outlive changes).

    Placement reads these sets only through their contents, never their order: it sorts what
    it reads, and ``best_fit`` takes the lowest node of its bucket (read from ``lowest``, the
    bucket as a bitmask, in time that does not grow with the bucket). So the same free capacity
    gives the same placement however the index came to hold it (jobs released one by one or
    in a batch, on a fresh overlay or on one kept through the pass).
    """

    __slots__ = (
        "_own_leaves",
        "buckets",
        "lowest",
        "free",
        "key",
        "leaf_free",
        "leaf_idle",
        "leaf_su",
        "mig_nodes",
        "node_gpus",
        "nodes",
        "su_idle",
    )

    def __init__(self, key: PoolKey) -> None:
        self.key = key
        self.buckets: list[set[int]] = [set() for _ in range(9)]
        # each bucket's nodes as a bitmask too (bit ``pos``), so that its lowest node is one
        # integer operation away on a cluster of any size
        self.lowest: list[int] = [0] * 9
        self.leaf_idle: dict[int, set[int]] = {}
        self.leaf_free: dict[int, int] = {}
        self.leaf_su: dict[int, int] = {}
        self.su_idle: dict[int, int] = {}
        self.mig_nodes: set[int] = set()
        self.free = 0
        self.nodes = 0
        self.node_gpus = 0
        self._own_leaves: set[int] | None = None  # leaves whose sets a copy made its own

    def fork(self) -> Pool:
        """A copy that shares nothing that changes (``copy`` shares the leaves' sets until it
        writes them, so its original must not change while it is read)."""
        out = self.copy()
        out.leaf_idle = {leaf: set(nodes) for leaf, nodes in self.leaf_idle.items()}
        out._own_leaves = None
        return out

    def copy(self) -> Pool:
        out = Pool.__new__(Pool)
        out.key = self.key
        out.buckets = [set(b) for b in self.buckets]
        out.lowest = list(self.lowest)
        out.leaf_idle = dict(self.leaf_idle)  # the sets are copied when first written
        out._own_leaves = set()
        out.leaf_free = dict(self.leaf_free)
        out.leaf_su = self.leaf_su  # fixed once a leaf is known; shared on purpose
        out.su_idle = dict(self.su_idle)
        out.mig_nodes = set(self.mig_nodes)
        out.free = self.free
        out.nodes = self.nodes
        out.node_gpus = self.node_gpus
        return out

    @property
    def idle_nodes(self) -> int:
        return sum(self.su_idle.values())

    def _idle(self, leaf: int) -> set[int]:
        """``leaf_idle[leaf]``, to change (copied first where it is shared)."""
        own = self._own_leaves
        if own is None:
            return self.leaf_idle.setdefault(leaf, set())
        if leaf not in own:
            self.leaf_idle[leaf] = set(self.leaf_idle.get(leaf, ()))
            own.add(leaf)
        return self.leaf_idle[leaf]

    def add(self, pos: int, leaf: int, su: int, free: int, gpus: int, has_mig: bool) -> None:
        self.add_all(((pos, leaf, su, free, gpus, has_mig),))

    def add_all(self, nodes: Iterable[tuple[int, int, int, int, int, bool]]) -> None:
        """``add`` each of ``nodes`` (its arguments), in order: one call for a whole cluster
        (``CapacityIndex`` rebuilds a pool from its nodes)."""
        shared = self._own_leaves is not None  # (a copy: a leaf's set is copied first)
        buckets, lowest, leaf_idle = self.buckets, self.lowest, self.leaf_idle
        leaf_free, leaf_su, su_idle, mig_nodes = (
            self.leaf_free,
            self.leaf_su,
            self.su_idle,
            self.mig_nodes,
        )
        node_gpus, free_total, count = self.node_gpus, 0, 0
        for pos, leaf, su, free, gpus, has_mig in nodes:
            if gpus > node_gpus:
                node_gpus = gpus
            while len(buckets) <= gpus:
                buckets.append(set())
                lowest.append(0)
            if leaf not in leaf_su:
                leaf_su = self.leaf_su = {**leaf_su, leaf: su}  # a new dict: copies share the old
            idle = self._idle(leaf) if shared else leaf_idle.get(leaf)
            if idle is None:
                idle = leaf_idle[leaf] = set()
            leaf_free[leaf] = leaf_free.get(leaf, 0) + free
            if su not in su_idle:
                su_idle[su] = 0
            count += 1
            free_total += free
            buckets[free].add(pos)
            lowest[free] |= 1 << pos
            if free == gpus:
                idle.add(pos)
                su_idle[su] += 1
            if has_mig:
                mig_nodes.add(pos)
        self.node_gpus = node_gpus
        self.free += free_total
        self.nodes += count

    def remove(self, pos: int, leaf: int, su: int, free: int, gpus: int, has_mig: bool) -> None:
        self.nodes -= 1
        self.free -= free
        self.leaf_free[leaf] -= free
        self.buckets[free].discard(pos)
        self.lowest[free] &= ~(1 << pos)
        if free == gpus:
            self._idle(leaf).discard(pos)
            self.su_idle[su] -= 1
        self.mig_nodes.discard(pos)

    def move(
        self, pos: int, leaf: int, su: int, before: int, after: int, gpus: int, has_mig: bool
    ) -> None:
        """Node ``pos`` went from ``before`` to ``after`` free whole GPUs."""
        if has_mig:
            self.mig_nodes.add(pos)
        else:
            self.mig_nodes.discard(pos)
        if before == after:
            return
        self.buckets[before].discard(pos)
        self.buckets[after].add(pos)
        bit = 1 << pos
        lowest = self.lowest
        lowest[before] &= ~bit
        lowest[after] |= bit
        self.free += after - before
        self.leaf_free[leaf] += after - before
        if before == gpus:
            self._idle(leaf).discard(pos)
            self.su_idle[su] -= 1
        elif after == gpus:
            self._idle(leaf).add(pos)
            self.su_idle[su] += 1

    def best_fit(self, gpus: int) -> int | None:
        """The lowest-numbered node among those with the fewest free whole GPUs that still
        have ``gpus`` free."""
        lowest = self.lowest
        for k in range(max(gpus, 1), len(lowest)):
            nodes = lowest[k]
            if nodes:
                return (nodes & -nodes).bit_length() - 1
        return None

    def max_node_free(self) -> int:
        for k in range(len(self.buckets) - 1, 0, -1):
            if self.buckets[k]:
                return k
        return 0

"""The capacity index: free whole GPUs and MIG memory slots per node, with counts per pool.

The driver (twin or control plane) owns one ``CapacityIndex`` and updates it as it applies
actions (``allocate`` / ``release``). A scheduling pass plans on ``overlay()``, a copy-on-write
view: the first write to a node list or a pool copies it, so the driver's index is never
mutated and an untouched pass costs nothing.

Nodes are grouped in *pools*: one per (GPU model, fence). A fence is a tag a pass puts on the
nodes of a reservation so that only the jobs allowed there see them; down nodes sit behind the
``DOWN`` fence, which no query asks for. Inside a pool, nodes are bucketed by their number of
free whole GPUs and leaves keep their set of idle nodes, so placement queries never scan every
node: a single-node job looks at (at most) one bucket per free count, a multi-node job walks the
leaves. Plain Python sets and ints beat numpy here: updates touch one node at a time, and
profiling showed per-element numpy writes dominating the pass.

Per node the state is four bitmasks: GPUs held whole by aitc jobs, GPUs held by work outside
aitc (``foreign``), MIG memory slots in use (8 bits per GPU) and the GPUs that carry any MIG
slice. Two MIG slices conflict exactly when their memory slots overlap: with NVIDIA's valid
placements, non-overlapping memory slots never need more than 7 compute slices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from aitc.domain.cluster import Cluster
from aitc.domain.gpu import MIG_MEMORY_SLOTS
from aitc.domain.job import MigSlot, NodeAlloc, Placement
from aitc.engine.pool import DOWN, GENERAL, Pool, PoolKey
from aitc.errors import CatalogError, SchedulingError

_SLOT_MASK = (1 << MIG_MEMORY_SLOTS) - 1

__all__ = ["DOWN", "GENERAL", "CapacityIndex", "NodeFree", "PoolKey", "Withheld"]


@dataclass(frozen=True, slots=True)
class NodeFree:
    """Free capacity of one node: whole GPUs by index and the MIG slot mask."""

    name: str
    gpus: tuple[int, ...]
    mig_mask: int


@dataclass(frozen=True, slots=True)
class Withheld:
    """Capacity a pass took out of every query (``CapacityIndex.withhold``): free whole GPUs
    and free MIG memory slots of one node."""

    pos: int
    gpus: int
    slots: int


class CapacityIndex:
    """Free GPUs and MIG slots of a cluster, indexed for placement queries."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.models = cluster.gpu_models
        n = len(cluster.nodes)
        self._full = [(1 << node.gpus) - 1 for node in cluster.nodes]
        self._used = [0] * n
        self._foreign = [0] * n
        self._mig = [0] * n
        self._migbusy = [0] * n
        self._pool_of: list[PoolKey] = [(node.gpu_model, GENERAL) for node in cluster.nodes]
        self._pools: dict[PoolKey, Pool] = {}
        for pos, node in enumerate(cluster.nodes):
            key = self._pool_of[pos]
            if key not in self._pools:
                self._pools[key] = Pool(key)
            self._pools[key].add(pos, node.leaf, node.su, node.gpus, node.gpus, False)
        self._own_nodes = True
        self._own_pools: set[PoolKey] = set(self._pools)
        # the index this one is an overlay of, its stamp then, and allocations since
        self._origin: CapacityIndex | None = None
        self._origin_stamp = self._held = 0
        # (node, GPU indices) -> (position, bitmask) of whole-GPU allocations already checked,
        # shared by every overlay and fork (a cluster has only so many)
        self._bits: dict[tuple[str, tuple[int, ...]], tuple[int, int]] = {}
        # bumped by every change that may give capacity back or move nodes between pools
        # (release, release_foreign, fence): while it stands still, free capacity only shrank
        self.version = 0
        # bumped by every change at all (allocations too): while it stands still, the index
        # holds exactly what it held, so the running jobs are the same
        self.stamp = 0

    # ------------------------------------------------------------------ copy-on-write
    def overlay(self) -> CapacityIndex:
        """A cheap view to plan on: writes to it never reach this index."""
        view = object.__new__(CapacityIndex)
        view.cluster = self.cluster
        view.models = self.models
        view._full = self._full
        view._used, view._foreign = self._used, self._foreign
        view._mig, view._migbusy = self._mig, self._migbusy
        view._pool_of = self._pool_of
        view._pools = dict(self._pools)
        view._bits = self._bits
        view._own_nodes = False
        view._own_pools = set()
        view.version, view.stamp = self.version, self.stamp
        view._origin, view._origin_stamp, view._held = self, self.stamp, 0
        return view

    def absorb(self, plan: CapacityIndex, holds: int) -> bool:
        """Take over what ``plan`` holds, if ``plan`` is an overlay of this index made in its
        present state and changed since only by ``holds`` allocations (``allocate``): this
        index then holds exactly what allocating those placements here would give, without
        checking and updating every node again. False (and no change) otherwise. ``plan``
        stays usable: it no longer owns what this index took over, so it copies before its
        next write."""
        if (
            plan._origin is not self
            or plan._origin_stamp != self.stamp
            or plan.version != self.version
            or plan.stamp - self.stamp != holds
            or plan._held != holds
        ):
            return False
        if holds:
            self._used, self._foreign = plan._used, plan._foreign
            self._mig, self._migbusy = plan._mig, plan._migbusy
            self._pool_of, self._pools = plan._pool_of, plan._pools
            self._own_nodes, self._own_pools = True, set(plan._pools)
            plan._own_nodes, plan._own_pools, plan._pools = False, set(), dict(plan._pools)
            self.stamp = plan.stamp
        return True

    def fork(self) -> CapacityIndex:
        """A copy that owns all its state: unlike an overlay, it may live on while this
        index changes (a pass keeps one beside its overlay and changes both)."""
        view = self.overlay()
        view._write_nodes()
        view._pools = {key: pool.fork() for key, pool in self._pools.items()}
        view._own_pools = set(view._pools)
        return view

    def _write_nodes(self) -> None:
        if not self._own_nodes:
            self._used, self._foreign = list(self._used), list(self._foreign)
            self._mig, self._migbusy = list(self._mig), list(self._migbusy)
            self._pool_of = list(self._pool_of)
            self._own_nodes = True

    def _write_pool(self, key: PoolKey) -> Pool:
        if key not in self._own_pools:
            if key in self._pools:
                self._pools[key] = self._pools[key].copy()
            else:
                self._pools[key] = Pool(key)
            self._own_pools.add(key)
        return self._pools[key]

    # ------------------------------------------------------------------ queries
    def position(self, node: str) -> int:
        return self.cluster.position(node)

    def free_mask(self, pos: int) -> int:
        """Bitmask of the whole GPUs free on node ``pos`` (ignores fences and DOWN)."""
        return self._full[pos] & ~(self._used[pos] | self._foreign[pos] | self._migbusy[pos])

    def free_gpus(self, node: str) -> int:
        """Whole GPUs free on ``node`` now (0 while it is down)."""
        pos = self.position(node)
        if self._pool_of[pos][1] == DOWN:
            return 0
        return self.free_mask(pos).bit_count()

    def total_free(self) -> int:
        """Free whole GPUs on nodes that are up (fenced nodes included)."""
        free = 0
        for (_, tag), pool in self._pools.items():
            if tag != DOWN:
                free += pool.free
        return free

    def has_room(self) -> bool:
        """Whether anything could still be placed: a free whole GPU, or a GPU carrying MIG
        slices (it may have free slots)."""
        for (_, tag), pool in self._pools.items():  # (a loop: a pass asks first thing)
            if (pool.free or pool.mig_nodes) and tag != DOWN:
                return True
        return False

    def free_outside(self, *fences: str) -> int:
        """Free whole GPUs on up nodes that are not behind one of ``fences``."""
        return sum(p.free for k, p in self._pools.items() if k[1] != DOWN and k[1] not in fences)

    def node_free(self, node: str) -> NodeFree:
        pos = self.position(node)
        mask = self.free_mask(pos)
        gpus = tuple(i for i in range(self.cluster.nodes[pos].gpus) if mask >> i & 1)
        return NodeFree(node, gpus, self._mig[pos])

    def pool(self, key: PoolKey) -> Pool | None:
        return self._pools.get(key)

    def pools(self) -> Iterator[Pool]:
        return iter(self._pools.values())

    def pool_of(self, pos: int) -> PoolKey:
        return self._pool_of[pos]

    def mig_mask(self, pos: int) -> int:
        return self._mig[pos]

    def mig_free_slots(self, pos: int, gpu: int) -> int | None:
        """Free MIG memory slots of GPU ``gpu`` of node ``pos`` as a bitmask (``None``: the
        GPU is held whole, by a job or by work outside aitc)."""
        if (self._used[pos] | self._foreign[pos]) >> gpu & 1:
            return None
        return ~self._mig[pos] >> (MIG_MEMORY_SLOTS * gpu) & _SLOT_MASK

    def is_down(self, node: str) -> bool:
        return self._pool_of[self.position(node)][1] == DOWN

    def any_down(self) -> bool:
        """Whether any node is down (or drained) now."""
        return any(key[1] == DOWN and pool.nodes for key, pool in self._pools.items())

    # ------------------------------------------------------------------ updates
    def allocate(self, placement: Placement) -> None:
        """Mark ``placement`` held; ``SchedulingError`` (and no change) if any part is taken."""
        self._hold([self._check_alloc(a) for a in placement.allocs])

    def release(self, placement: Placement) -> None:
        """Return ``placement``; ``SchedulingError`` (and no change) if any part is not held."""
        self._free([self._check_release(a) for a in placement.allocs])

    def _hold(self, plan: Iterable[tuple[int, int, int]]) -> None:
        """Mark (position, GPUs, MIG slots) held, checked already."""
        self._write_nodes()
        self.stamp += 1
        self._held += 1
        for pos, gpus, mig in plan:
            before = self.free_mask(pos).bit_count()
            self._used[pos] |= gpus
            if mig:
                self._mig[pos] |= mig
                self._migbusy[pos] = _busy(self._mig[pos], self.cluster.nodes[pos].gpus)
            self._refresh(pos, before)

    def _free(self, plan: Iterable[tuple[int, int, int]]) -> None:
        """Return (position, GPUs, MIG slots), checked already."""
        self._write_nodes()
        self.version += 1
        self.stamp += 1
        for pos, gpus, mig in plan:
            before = self.free_mask(pos).bit_count()
            self._used[pos] &= ~gpus
            if mig:
                self._mig[pos] &= ~mig
                self._migbusy[pos] = _busy(self._mig[pos], self.cluster.nodes[pos].gpus)
            self._refresh(pos, before)

    def release_all(self, placements: Iterable[Placement]) -> None:
        """Return every one of ``placements``: the same as releasing them one by one, in one
        update per node; ``SchedulingError`` (and no change) if any part is not held or two
        of them hold the same GPU or slot."""
        self._release_plan(self._per_node(placements))

    def released(self, placements: Iterable[Placement]) -> CapacityIndex:
        """A fork of this index with ``placements`` released (``release_all``); where they
        touch most nodes, its pools are built anew from the nodes instead of moving each
        node between buckets (the same contents either way)."""
        plan = self._per_node(placements)
        if len(plan) * 4 >= len(self._used):
            return self._rebuilt(plan)
        out = self.fork()
        out._release_plan(plan)
        return out

    def _rebuilt(self, plan: dict[int, tuple[int, int]]) -> CapacityIndex:
        """A fork with ``plan`` released and its pools made anew from its nodes."""
        self._check_release_plan(plan)
        out = self.overlay()
        out._write_nodes()
        out.version += 1
        out.stamp += 1
        nodes = self.cluster.nodes
        for pos, (gpus, mig) in plan.items():
            out._used[pos] &= ~gpus
            if mig:
                out._mig[pos] &= ~mig
                out._migbusy[pos] = _busy(out._mig[pos], nodes[pos].gpus)
        pools: dict[PoolKey, Pool] = {}
        for key, old in self._pools.items():
            pool = pools[key] = Pool(key)
            pool.leaf_su = old.leaf_su  # (fixed once a leaf is known: shared, as copies do)
            pool.node_gpus = old.node_gpus
        used, foreign, busy, full = out._used, out._foreign, out._migbusy, out._full
        slots = out._mig
        members: dict[PoolKey, list[tuple[int, int, int, int, int, bool]]] = {k: [] for k in pools}
        for pos, key in enumerate(out._pool_of):
            node = nodes[pos]
            free = (full[pos] & ~(used[pos] | foreign[pos] | busy[pos])).bit_count()
            members[key].append((pos, node.leaf, node.su, free, node.gpus, slots[pos] != 0))
        for key, pool in pools.items():
            pool.add_all(members[key])
        out._pools, out._own_pools = pools, set(pools)
        return out

    def _check_release_plan(self, plan: dict[int, tuple[int, int]]) -> None:
        for pos, (gpus, mig) in plan.items():
            if gpus & ~self._used[pos] or mig & ~self._mig[pos]:
                raise SchedulingError(
                    f"{self.cluster.nodes[pos].name}: GPUs {_indices(gpus & ~self._used[pos])} "
                    "or MIG slots released are not held"
                )

    def _release_plan(self, plan: dict[int, tuple[int, int]]) -> None:
        self._check_release_plan(plan)
        self._free([(pos, gpus, mig) for pos, (gpus, mig) in plan.items()])

    def allocate_all(self, placements: Iterable[Placement]) -> None:
        """Hold every one of ``placements``: the same as allocating them one by one, in one
        update per node; ``SchedulingError`` (and no change) if any part is taken."""
        plan = self._per_node(placements)
        for pos, (gpus, mig) in plan.items():
            held = self._used[pos] | self._foreign[pos]
            if gpus & (held | self._migbusy[pos]) or mig & self._mig[pos]:
                raise SchedulingError(f"{self.cluster.nodes[pos].name}: GPUs or slots are held")
            if mig and _busy(mig, self.cluster.nodes[pos].gpus) & (held | gpus):
                raise SchedulingError(f"{self.cluster.nodes[pos].name}: a MIG slice's GPU is held")
        self._hold([(pos, gpus, mig) for pos, (gpus, mig) in plan.items()])

    def _per_node(self, placements: Iterable[Placement]) -> dict[int, tuple[int, int]]:
        """The GPUs and MIG slots ``placements`` name, per node position (each checked as
        ``allocate`` checks it); two that name the same GPU or slot are an error."""
        plan: dict[int, tuple[int, int]] = {}
        for placement in placements:
            for alloc in placement.allocs:
                pos, gpus = self._whole(alloc)
                mig = self._mig_bits(pos, alloc.mig) if alloc.mig is not None else 0
                had_gpus, had_mig = plan.get(pos, (0, 0))
                if had_gpus & gpus or had_mig & mig:
                    raise SchedulingError(f"two placements name the same GPU of {alloc.node}")
                plan[pos] = (had_gpus | gpus, had_mig | mig)
        return plan

    def hold_foreign(self, node: str, gpus: int) -> None:
        """Take ``gpus`` free GPUs of ``node`` for work outside aitc (lowest indices first)."""
        pos = self.position(node)
        free = [i for i in range(self.cluster.nodes[pos].gpus) if self.free_mask(pos) >> i & 1]
        if gpus < 0 or gpus > len(free):
            raise SchedulingError(
                f"cannot hold {gpus} foreign GPUs on {node}: only {len(free)} are free"
            )
        self._write_nodes()
        self.stamp += 1
        before = len(free)
        for i in free[:gpus]:
            self._foreign[pos] |= 1 << i
        self._refresh(pos, before)

    def release_foreign(self, node: str, gpus: int) -> None:
        """Give back ``gpus`` GPUs that work outside aitc held on ``node``."""
        pos = self.position(node)
        held = [i for i in range(self.cluster.nodes[pos].gpus) if self._foreign[pos] >> i & 1]
        if gpus < 0 or gpus > len(held):
            raise SchedulingError(
                f"cannot release {gpus} foreign GPUs on {node}: only {len(held)} are held"
            )
        self._write_nodes()
        self.version += 1
        self.stamp += 1
        before = self.free_mask(pos).bit_count()
        for i in held[len(held) - gpus :]:
            self._foreign[pos] &= ~(1 << i)
        self._refresh(pos, before)

    def withhold(self, pos: int, mask: int, slots: int = 0) -> Withheld:
        """Take free capacity of node ``pos`` out of every query (a pass holds it for a
        reservation, on its overlay): of the GPUs ``mask``, their free whole GPUs and the
        free MIG slots of those that carry slices; and the free memory slots ``slots`` (8 bits
        per GPU) of GPUs not held whole, which then count as carrying slices (no whole-GPU job
        takes them). ``give_back`` returns exactly that."""
        busy = self._used[pos] | self._foreign[pos]
        gpus = self.free_mask(pos) & mask
        taken = 0
        for g in _indices(self._migbusy[pos] & mask & ~busy):
            shift = MIG_MEMORY_SLOTS * g
            taken |= (~self._mig[pos] >> shift & _SLOT_MASK) << shift
        if slots:
            taken |= slots & ~self._mig[pos] & ~_gpu_slots(busy | gpus)
        self._write_nodes()
        self.stamp += 1
        before = self.free_mask(pos).bit_count()
        self._foreign[pos] |= gpus
        self._mig[pos] |= taken
        if slots:
            self._migbusy[pos] = _busy(self._mig[pos], self.cluster.nodes[pos].gpus)
        self._refresh(pos, before)
        return Withheld(pos, gpus, taken)

    def give_back(self, held: Withheld) -> None:
        """Return what ``withhold`` took."""
        pos = held.pos
        self._write_nodes()
        self.version += 1
        self.stamp += 1
        before = self.free_mask(pos).bit_count()
        self._foreign[pos] &= ~held.gpus
        if held.slots:
            self._mig[pos] &= ~held.slots
            self._migbusy[pos] = _busy(self._mig[pos], self.cluster.nodes[pos].gpus)
        self._refresh(pos, before)

    def set_node_down(self, name: str) -> None:
        """The node's capacity leaves every query until ``set_node_up``; allocations stay."""
        self.fence([self.position(name)], DOWN)

    def set_node_up(self, name: str) -> None:
        self.fence([self.position(name)], GENERAL)

    def fence(self, positions: Iterable[int], tag: str) -> None:
        """Move nodes to the pool (their GPU model, ``tag``); a down node stays down."""
        self._write_nodes()
        self.version += 1
        self.stamp += 1
        for pos in positions:
            old = self._pool_of[pos]
            if old[1] == tag or (old[1] == DOWN and tag != GENERAL):
                continue
            node = self.cluster.nodes[pos]
            free = self.free_mask(pos).bit_count()
            self._write_pool(old).remove(
                pos, node.leaf, node.su, free, node.gpus, self._mig[pos] != 0
            )
            new = (old[0], tag)
            self._pool_of[pos] = new
            self._write_pool(new).add(pos, node.leaf, node.su, free, node.gpus, self._mig[pos] != 0)

    # ------------------------------------------------------------------ internals
    def _refresh(self, pos: int, before: int) -> None:
        node = self.cluster.nodes[pos]
        after = self.free_mask(pos).bit_count()
        pool = self._write_pool(self._pool_of[pos])
        pool.move(pos, node.leaf, node.su, before, after, node.gpus, self._mig[pos] != 0)

    def _check_alloc(self, alloc: NodeAlloc) -> tuple[int, int, int]:
        pos, gpus = self._whole(alloc)
        taken = gpus & (self._used[pos] | self._foreign[pos] | self._migbusy[pos])
        if taken:
            raise SchedulingError(f"GPUs {_indices(taken)} of {alloc.node} are already held")
        mig = self._mig_bits(pos, alloc.mig)
        if mig:
            gpu_bit = 1 << alloc.mig.gpu  # type: ignore[union-attr]
            if (self._used[pos] | self._foreign[pos]) & gpu_bit or self._mig[pos] & mig:
                raise SchedulingError(f"MIG slice {alloc.mig} on {alloc.node} is already held")
        return pos, gpus, mig

    def _check_release(self, alloc: NodeAlloc) -> tuple[int, int, int]:
        pos, gpus = self._whole(alloc)
        if gpus & ~self._used[pos]:
            missing = _indices(gpus & ~self._used[pos])
            raise SchedulingError(f"GPUs {missing} of {alloc.node} are not held, cannot release")
        mig = self._mig_bits(pos, alloc.mig)
        if mig & ~self._mig[pos]:
            raise SchedulingError(f"MIG slice {alloc.mig} on {alloc.node} is not held")
        return pos, gpus, mig

    def _whole(self, alloc: NodeAlloc) -> tuple[int, int]:
        """The node's position and the bitmask of the whole GPUs ``alloc`` names (checked:
        a known node, valid indices, none twice), from ``_bits`` after the first time."""
        key = (alloc.node, alloc.gpus)
        try:
            found = self._bits.get(key)
        except TypeError:  # (indices given as a list: not kept)
            pos = self._pos_of(alloc.node)
            return pos, self._gpu_bits(pos, alloc)
        if found is None:
            pos = self._pos_of(alloc.node)
            found = self._bits[key] = (pos, self._gpu_bits(pos, alloc))
        return found

    def _pos_of(self, name: str) -> int:
        try:
            return self.cluster.position(name)
        except CatalogError as exc:
            raise SchedulingError(str(exc)) from None

    def slot_bits(self, node: str, slot: MigSlot) -> int:
        """The memory slots of node ``node`` a MIG slice covers (8 bits per GPU)."""
        return self._mig_bits(self._pos_of(node), slot)

    def _gpu_bits(self, pos: int, alloc: NodeAlloc) -> int:
        bits = 0
        for i in alloc.gpus:
            if not 0 <= i < self.cluster.nodes[pos].gpus or bits >> i & 1:
                raise SchedulingError(f"bad GPU index {i} in placement on {alloc.node}")
            bits |= 1 << i
        return bits

    def _mig_bits(self, pos: int, slot: MigSlot | None) -> int:
        if slot is None:
            return 0
        node = self.cluster.nodes[pos]
        try:
            profile = node.model.gpu.mig(slot.profile)
        except CatalogError as exc:
            raise SchedulingError(str(exc)) from None
        if slot.start not in profile.placements or not 0 <= slot.gpu < node.gpus:
            raise SchedulingError(f"invalid MIG placement {slot} on {node.name}")
        return ((1 << profile.size) - 1) << (slot.start + MIG_MEMORY_SLOTS * slot.gpu)


def _busy(mig: int, gpus: int) -> int:
    """GPUs that carry any MIG slice, as a bitmask."""
    out = 0
    for g in range(gpus):
        if mig >> (MIG_MEMORY_SLOTS * g) & _SLOT_MASK:
            out |= 1 << g
    return out


def _gpu_slots(gpus: int) -> int:
    """All memory slots of the GPUs ``gpus`` (a bitmask)."""
    out = 0
    for g in _indices(gpus):
        out |= _SLOT_MASK << (MIG_MEMORY_SLOTS * g)
    return out


def _indices(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]

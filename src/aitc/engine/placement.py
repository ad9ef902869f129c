"""Placement, the third seam: where a job fits *now*, whether it fits *ever*, and *when*.

Like Slurm's select plugins answering RUN_NOW, TEST_ONLY and WILL_RUN. Placements register by
name (``aitc.engine.registry``) and a policy picks one with its ``placement`` parameter:
``first_fit`` (``FirstFit``, the reference: the lowest-numbered nodes that fit),
``topology`` (``TopologyPlacement``, the default: best fit within a node, then one leaf, then
one scalable unit, then anywhere) and ``pool`` (``aitc.engine.pooled``: all GPUs of a model
as one pool). All only read the capacity index; the caller allocates what they return.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Protocol

from aitc.domain.cluster import Cluster
from aitc.domain.gpu import MIG_MEMORY_SLOTS, gpu_model
from aitc.domain.job import JobRequest, MigSlot, NodeAlloc, Placement
from aitc.engine.capacity import CapacityIndex
from aitc.engine.pool import Pool
from aitc.engine.reasons import impossible_reason
from aitc.engine.registry import register_placement
from aitc.engine.shape import Shape, shape_of
from aitc.engine.view import Reason
from aitc.errors import CatalogError

_SLOTS = (1 << MIG_MEMORY_SLOTS) - 1


class PlacementPolicy(Protocol):
    """Where a job goes. ``fences`` lists the pool tags the job may use, in preference order.

    ``gpus_anywhere``: whether a job that names no node count may take free GPUs on any
    nodes (the walk's size filters then judge it by the free GPUs alone, not by the freest
    node or the idle nodes).
    """

    name: ClassVar[str]
    gpus_anywhere: ClassVar[bool]

    def now(
        self, job: JobRequest, capacity: CapacityIndex, fences: Sequence[str]
    ) -> Placement | None: ...

    def ever(self, job: JobRequest, cluster: Cluster) -> Reason | None: ...


@register_placement
class TopologyPlacement:
    """Best fit inside a node, then one leaf, then one SU, then across SUs."""

    name: ClassVar[str] = "topology"
    gpus_anywhere: ClassVar[bool] = False
    best_fit_single: ClassVar[bool] = True  # a job on one node goes to its best-fitting node

    def ever(self, job: JobRequest, cluster: Cluster) -> Reason | None:
        return impossible_reason(job, cluster)

    def now(
        self, job: JobRequest, capacity: CapacityIndex, fences: Sequence[str]
    ) -> Placement | None:
        gpus = job.gpus
        # most jobs take whole GPUs of one node: best fit without building their shape
        single = self.best_fit_single and job.mig is None and (job.nodes or 1) == 1 and gpus > 0
        for pool in candidate_pools(job, capacity, fences):
            if single and gpus <= pool.node_gpus:
                if gpus <= pool.free:
                    pos = pool.best_fit(gpus)
                    if pos is not None:
                        return lowest_free_gpus(capacity, ((pos, gpus),))
                continue
            shape = shape_of(job, pool.node_gpus)
            if shape is None or shape.gpus > pool.free and shape.mig is None:
                continue
            found = self._in_pool(shape, pool, capacity)
            if found is not None:
                return found
        return None

    def _in_pool(self, shape: Shape, pool: Pool, capacity: CapacityIndex) -> Placement | None:
        if shape.mig is not None:
            return _mig(shape.mig, pool, capacity)
        if shape.node_count == 1:
            pos = pool.best_fit(shape.per_node or shape.remainder)
            return None if pos is None else lowest_free_gpus(capacity, [(pos, shape.gpus)])
        return _multi(shape, pool, capacity)


@register_placement
class FirstFit(TopologyPlacement):
    """The reference placement: the lowest-numbered nodes that fit, whatever the topology.

    A job that fits on one node takes the lowest-numbered node with room; a larger one the
    lowest-numbered idle nodes, and its remainder the lowest-numbered other node with room;
    ``nodes=n`` the lowest-numbered ``n`` nodes with room for their part. MIG slices go as
    under ``topology``.
    """

    name: ClassVar[str] = "first_fit"
    best_fit_single: ClassVar[bool] = False

    def _in_pool(self, shape: Shape, pool: Pool, capacity: CapacityIndex) -> Placement | None:
        if shape.mig is not None:
            return _mig(shape.mig, pool, capacity)
        fits = sorted(p for b in pool.buckets[shape.per_node :] for p in b)
        if len(fits) < shape.count:
            return None
        picks = [(p, shape.per_node) for p in fits[: shape.count]]
        if shape.remainder:
            taken = set(fits[: shape.count])
            rest = (p for b in pool.buckets[shape.remainder :] for p in b if p not in taken)
            extra = min(rest, default=None)
            if extra is None:
                return None
            picks.append((extra, shape.remainder))
        return lowest_free_gpus(capacity, picks)


def candidate_pools(
    job: JobRequest, capacity: CapacityIndex, fences: Sequence[str]
) -> Iterable[Pool]:
    """Pools the job may use, fences in the order given, GPU models in name order."""
    models = capacity.models
    if len(fences) == 1 and len(models) == 1:  # one model, no reservation: one pool at most
        if job.gpu_model is not None and job.gpu_model != models[0]:
            return ()
        pool = capacity.pool((models[0], fences[0]))
        return (pool,) if pool is not None and pool.nodes else ()
    return _pools(job, capacity, fences)


def _pools(job: JobRequest, capacity: CapacityIndex, fences: Sequence[str]) -> Iterable[Pool]:
    for fence in fences:
        for model in capacity.models:
            if job.gpu_model is not None and model != job.gpu_model:
                continue
            pool = capacity.pool((model, fence))
            if pool is not None and pool.nodes:
                yield pool


def lowest_free_gpus(capacity: CapacityIndex, picks: Sequence[tuple[int, int]]) -> Placement:
    """Lowest free GPU indices on each picked node: [(position, GPUs)]."""
    allocs = []
    for pos, count in picks:
        mask = capacity.free_mask(pos)
        gpus = [i for i in range(mask.bit_length()) if mask >> i & 1][:count]
        allocs.append(NodeAlloc(capacity.cluster.nodes[pos].name, tuple(gpus)))
    return Placement(tuple(allocs))


def _multi(shape: Shape, pool: Pool, capacity: CapacityIndex) -> Placement | None:
    """``count`` nodes of ``per_node`` free GPUs (+ a remainder node) in the tightest domain."""
    full = shape.per_node == pool.node_gpus
    by_leaf = pool.leaf_idle if full else _eligible_by_leaf(pool, shape.per_node, capacity)
    domains = _domains(by_leaf, pool)
    for members in domains:
        picked = _pick(members, by_leaf, shape.count)
        if picked is None:
            continue
        if shape.remainder:
            extra = _remainder_node(members, by_leaf, picked, shape.remainder, pool, capacity)
            if extra is None:
                continue
            picked.append(extra)
        picks = [(p, shape.per_node) for p in picked[: shape.count]]
        picks += [(p, shape.remainder) for p in picked[shape.count :]]
        return lowest_free_gpus(capacity, picks)
    return None


def _domains(by_leaf: dict[int, set[int]], pool: Pool) -> list[list[int]]:
    """Candidate domains as lists of leaves: single leaves (fewest eligible first), then
    single SUs, then the whole pool."""
    leaves = sorted((len(v), leaf) for leaf, v in by_leaf.items() if v)
    out: list[list[int]] = [[leaf] for _, leaf in leaves]
    sus: dict[int, list[int]] = {}
    for _, leaf in sorted(leaves, reverse=True):
        sus.setdefault(pool.leaf_su[leaf], []).append(leaf)
    su_size = sorted((sum(len(by_leaf[lf]) for lf in lfs), su) for su, lfs in sus.items())
    out += [sus[su] for _, su in su_size if len(sus[su]) > 1]
    if len(sus) > 1:
        out.append([lf for _, su in sorted(su_size, reverse=True) for lf in sus[su]])
    return out


def _pick(leaves: list[int], by_leaf: dict[int, set[int]], count: int) -> list[int] | None:
    if sum(len(by_leaf[lf]) for lf in leaves) < count:
        return None
    picked: list[int] = []
    for lf in leaves:
        picked += sorted(by_leaf[lf])[: count - len(picked)]
        if len(picked) == count:
            break
    return picked


def _remainder_node(
    leaves: list[int],
    by_leaf: dict[int, set[int]],
    picked: list[int],
    need: int,
    pool: Pool,
    capacity: CapacityIndex,
) -> int | None:
    taken = set(picked)
    wanted = set(leaves)
    nodes = capacity.cluster.nodes
    for k in range(need, len(pool.buckets)):
        fits = sorted(p for p in pool.buckets[k] if p not in taken and nodes[p].leaf in wanted)
        if fits:
            return fits[0]
    return None


def _eligible_by_leaf(pool: Pool, per_node: int, capacity: CapacityIndex) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    nodes = capacity.cluster.nodes
    for bucket in pool.buckets[per_node:]:
        for pos in bucket:
            out.setdefault(nodes[pos].leaf, set()).add(pos)
    return out


def _mig(profile_name: str, pool: Pool, capacity: CapacityIndex) -> Placement | None:
    """A slice on a GPU that already carries slices if one has room, else on a free GPU."""
    try:
        profile = gpu_model(pool.key[0]).mig(profile_name)
    except CatalogError:
        return None
    for pos in sorted(pool.mig_nodes):
        mask, node = capacity.mig_mask(pos), capacity.cluster.nodes[pos]
        for gpu in range(node.gpus):
            slots = mask >> (MIG_MEMORY_SLOTS * gpu) & _SLOTS
            if not slots:
                continue
            for start in profile.placements:
                if not slots & ((1 << profile.size) - 1) << start:
                    return _mig_at(node.name, gpu, profile_name, start)
    fresh = pool.best_fit(1)
    if fresh is None:
        return None
    free = capacity.free_mask(fresh)
    gpu = (free & -free).bit_length() - 1
    return _mig_at(capacity.cluster.nodes[fresh].name, gpu, profile_name, profile.placements[0])


def _mig_at(node: str, gpu: int, profile: str, start: int) -> Placement:
    return Placement((NodeAlloc(node, (), MigSlot(gpu, profile, start)),))

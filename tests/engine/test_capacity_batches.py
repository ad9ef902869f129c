"""Batches on the capacity index, forks, and placement that reads only what is free.

``release_all`` and ``allocate_all`` must leave the index exactly as releasing or allocating
one by one does, and placement must answer the same for the same free capacity however the
index came to hold it: the paper's Tiresias walk relies on both (it keeps one trial index
through a pass instead of releasing the running jobs one by one for every job it tries).
"""

from __future__ import annotations

import pytest
from engine_builders import cluster, job, on
from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.domain.job import JobRequest, MigSlot, NodeAlloc, Placement
from aitc.engine.capacity import CapacityIndex
from aitc.engine.placement import FirstFit, TopologyPlacement
from aitc.engine.pool import GENERAL
from aitc.engine.pooled import PoolPlacement
from aitc.errors import SchedulingError

NODES = 8
FENCES = (GENERAL,)
# shapes the placements are asked for: one GPU, part of a node, a node, nodes, MIG, a gang
SHAPES: tuple[JobRequest, ...] = (
    job("a", 1),
    job("b", 3),
    job("c", 8),
    job("d", 12),
    job("e", 16),
    job("f", 4, nodes=2),
    job("g", mig="1g.10gb"),
)


@st.composite
def holdings(draw: st.DrawFn) -> list[Placement]:
    """Disjoint placements on n1..n8: whole GPUs of one or two nodes, or a MIG slice."""
    free = {f"n{i}": list(range(8)) for i in range(1, NODES + 1)}
    out: list[Placement] = []
    for _ in range(draw(st.integers(0, 24))):
        names = [n for n, g in free.items() if g]
        if not names:
            break
        if draw(st.booleans()) and any(len(g) == 8 for g in free.values()):
            whole = [n for n, g in free.items() if len(g) == 8]
            node = draw(st.sampled_from(whole))
            gpu = free[node].pop()
            start = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6]))
            out.append(Placement((NodeAlloc(node, (), MigSlot(gpu, "1g.10gb", start)),)))
            free[node] = []  # (a node with a slice takes no more in this draw)
            continue
        picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        allocs = []
        for node in picked:
            count = draw(st.integers(1, len(free[node])))
            gpus = draw(st.permutations(free[node]))[:count]
            free[node] = [g for g in free[node] if g not in gpus]
            allocs.append(NodeAlloc(node, tuple(sorted(gpus))))
        out.append(Placement(tuple(allocs)))
    return out


def state(index: CapacityIndex) -> object:
    """Everything placement may read, as plain values (sets as sorted lists)."""
    pools = {}
    for pool in index.pools():
        # each bucket's bitmask (best fit's lowest node) holds exactly the bucket's nodes
        assert pool.lowest == [sum(1 << p for p in b) for b in pool.buckets]
        pools[pool.key] = (
            [sorted(b) for b in pool.buckets],
            {leaf: sorted(nodes) for leaf, nodes in pool.leaf_idle.items() if nodes},
            {leaf: n for leaf, n in pool.leaf_free.items()},
            {su: n for su, n in pool.su_idle.items()},
            sorted(pool.mig_nodes),
            pool.free,
            pool.nodes,
        )
    masks = [(index.free_mask(p), index.mig_mask(p)) for p in range(len(index.cluster.nodes))]
    return masks, pools


def answers(index: CapacityIndex) -> list[object]:
    return [p.now(j, index, FENCES) for p in (TopologyPlacement(), FirstFit()) for j in SHAPES]


@settings(max_examples=150, deadline=None)
@given(holdings(), st.data())
def test_release_all_is_releasing_one_by_one(held: list[Placement], data: st.DataObject) -> None:
    index = CapacityIndex(cluster(NODES))
    for placement in held:
        index.allocate(placement)
    some = data.draw(st.lists(st.sampled_from(held), unique=True) if held else st.just([]))
    kept = state(index)
    one_by_one, at_once = index.fork(), index.fork()
    for placement in some:
        one_by_one.release(placement)
    at_once.release_all(some)
    assert state(at_once) == state(one_by_one)
    assert answers(at_once) == answers(one_by_one)
    # a new index without them: its pools built anew where they touch most nodes
    rebuilt = index.overlay().released(some)
    assert state(rebuilt) == state(one_by_one)
    assert answers(rebuilt) == answers(one_by_one)
    at_once.allocate_all(some)  # and back again
    assert state(at_once) == state(index) == kept


@settings(max_examples=150, deadline=None)
@given(holdings(), st.randoms(use_true_random=False))
def test_placement_reads_only_what_is_free(held: list[Placement], rnd: object) -> None:
    """The same holdings reached in another order, through other states, place the same."""
    forward = CapacityIndex(cluster(NODES))
    for placement in held:
        forward.allocate(placement)
    shuffled = list(held)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    detour = CapacityIndex(cluster(NODES))
    for placement in shuffled:
        detour.allocate(placement)
        if placement is not shuffled[-1]:  # through another state on the way
            detour.release(placement)
            detour.allocate(placement)
    detour = detour.overlay()
    for placement in reversed(shuffled[: len(shuffled) // 2]):
        detour.release(placement)
    detour.allocate_all(reversed(shuffled[: len(shuffled) // 2]))
    assert state(detour) == state(forward)
    assert answers(detour) == answers(forward)


@settings(max_examples=150, deadline=None)
@given(holdings(), st.data())
def test_absorbing_a_pass_is_allocating_its_starts(
    held: list[Placement], data: st.DataObject
) -> None:
    """A pass's overlay that only allocated, taken over by its index (``absorb``), leaves the
    index as allocating the same placements there does; after the index changed, or once
    the overlay did anything else, it is refused and nothing changes."""
    split = data.draw(st.integers(0, len(held)))
    before, starts = held[:split], held[split:]
    index, by_hand = CapacityIndex(cluster(NODES)), CapacityIndex(cluster(NODES))
    for placement in before:
        index.allocate(placement)
        by_hand.allocate(placement)
    plan = index.overlay()
    for placement in starts:
        plan.allocate(placement)
        by_hand.allocate(placement)
    planned = state(plan)
    assert not index.absorb(plan, len(starts) + 1)  # (not what the plan holds)
    assert index.absorb(plan, len(starts))
    assert state(index) == state(by_hand) == planned
    assert answers(index) == answers(by_hand)
    assert index.stamp == by_hand.stamp
    # the plan no longer owns what the index took: writing to it leaves the index alone
    if starts:
        plan.release(starts[0])
        assert state(index) == planned
        index.release(starts[0])  # and the index is its own
        by_hand.release(starts[0])
        assert state(index) == state(by_hand)


def test_absorb_refuses_a_plan_that_did_more_than_allocate_or_is_stale() -> None:
    index = CapacityIndex(cluster(2))
    index.allocate(on(("n1", [0, 1])))
    kept = state(index)
    released = index.overlay()
    released.release(on(("n1", [0, 1])))
    released.allocate(on(("n2", [0])))
    withheld = index.overlay()
    withheld.withhold(1, 0b1100)
    withheld.allocate(on(("n2", [0])))
    fenced = index.overlay()
    fenced.fence([1], "shadow")
    fenced.allocate(on(("n1", [2])))
    stale = index.overlay()
    stale.allocate(on(("n2", [1])))
    other = CapacityIndex(cluster(2)).overlay()
    other.allocate(on(("n2", [1])))
    for plan in (released, withheld, fenced, other):
        assert not index.absorb(plan, 1)
        assert state(index) == kept
    index.allocate(on(("n1", [7])))  # the index moved on since ``stale`` was made
    assert not index.absorb(stale, 1)


def test_release_all_refuses_what_is_not_held_and_changes_nothing() -> None:
    index = CapacityIndex(cluster(2))
    index.allocate(on(("n1", [0, 1])))
    before = state(index)
    with pytest.raises(SchedulingError, match="not held"):
        index.release_all([on(("n1", [0, 1])), on(("n2", [5]))])
    with pytest.raises(SchedulingError, match="same GPU of n1"):
        index.release_all([on(("n1", [0])), on(("n1", [0]))])
    with pytest.raises(SchedulingError, match="not held"):
        index.released([on(("n1", [0, 1])), on(("n2", [5]))])
    assert state(index) == before


def test_allocate_all_refuses_what_is_taken_and_changes_nothing() -> None:
    index = CapacityIndex(cluster(2))
    index.allocate(on(("n1", [0, 1])))
    before = state(index)
    with pytest.raises(SchedulingError, match="n1: GPUs or slots are held"):
        index.allocate_all([on(("n2", [0, 1])), on(("n1", [1, 2]))])
    with pytest.raises(SchedulingError, match="same GPU of n2"):
        index.allocate_all([on(("n2", [3])), on(("n2", [3, 4]))])
    with pytest.raises(SchedulingError, match="bad GPU index 9"):
        index.allocate_all([on(("n2", [9]))])
    slice_on_gpu_3 = Placement((NodeAlloc("n2", (), MigSlot(3, "1g.10gb", 0)),))
    with pytest.raises(SchedulingError, match="MIG slice's GPU is held"):
        index.allocate_all([on(("n2", [3])), slice_on_gpu_3])
    assert state(index) == before


def test_a_fork_outlives_changes_to_its_original() -> None:
    """Unlike an overlay, a fork may be read while the index it came from changes."""
    index = CapacityIndex(cluster(4))
    plan = index.overlay()
    plan.allocate(on(("n1", [0])))
    fork = plan.fork()
    kept = state(fork)
    plan.allocate(on(("n2", range(8)), ("n3", [0, 1])))
    plan.release(on(("n1", [0])))
    assert state(fork) == kept
    fork.allocate(on(("n4", range(8))))
    assert plan.free_gpus("n4") == 8 and index.free_gpus("n4") == 8


def test_checked_allocations_are_remembered_per_cluster_and_bad_ones_never() -> None:
    index = CapacityIndex(cluster(2))
    with pytest.raises(SchedulingError, match="bad GPU index 8"):
        index.allocate(on(("n1", [8])))
    with pytest.raises(SchedulingError, match="bad GPU index 1"):
        index.allocate(on(("n1", [1, 1])))
    with pytest.raises(SchedulingError, match="n9"):
        index.allocate(on(("n9", [0])))
    index.overlay().allocate(on(("n1", [0, 1])))  # an overlay shares what the index learnt
    assert index._bits == {("n1", (0, 1)): (0, 0b11)}
    index.allocate(Placement((NodeAlloc("n2", [2, 3]),)))  # type: ignore[arg-type]
    assert index.free_gpus("n2") == 6 and len(index._bits) == 1  # (a list is not kept)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_placements_read_only_what_is_free_on_a_large_cluster(data: st.DataObject) -> None:
    """Every placement answers the same however the index came to hold what it holds, on a
    cluster large enough for a set's own order to depend on that; pooled GPUs go fullest
    node first and, of equally full nodes, lowest-numbered first."""
    nodes = 64
    sizes = st.tuples(st.integers(1, nodes), st.integers(1, 7))
    held = data.draw(st.lists(sizes, unique_by=lambda t: t[0], max_size=48))
    placements = [on((f"n{node}", list(range(k)))) for node, k in held]
    direct, detour = CapacityIndex(cluster(nodes)), CapacityIndex(cluster(nodes))
    for placement in placements:
        direct.allocate(placement)
    taken = {node for node, _ in held}
    others = data.draw(st.lists(st.integers(1, nodes), unique=True, max_size=16))
    passing = [on((f"n{node}", list(range(8)))) for node in others if node not in taken]
    for placement in passing + data.draw(st.permutations(placements)):
        detour.allocate(placement)
    for placement in passing:  # (those nodes went through other buckets on the way)
        detour.release(placement)
    for placer in (TopologyPlacement(), FirstFit()):  # (they sort what they read)
        for shape in SHAPES:
            assert placer.now(shape, direct, FENCES) == placer.now(shape, detour, FENCES)
    pooled = PoolPlacement()
    for gpus in (1, 3, 9, 17, 40):
        here = pooled.now(job("x", gpus), direct, FENCES)
        assert here == pooled.now(job("x", gpus), detour, FENCES)
        if here is not None:
            order = [
                (direct.free_mask(direct.position(a.node)).bit_count(), a.node) for a in here.allocs
            ]
            ranks = [(free, int(name[1:])) for free, name in order]
            assert ranks == sorted(ranks)  # fullest first, then the lowest-numbered

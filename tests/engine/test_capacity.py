"""The capacity index: exact bookkeeping, copy-on-write overlays, down nodes, foreign work."""

import pytest
from engine_builders import cluster, on

from aitc.domain.job import MigSlot, NodeAlloc, Placement
from aitc.engine.capacity import CapacityIndex
from aitc.errors import SchedulingError


def test_allocate_and_release_update_free_counts():
    index = CapacityIndex(cluster(2))
    index.allocate(on(("n1", [0, 1, 2])))
    assert (index.free_gpus("n1"), index.free_gpus("n2"), index.total_free()) == (5, 8, 13)
    index.release(on(("n1", [0, 1, 2])))
    assert index.total_free() == 16


def test_double_allocation_is_refused_and_changes_nothing():
    index = CapacityIndex(cluster(2))
    index.allocate(on(("n1", [3])))
    with pytest.raises(SchedulingError, match="already held"):
        index.allocate(on(("n2", [0]), ("n1", [3])))
    assert index.free_gpus("n2") == 8


def test_releasing_what_is_not_held_is_refused():
    index = CapacityIndex(cluster(1))
    with pytest.raises(SchedulingError, match="not held"):
        index.release(on(("n1", [0])))


def test_overlay_writes_never_reach_the_driver_index():
    index = CapacityIndex(cluster(2))
    view = index.overlay()
    view.allocate(on(("n1", range(8))))
    view.set_node_down("n2")
    assert (view.total_free(), index.total_free()) == (0, 16)
    assert index.pool(("H100-80GB", "")).idle_nodes == 2  # type: ignore[union-attr]


def test_a_down_node_offers_nothing_until_it_is_up_again():
    index = CapacityIndex(cluster(2))
    index.set_node_down("n1")
    assert (index.free_gpus("n1"), index.total_free()) == (0, 8)
    index.set_node_up("n1")
    assert index.total_free() == 16


def test_foreign_gpus_are_not_free_until_released():
    index = CapacityIndex(cluster(1))
    index.hold_foreign("n1", 3)
    assert index.free_gpus("n1") == 5
    with pytest.raises(SchedulingError, match="already held"):
        index.allocate(on(("n1", [0])))
    index.release_foreign("n1", 3)
    assert index.free_gpus("n1") == 8


def test_mig_slices_conflict_only_when_their_memory_slots_overlap():
    index = CapacityIndex(cluster(1))

    def slice_at(profile: str, start: int) -> Placement:
        return Placement((NodeAlloc("n1", (), MigSlot(0, profile, start)),))

    index.allocate(slice_at("3g.40gb", 0))
    index.allocate(slice_at("3g.40gb", 4))
    with pytest.raises(SchedulingError, match="already held"):
        index.allocate(slice_at("1g.10gb", 2))
    assert index.free_gpus("n1") == 7  # GPU 0 carries slices, so it is not free whole
    with pytest.raises(SchedulingError, match="already held"):
        index.allocate(on(("n1", [0])))

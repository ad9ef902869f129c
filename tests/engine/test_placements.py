"""Placements by name: ``first_fit`` takes the lowest nodes, ``pool`` any free GPUs anywhere."""

from __future__ import annotations

import pytest
from engine_builders import Rig, cluster, job, mig_start, on, start
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import Loop, build

from aitc.engine import make_scheduler
from aitc.engine.registry import PLACEMENTS, placement_class
from aitc.engine.scheduler import Scheduler
from aitc.errors import ConfigError


def first_pass(rig: Rig, placement: str, policy: str = "tiresias") -> list:
    return Scheduler(policy, params={"placement": placement}).schedule(rig.view())


def test_placements_are_found_by_name_in_one_registry():
    assert list(PLACEMENTS) == ["topology", "first_fit", "pool"]
    assert placement_class("pool").name == "pool"
    with pytest.raises(ConfigError, match="unknown placement 'random' \\(known: topology"):
        placement_class("random")
    with pytest.raises(ConfigError, match="must be one of topology, first_fit, pool"):
        make_scheduler("fifo", placement="random")


# ---------------------------------------------------------------------- first_fit
@pytest.mark.parametrize(
    ("gpus", "nodes", "expected"),
    [
        (2, None, [("n1", [1, 2])]),  # the lowest node with room, not the fullest
        (16, None, [("n2", range(8)), ("n3", range(8))]),  # the lowest idle nodes
        (12, None, [("n2", range(8)), ("n1", range(1, 5))]),  # remainder: lowest other node
        (8, 2, [("n1", range(1, 5)), ("n2", range(4))]),  # nodes=2: the lowest two with room
    ],
)
def test_first_fit_takes_the_lowest_numbered_nodes_that_fit(gpus, nodes, expected):
    rig = Rig(cluster(6, per_leaf=2, leaves_per_su=2))
    rig.run_job(job("x", 1), on(("n1", [0])))
    rig.run_job(job("y", 7), on(("n5", range(7))))  # topology would put 2 GPUs here
    rig.submit(job("a", gpus, nodes=nodes))
    assert first_pass(rig, "first_fit") == [start("a", *expected)]


def test_first_fit_places_mig_slices_as_topology_does():
    rig = Rig(cluster(2))
    rig.submit(job("a", mig="3g.40gb"), job("b", mig="1g.10gb"))
    assert first_pass(rig, "first_fit") == first_pass(rig, "topology")
    assert first_pass(rig, "first_fit")[0] == mig_start("a", "n1", 0, "3g.40gb", 0)


# ---------------------------------------------------------------------- pool
def test_pool_starts_a_job_on_gpus_spread_over_nodes_fullest_first():
    rig = Rig(cluster(4))
    rig.run_job(job("x", 5), on(("n1", range(5))))  # n1: 3 free
    rig.run_job(job("y", 7), on(("n2", range(7))))  # n2: 1 free
    rig.run_job(job("z", 8), on(("n3", range(8))))
    rig.run_job(job("w", 4), on(("n4", range(4))))  # n4: 4 free
    rig.submit(job("a", 6))
    assert first_pass(rig, "topology") == []  # no node has 6 free GPUs
    assert first_pass(rig, "pool") == [start("a", ("n2", [7]), ("n1", [5, 6, 7]), ("n4", [4, 5]))]


def test_pool_ignores_leaves_and_units_but_keeps_node_counts_and_mig_slices():
    rig = Rig(cluster(4, per_leaf=1, leaves_per_su=1))  # one node per leaf and unit
    for name, node in (("x", "n1"), ("y", "n2"), ("z", "n3"), ("w", "n4")):
        rig.run_job(job(name, 6), on((node, range(6))))
    rig.submit(job("a", 8), job("b", 2, nodes=1), job("c", mig="1g.10gb"))
    assert first_pass(rig, "pool") == [
        start("a", ("n1", [6, 7]), ("n2", [6, 7]), ("n3", [6, 7]), ("n4", [6, 7])),
    ]
    rig.submit(job("d", 4, nodes=2))  # 2 GPUs on each of two nodes: none are left
    assert [a.job_id for a in first_pass(rig, "pool", "fifo")] == [rig.pending[0].id]


def test_pool_never_mixes_gpu_models():
    rig = Rig(cluster(2, models=["dgx-a100", "dgx-h100"]))
    rig.run_job(job("x", 4), on(("n1", range(4))))
    rig.run_job(job("y", 4), on(("n2", range(4))))
    rig.submit(job("a", 6))  # 8 GPUs free, but 4 of each model
    assert first_pass(rig, "pool") == []


def test_every_placement_rejects_the_same_impossible_jobs():
    rig = Rig(cluster(2))
    rig.submit(job("a", 24), job("b", 12, nodes=1), job("c", 6, nodes=4), job("d", 16))
    impossible = {
        p: Scheduler("fifo", params={"placement": p}).impossible(rig.view()) for p in PLACEMENTS
    }
    assert set(impossible.values()) == {(rig.pending[0].id, rig.pending[1].id, rig.pending[2].id)}


@settings(max_examples=30, deadline=None)
@given(
    specs=st.lists(
        st.tuples(
            st.integers(0, 400),
            st.sampled_from([1, 1, 2, 3, 4, 5, 8, 12, 16, 0]),
            st.integers(10, 400),
            st.just(1.0),
            st.booleans(),
            st.sampled_from(["a", "b"]),
        ),
        min_size=1,
        max_size=25,
    ),
    policy=st.sampled_from(["fifo", "backfill", "sjf", "tiresias", "quota"]),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 2)),
)
def test_pool_never_over_allocates_and_starts_a_job_whenever_enough_gpus_are_free(
    specs, policy, shape
):
    """The naive reference: a plain job fits under ``pool`` exactly when the cluster has as
    many free GPUs as it asks for (one GPU model here)."""
    loop = build(specs, policy, shape)
    loop.scheduler = make_scheduler(policy, organisations=loop.rig.organisations, placement="pool")

    def check(loop: Loop) -> None:  # (the loop itself recounts every GPU after each pass)
        view = loop.rig.view()
        free = view.capacity.total_free()
        plain = [j for j in view.pending if j.mig is None and j.submit <= view.now]
        placer = loop.scheduler.policy.placement
        for j in plain:
            fits = placer.now(j, view.capacity, ("",)) is not None
            assert fits == (j.gpus <= free), (j.gpus, free)

    loop.run(on_pass=check)

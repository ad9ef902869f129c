"""Placement: gang, pack within a node, then a leaf, then an SU; whole nodes; MIG; GPU model."""

import pytest
from engine_builders import Rig, cluster, jid, job, mig_start, on, start

from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Start


def first_pass(rig: Rig, policy: str = "greedy") -> list:
    return Scheduler("tiresias" if policy == "greedy" else policy).schedule(rig.view())


def test_a_job_goes_to_the_fullest_node_that_fits_it():
    rig = Rig(cluster(3))
    rig.run_job(job("x", 6), on(("n1", range(6))))
    rig.run_job(job("y", 4), on(("n2", range(4))))
    rig.submit(job("a", 2), job("b", 3))
    assert first_pass(rig) == [start("a", ("n1", [6, 7])), start("b", ("n2", [4, 5, 6]))]


@pytest.mark.parametrize(
    ("gpus", "nodes", "expected"),
    [
        (16, None, [("n3", range(8)), ("n4", range(8))]),  # one leaf, whole nodes
        (12, None, [("n2", range(8)), ("n1", range(1, 5))]),  # 8 + 4 fit the tighter leaf 0
        (8, 2, [("n1", range(1, 5)), ("n2", range(4))]),  # nodes=2: 4 + 4 in one leaf
        (24, None, [("n3", range(8)), ("n4", range(8)), ("n2", range(8))]),  # one SU
    ],
)
def test_multi_node_jobs_stay_in_the_tightest_domain(gpus, nodes, expected):
    rig = Rig(cluster(6, per_leaf=2, leaves_per_su=2))
    rig.run_job(job("x", 1), on(("n1", [0])))  # leaf 0 has one idle node, leaf 1 two
    rig.submit(job("a", gpus, nodes=nodes))
    assert first_pass(rig) == [start("a", *expected)]


def test_a_gang_gets_all_its_gpus_or_none():
    rig = Rig(cluster(2))
    rig.run_job(job("x", 1), on(("n1", [0])))
    rig.submit(job("a", 16))
    assert first_pass(rig) == []


def test_mig_slices_pack_onto_gpus_that_already_carry_slices():
    rig = Rig(cluster(1))
    rig.submit(job("a", mig="3g.40gb"), job("b", mig="1g.10gb"), job("c", mig="3g.40gb"))
    assert first_pass(rig) == [
        mig_start("a", "n1", 0, "3g.40gb", 0),
        mig_start("b", "n1", 0, "1g.10gb", 4),
        mig_start("c", "n1", 1, "3g.40gb", 0),
    ]


def test_a_gpu_model_constraint_picks_nodes_of_that_model():
    rig = Rig(cluster(2, models=["dgx-a100", "dgx-h100"]))
    rig.submit(job("a", 2, model="H100-80GB"), job("b", 2, model="A100-80GB"))
    assert first_pass(rig) == [start("a", ("n2", [0, 1])), start("b", ("n1", [0, 1]))]


def test_first_fit_is_the_reference_placement():
    rig = Rig(cluster(2))
    rig.run_job(job("x", 6), on(("n2", range(6))))
    rig.submit(job("a", 2))
    actions = Scheduler("fifo", params={"placement": "first_fit"}).schedule(rig.view())
    assert actions == [Start(jid("a"), on(("n1", [0, 1])))]


def test_down_nodes_and_foreign_gpus_are_never_offered():
    rig = Rig(cluster(3))
    rig.capacity.set_node_down("n1")
    rig.capacity.hold_foreign("n2", 6)
    rig.submit(job("a", 2), job("b", 4))
    assert first_pass(rig) == [start("a", ("n2", [6, 7])), start("b", ("n3", range(4)))]

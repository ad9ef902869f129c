"""Reasons: every pending job says why it waits, in words; impossible jobs are reported."""

import pytest
from engine_builders import Rig, cluster, job, on, org

from aitc.engine import POLICIES, make_scheduler
from aitc.engine.view import ReasonCode as R
from aitc.errors import ConfigError


def reasons_for(rig: Rig, policy: str = "tiresias", **params) -> dict:
    scheduler = make_scheduler(policy, **params)
    why = scheduler.run(rig.view()).reasons()
    return {j.name: [(r.code, r.message) for r in why[j.id]] for j in rig.pending}


def test_each_kind_of_wait_has_its_own_reason_and_sentence():
    rig = Rig(cluster(3))
    for i, node in enumerate(["n1", "n2", "n3"]):
        rig.run_job(job(f"r{i}", 5), on((node, range(5))))  # 3 free GPUs on each node
    rig.submit(
        job("four", 4),
        job("gang", 16),
        job("many", 12),
        job("huge", 64),
        job("alien", 1, model="B200-180GB"),
        job("slice", mig="9g.1tb"),
    )
    got = reasons_for(rig)
    assert got["four"] == [
        (
            R.NO_CONTIGUOUS_PLACEMENT,
            "9 GPUs are free, but they are spread "
            "out: the fullest free node has 3, and this job needs 4 GPUs on "
            "one node.",
        )
    ]
    assert got["gang"] == [
        (R.NOT_ENOUGH_GPUS, "It needs 16 GPUs and only 9 GPUs are free right now.")
    ]
    assert got["many"][0][0] is R.NOT_ENOUGH_GPUS
    assert got["huge"] == [
        (
            R.IMPOSSIBLE,
            "This job can never run on this cluster: it asks "
            "for 64 GPUs but the cluster has only 24.",
        )
    ]
    assert got["alien"][0][0] is R.IMPOSSIBLE and "B200-180GB" in got["alien"][0][1]
    assert got["slice"][0][0] is R.IMPOSSIBLE and "9g.1tb" in got["slice"][0][1]


def test_a_gang_that_fits_in_free_gpus_but_not_on_free_nodes_is_too_large():
    rig = Rig(cluster(4))
    rig.run_job(job("r", 1), on(("n1", [0])))
    rig.run_job(job("s", 1), on(("n2", [0])))
    rig.submit(job("gang3", 24))
    got = reasons_for(rig)
    assert got["gang3"] == [
        (
            R.GANG_TOO_LARGE,
            "This job needs 24 GPUs started together on "
            "whole nodes; 30 GPUs are free but only 2 nodes are completely "
            "free.",
        )
    ]


def test_impossible_jobs_are_listed_for_the_driver_to_reject():
    rig = Rig(cluster(2)).submit(job("ok", 8), job("huge", 17), job("odd", 9, nodes=2))
    assert make_scheduler("fifo").impossible(rig.view()) == (rig.pending[1].id, rig.pending[2].id)
    assert make_scheduler("fifo").schedule(rig.view())[0].job_id == rig.pending[0].id


def test_quota_reasons_name_the_quota():
    rig = Rig(cluster(2)).submit(job("a", 8, org="a"))
    why = (
        make_scheduler("quota", organisations=[org("a", quota=4, borrow=2)])
        .run(rig.view())
        .reasons()
    )
    assert why[rig.pending[0].id][0].message == (
        "Organisation a already uses 0 GPUs of its quota of 4 (borrowing up to 2 GPUs); this "
        "job needs 8 GPUs more."
    )


def test_unknown_policies_and_parameters_are_config_errors_naming_the_known_ones():
    with pytest.raises(ConfigError, match="unknown scheduling policy 'lottery'.*fifo"):
        make_scheduler("lottery")
    with pytest.raises(ConfigError, match="unknown parameter 'half_life'.*thresholds"):
        make_scheduler("tiresias", half_life=3)
    with pytest.raises(ConfigError, match="queue: must be one of"):
        make_scheduler("fifo", queue="random")


def test_every_builtin_policy_is_registered_by_name():
    assert set(POLICIES) >= {"fifo", "backfill", "fairshare", "tiresias", "quota"}


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        ({"gpus": 17}, "it asks for 17 GPUs but the cluster has only 16"),
        ({"gpus": 9, "nodes": 2}, "9 GPUs cannot be split evenly over 2 nodes"),
        ({"gpus": 12, "nodes": 1}, "12 GPUs on 1 node(s) needs more than the 8 GPUs a node has"),
        ({"gpus": 3, "nodes": 3}, "it asks for 3 nodes but the cluster has only 2"),
        ({"gpus": 0}, "it asks for no GPU and no MIG slice"),
    ],
)
def test_impossible_jobs_say_what_makes_them_impossible(request_, why):
    rig = Rig(cluster(2)).submit(job("imp", **request_))
    reasons = make_scheduler("fifo").run(rig.view()).reasons()[rig.pending[0].id]
    assert [(r.code, r.message) for r in reasons] == [
        (R.IMPOSSIBLE, f"This job can never run on this cluster: {why}.")
    ]

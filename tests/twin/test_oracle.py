"""``--oracle``: every job's time limit is its true runtime, and nobody is killed at it."""

from __future__ import annotations

from twin_builders import cluster, job

from aitc.twin.loop import TwinConfig
from aitc.twin.runner import simulate
from aitc.twin.trace import ListSource, Oracle


def test_the_oracle_gives_each_job_its_runtime_as_its_time_limit() -> None:
    source = Oracle(ListSource((job(1, runs=100, limit=3600), job(2, runs=5, at=1))))
    assert [(j.request.time_limit, j.runtime) for j in source.jobs()] == [(100, 100), (5, 5)]


def test_sjf_with_the_oracle_runs_the_truly_shortest_job_first() -> None:
    jobs = (
        job(1, runs=100),  # holds the node
        job(2, runs=500, at=1, limit=600),
        job(3, runs=50, at=2, limit=3600),  # asks for more than job 2, runs far shorter
    )
    config = TwinConfig(kill_at_time_limit=False)
    asked = simulate(cluster(1), ListSource(jobs), "sjf", record=True).events
    oracle = simulate(cluster(1), Oracle(ListSource(jobs)), "sjf", config=config, record=True)
    assert [e for e in asked if e[1] == "start"] == [
        (0, "start", 1),
        (100, "start", 2),
        (600, "start", 3),
    ]
    assert [e for e in oracle.events or [] if e[1] == "start"] == [
        (0, "start", 1),
        (100, "start", 3),
        (150, "start", 2),
    ]


def test_a_job_slowed_past_its_oracle_limit_runs_to_its_end() -> None:
    two_leaves = cluster(2, per_leaf=1, per_su=2)  # a 16-GPU job crosses leaves: 5 % slower
    source = Oracle(ListSource((job(1, gpus=16, runs=100),)))
    killed = simulate(two_leaves, source, "fifo", record=True)
    kept = simulate(
        two_leaves, source, "fifo", config=TwinConfig(kill_at_time_limit=False), record=True
    )
    assert (killed.events or [])[-1] == (100, "timeout", 1)
    assert (kept.events or [])[-1] == (105, "end", 1)

"""The event loop, SimPy style: a tiny scenario, run it, compare the exact (time, event) list."""

from __future__ import annotations

from dataclasses import replace

import pytest
from twin_builders import cluster, job, run

from aitc.domain.dependency import Dependency
from aitc.domain.reservation import Reservation
from aitc.engine.registry import make_scheduler
from aitc.errors import TraceError
from aitc.twin.locality import LocalityModel
from aitc.twin.loop import Twin, TwinConfig
from aitc.twin.trace import TraceJob


def test_a_job_on_an_idle_cluster_runs_at_once_for_its_runtime() -> None:
    assert run([job(1, runs=100)]).events == [(0, "arrive", 1), (0, "start", 1), (100, "end", 1)]


def test_fifo_job_waits_until_the_gpus_it_needs_come_back() -> None:
    result = run([job(1, gpus=16, runs=100), job(2, gpus=1, at=10, runs=5)])
    assert result.events == [
        (0, "arrive", 1),
        (0, "start", 1),
        (10, "arrive", 2),
        (100, "end", 1),
        (100, "start", 2),
        (105, "end", 2),
    ]


def test_a_job_spread_across_leaves_runs_longer_by_the_leaf_penalty() -> None:
    two_leaves = cluster(2, per_leaf=1, per_su=2)
    assert run([job(1, gpus=16, runs=100)], on=two_leaves).events[-1] == (105, "end", 1)


def test_a_job_spread_across_sus_runs_longer_by_the_su_penalty() -> None:
    two_sus = cluster(2, per_leaf=1, per_su=1)
    config = TwinConfig(locality=LocalityModel(leaf_penalty=0.05, su_penalty=0.5))
    result = run([job(1, gpus=16, runs=100)], on=two_sus, config=config)
    assert result.events[-1] == (150, "end", 1)
    assert result.jobs.loc[0, ["nodes", "leaves", "sus"]].tolist() == [2, 2, 2]


def test_a_job_within_one_leaf_is_not_slowed() -> None:
    assert run([job(1, gpus=16, runs=100)], on=cluster(2)).events[-1] == (100, "end", 1)


def test_a_job_larger_than_the_cluster_is_rejected_and_the_run_goes_on() -> None:
    result = run([job(1, gpus=32), job(2, gpus=8, at=5, runs=100)])
    assert result.events == [
        (0, "arrive", 1),
        (0, "reject", 1),
        (5, "arrive", 2),
        (5, "start", 2),
        (105, "end", 2),
    ]
    assert (result.summary["rejected_jobs"], result.summary["jobs_completed"]) == (1, 1)


def test_a_job_is_stopped_at_its_time_limit() -> None:
    result = run([job(1, runs=100, limit=50)])
    assert result.events[-1] == (50, "timeout", 1)
    assert result.summary["jobs_timed_out"] == 1


def test_a_preempted_job_resumes_its_remaining_work_after_the_overhead() -> None:
    result = run(
        [job(1, gpus=16, runs=100, preemptible=True), job(2, gpus=16, at=10, runs=20)],
        config=TwinConfig(preempt_overhead_s=60),
    )
    # job 1 did 10 s of work; it resumes at 30 with 60 s of restore, then 90 s of work
    assert result.events == [
        (0, "arrive", 1),
        (0, "start", 1),
        (10, "arrive", 2),
        (10, "preempt", 1),
        (10, "start", 2),
        (30, "end", 2),
        (30, "start", 1),
        (180, "end", 1),
    ]
    assert result.jobs["preemptions"].tolist() == [1, 0]


def test_reserved_gpus_wait_for_their_organisation() -> None:
    reservation = Reservation("r", "b", start=100, end=200, gpus=8)
    result = run(
        [
            job(1, runs=50, limit=3600),
            job(2, runs=50, limit=3600),
            job(3, at=100, org="b", runs=30),
        ],
        reservations=(reservation,),
    )
    # job 2 may not take the reserved node (its time limit overlaps the window)
    assert result.events == [
        (0, "arrive", 1),
        (0, "arrive", 2),
        (0, "start", 1),
        (50, "end", 1),
        (50, "start", 2),
        (100, "end", 2),
        (100, "arrive", 3),
        (100, "reserve", "r"),
        (100, "start", 3),
        (130, "end", 3),
        (200, "release", "r"),
    ]
    assert result.summary["reservations"] == {
        "count": 1,
        "jobs": 1,
        "started_on_arrival": 1,
        "avg_wait_s": 0.0,
    }


def test_events_of_one_instant_keep_their_order_and_ends_come_before_starts() -> None:
    result = run([job(2, at=0, runs=10), job(1, at=0, runs=10), job(3, at=0, runs=10)])
    # two 8-GPU nodes: job 3 starts once the first two have ended, at the same instant
    assert result.events == [
        (0, "arrive", 2),
        (0, "arrive", 1),
        (0, "arrive", 3),
        (0, "start", 2),
        (0, "start", 1),
        (10, "end", 2),
        (10, "end", 1),
        (10, "start", 3),
        (20, "end", 3),
    ]


def test_every_job_leaves_exactly_one_row() -> None:
    result = run([job(1, gpus=32), job(2, runs=5), job(3, gpus=16, at=1, runs=5)])
    assert result.jobs[["job_id", "state"]].values.tolist() == [
        [1, "rejected"],
        [2, "completed"],
        [3, "completed"],
    ]
    assert result.jobs.loc[2, ["start", "wait", "jct"]].tolist() == [5, 4, 9]


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "tiresias", "quota"])
def test_every_policy_completes_a_small_mixed_workload(policy: str) -> None:
    jobs = [
        job(i, gpus=(1, 2, 8, 16)[i % 4], at=7 * i, runs=50 + 13 * i, org="ab"[i % 2])
        for i in range(1, 25)
    ]
    result = run(jobs, policy=policy)
    assert result.summary["jobs_completed"] == 24
    assert result.summary["unfinished_jobs"] == 0


def test_a_source_out_of_submit_order_is_a_trace_error() -> None:
    jobs = iter([job(1, at=50), job(2, at=10)])
    twin = Twin(cluster(), make_scheduler("fifo"), jobs)
    with pytest.raises(TraceError, match="job 2 .* must be sorted by submit time"):
        twin.run()


def test_a_dependent_job_starts_when_its_job_ends_and_is_rejected_when_it_cannot_hold() -> None:
    def after(trace_job: TraceJob, text: str) -> TraceJob:
        request = replace(trace_job.request, dependency=Dependency.parse(text))
        return TraceJob(request, trace_job.runtime)

    jobs = [
        job(1, gpus=1, runs=100, limit=50),  # times out at 50
        after(job(2, gpus=1, at=10, runs=5), "afterany:1"),
        after(job(3, gpus=1, at=10, runs=5), "afterok:1"),
        after(job(4, gpus=1, at=10, runs=5), "afterok:3"),  # its job never runs: neither does it
    ]
    result = run(jobs)
    assert result.events == [
        (0, "arrive", 1),
        (0, "start", 1),
        (10, "arrive", 2),
        (10, "arrive", 3),
        (10, "arrive", 4),
        (50, "timeout", 1),
        (50, "reject", 3),
        (50, "reject", 4),
        (50, "start", 2),
        (55, "end", 2),
    ]


def test_a_job_after_another_with_minutes_starts_that_long_after_its_start() -> None:
    def after(trace_job: TraceJob, text: str) -> TraceJob:
        request = replace(trace_job.request, dependency=Dependency.parse(text))
        return TraceJob(request, trace_job.runtime)

    jobs = [
        job(1, gpus=1, at=30, runs=1000),
        after(job(2, gpus=1, at=40, runs=5), "after:1+2"),  # 2 minutes after job 1 started
    ]
    assert run(jobs).events == [
        (30, "arrive", 1),
        (30, "start", 1),
        (40, "arrive", 2),
        (150, "start", 2),
        (155, "end", 2),
        (1030, "end", 1),
    ]


def test_a_job_with_a_begin_time_starts_at_it_on_an_idle_cluster() -> None:
    late = TraceJob(replace(job(2, runs=10).request, begin=50.0), 10.0)
    assert run([job(1, gpus=1, runs=5), late]).events == [
        (0, "arrive", 1),
        (0, "arrive", 2),
        (0, "start", 1),  # and not job 2, though the GPUs are free
        (5, "end", 1),
        (50, "start", 2),
        (60, "end", 2),
    ]

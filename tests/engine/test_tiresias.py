"""tiresias: least attained service first, in discrete queues, with promotion and preemption."""

import pytest
from engine_builders import Rig, cluster, job, on, start

from aitc.domain.job import Priority
from aitc.engine import make_scheduler
from aitc.engine.view import Preempt


def ran(rig: Rig, request, seconds: float) -> None:
    """The job ran for ``seconds`` before (and was preempted); it is pending again."""
    rig.ledger.job_started(request, 0.0)
    rig.ledger.job_stopped(request.id, seconds)


def test_a_job_that_has_run_long_waits_behind_a_fresh_one():
    rig = Rig(cluster(1))
    old, new = job("old", 8, submit=0.0), job("new", 8, submit=50.0)
    ran(rig, old, 1000.0)  # 8 GPUs x 1000 s = 8000 GPU-s: queue 1 (threshold 3600)
    rig.now = 1000.0
    rig.submit(old, new)
    assert make_scheduler("tiresias").schedule(rig.view()) == [start("new", ("n1", range(8)))]
    assert make_scheduler("fifo").schedule(rig.view()) == [start("old", ("n1", range(8)))]


def test_thresholds_are_configurable():
    rig = Rig(cluster(1))
    old, new = job("old", 8), job("new", 8, submit=50.0)
    ran(rig, old, 1000.0)
    rig.now = 1000.0
    rig.submit(old, new)
    scheduler = make_scheduler("tiresias", thresholds=[10000.0])  # 8000 GPU-s: still queue 0
    assert scheduler.schedule(rig.view()) == [start("old", ("n1", range(8)))]


def test_a_starving_job_is_promoted_to_the_first_queue():
    rig = Rig(cluster(1))
    old, new = job("old", 8), job("new", 8, submit=1500.0)
    ran(rig, old, 1000.0)
    rig.now = 2000.0  # old has waited 1000 s since it stopped
    rig.submit(old, new)
    scheduler = make_scheduler("tiresias", starvation_s=900.0)
    assert scheduler.schedule(rig.view()) == [start("old", ("n1", range(8)))]


def test_a_fresh_job_preempts_a_preemptible_job_of_a_lower_queue():
    rig = Rig(cluster(1))
    long_job = job("long", 8, priority=Priority.PREEMPTIBLE)
    rig.run_job(long_job, on(("n1", range(8))))
    rig.now = 1000.0  # 8000 GPU-s attained: queue 1
    fresh = job("fresh", 8, priority=Priority.PREEMPTIBLE, submit=900.0)
    rig.submit(fresh)
    assert make_scheduler("tiresias").schedule(rig.view()) == [
        Preempt(long_job.id, f"to start job {fresh.id}"),
        start("fresh", ("n1", range(8))),
    ]
    assert make_scheduler("tiresias", preempt_running="none").schedule(rig.view()) == []


@pytest.mark.parametrize(
    ("mode", "priority", "preempts"),
    [
        ("any", Priority.STANDARD, True),  # as in the paper
        ("any", Priority.GUARANTEED, False),  # guaranteed jobs are never preempted
        ("preemptible", Priority.STANDARD, False),  # the default protects standard jobs
    ],
)
def test_preempt_running_decides_which_lower_queue_jobs_may_be_stopped(mode, priority, preempts):
    rig = Rig(cluster(1))
    long_job = job("long2", 8, priority=priority)
    rig.run_job(long_job, on(("n1", range(8))))
    rig.now = 1000.0
    rig.submit(job("fresh2", 8, submit=900.0))
    actions = make_scheduler("tiresias", preempt_running=mode).schedule(rig.view())
    assert (actions != []) == preempts

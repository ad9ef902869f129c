"""fifo: arrival order, and the first job that does not fit blocks everyone behind it."""

from engine_builders import Rig, cluster, job, on, start

from aitc.domain.job import Priority
from aitc.engine import make_scheduler
from aitc.engine.view import Preempt
from aitc.engine.view import ReasonCode as R


def test_jobs_start_in_arrival_order_until_one_does_not_fit():
    rig = Rig(cluster(2)).submit(job("a", 4), job("b", 8), job("c", 8), job("d", 1))
    assert make_scheduler("fifo").schedule(rig.view()) == [
        start("a", ("n1", range(4))),
        start("b", ("n2", range(8))),
    ]


def test_the_blocked_head_says_why_and_the_rest_wait_behind_it():
    rig = Rig(cluster(2)).submit(job("a", 12), job("b", 8), job("c", 8), job("d", 1))
    rig.apply(make_scheduler("fifo").schedule(rig.view()))
    why = make_scheduler("fifo").run(rig.view()).reasons()
    assert [r.code for r in why[rig.pending[0].id]] == [R.NOT_ENOUGH_GPUS]
    assert [r.code for r in why[rig.pending[1].id]] == [R.PRIORITY, R.NOT_ENOUGH_GPUS]
    assert [r.code for r in why[rig.pending[2].id]] == [R.PRIORITY]  # d would fit: only order


def test_a_job_never_starts_before_it_is_submitted():
    rig = Rig(cluster(1)).submit(job("a", 1, submit=10.0))
    assert make_scheduler("fifo").schedule(rig.view()) == []


def test_a_preemptible_job_yields_to_a_standard_one():
    rig = Rig(cluster(1))
    rig.run_job(job("p", 8, priority=Priority.PREEMPTIBLE), on(("n1", range(8))))
    rig.submit(job("a", 4))
    actions = make_scheduler("fifo").schedule(rig.view())
    assert actions == [
        Preempt(
            rig.running[next(iter(rig.running))].request.id, f"to start job {rig.pending[0].id}"
        ),
        start("a", ("n1", range(4))),
    ]

"""backfill (EASY): the head job keeps its promised start; short jobs fill the gap."""

from engine_builders import Rig, cluster, job, on, start

from aitc.engine import make_scheduler
from aitc.engine.view import ReasonCode as R


def busy_rig() -> Rig:
    """n1 busy until t=100, n2 half busy until t=1000; the head needs all of n1 at t=100."""
    rig = Rig(cluster(2))
    rig.run_job(job("x", 8, limit=100.0), on(("n1", range(8))))
    rig.run_job(job("y", 4, limit=1000.0), on(("n2", range(4))))
    return rig


def test_a_short_job_backfills_when_it_ends_before_the_head_starts():
    rig = busy_rig().submit(job("head", 8), job("short", 4, limit=50.0))
    assert make_scheduler("backfill").schedule(rig.view()) == [start("short", ("n2", [4, 5, 6, 7]))]


def test_a_long_job_backfills_only_where_the_head_is_not_promised():
    rig = busy_rig().submit(job("head", 12), job("long", 2, limit=5000.0))
    # the head is promised n1 and n2 at t=1000, so the long job may not take n2's free GPUs
    assert make_scheduler("backfill").schedule(rig.view()) == []
    why = make_scheduler("backfill").run(rig.view()).reasons()
    assert [r.code for r in why[rig.pending[1].id]] == [R.BACKFILL]


def test_a_long_job_may_use_nodes_the_head_was_not_promised():
    rig = Rig(cluster(3))
    rig.run_job(job("x", 8, limit=100.0), on(("n1", range(8))))
    rig.run_job(job("y", 8, limit=200.0), on(("n2", range(8))))
    rig.run_job(job("z", 6, limit=9000.0), on(("n3", range(6))))
    rig.submit(job("head", 16), job("long", 2, limit=5000.0))
    # the head is promised n1 and n2 at t=200; n3's two free GPUs are not part of it
    assert make_scheduler("backfill").schedule(rig.view()) == [start("long", ("n3", [6, 7]))]


def test_fifo_would_leave_the_short_job_waiting():
    rig = busy_rig().submit(job("head", 8), job("short", 4, limit=50.0))
    assert make_scheduler("fifo").schedule(rig.view()) == []


def test_estimates_follow_the_time_limits_of_running_jobs():
    rig = busy_rig().submit(job("head", 8), job("big", 16))
    estimates = make_scheduler("backfill").run(rig.view()).estimates()
    assert [estimates[j.id] for j in rig.pending] == [100.0, 1000.0]

"""sjf: the shortest time limit first; jobs without a limit last, in arrival order."""

from __future__ import annotations

from engine_builders import Rig, cluster, jid, job, on, start
from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.engine import make_scheduler


def test_jobs_start_in_order_of_their_time_limit_and_those_without_one_come_last():
    rig = Rig(cluster(1))
    rig.run_job(job("busy", 5), on(("n1", range(5))))  # 3 GPUs free
    rig.submit(
        job("none1", 1, submit=0.0),
        job("long", 1, limit=7200.0, submit=1.0),
        job("none2", 1, submit=2.0),
        job("short", 1, limit=60.0, submit=3.0),
        job("mid", 1, limit=600.0, submit=4.0),
    )
    rig.now = 10.0
    assert make_scheduler("sjf").schedule(rig.view()) == [
        start("short", ("n1", [5])),
        start("mid", ("n1", [6])),
        start("long", ("n1", [7])),
    ]


def test_a_short_job_that_does_not_fit_does_not_hold_back_a_longer_one_that_does():
    rig = Rig(cluster(1))
    rig.run_job(job("busy2", 6), on(("n1", range(6))))
    rig.submit(job("short-big", 4, limit=60.0), job("long-small", 2, limit=3600.0))
    assert make_scheduler("sjf").schedule(rig.view()) == [start("long-small", ("n1", [6, 7]))]
    strict = make_scheduler("sjf", queue="strict")
    assert strict.schedule(rig.view()) == []


def test_jobs_without_a_limit_keep_their_arrival_order_behind_the_others():
    rig = Rig(cluster(1))
    rig.submit(job("n-a", 4), job("n-b", 4), job("lim", 8, limit=100.0))
    assert make_scheduler("sjf").schedule(rig.view()) == [start("lim", ("n1", range(8)))]
    explained = make_scheduler("sjf").run(rig.view()).reasons()
    assert explained[jid("lim")] == ()


@settings(max_examples=40, deadline=None)
@given(limits=st.lists(st.one_of(st.none(), st.sampled_from([60.0, 600.0, 3600.0])), max_size=20))
def test_the_order_is_a_stable_sort_by_time_limit_with_no_limit_last(limits):
    """The naive reference: sort by (no limit, limit), ties in arrival order."""
    jobs = [job(f"s{i}", 1, limit=lim) for i, lim in enumerate(limits)]
    rig = Rig(cluster(3)).submit(*jobs)  # 24 GPUs: every job starts, in the policy's order
    expected = sorted(jobs, key=lambda j: (j.time_limit is None, j.time_limit or 0.0))
    scheduler = make_scheduler("sjf")
    actions = scheduler.schedule(rig.view())
    assert [a.job_id for a in actions] == [j.id for j in expected]
    # the order of a plain list (a reservation's jobs) is the same sort
    assert list(scheduler.policy.order(rig.view(), list(jobs))) == expected

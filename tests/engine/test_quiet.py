"""Quiet passes change nothing: a scheduler that, after a pass that started nothing, looks only
at new jobs makes the same decisions, pass by pass, as one that always walks the whole queue.
Also: backfill's rule that, once the head's promise holds every free GPU, only jobs ending by
then start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine_builders import Rig, cluster, job, on, org
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import POLICIES, build, clusters

from aitc.domain.job import Priority
from aitc.engine import make_scheduler
from aitc.engine import scheduler as scheduler_module
from aitc.engine.scheduler import Outcome, Scheduler
from aitc.engine.view import View

busy_specs = st.lists(
    st.tuples(
        st.integers(0, 300),  # submit
        st.sampled_from([1, 1, 2, 3, 4, 8, 8, 12, 16, 0]),  # GPUs (0: a MIG slice)
        st.integers(10, 600),  # runtime
        st.sampled_from([1.0, 1.0, 2.0]),  # limit / runtime
        st.booleans(),  # preemptible
        st.sampled_from(["a", "b"]),  # organisation
    ),
    min_size=1,
    max_size=40,
)


@contextmanager
def never_quiet() -> Iterator[None]:
    saved = scheduler_module.remember
    scheduler_module.remember = lambda *args: None
    try:
        yield
    finally:
        scheduler_module.remember = saved


def replay(specs, policy: str, shape, *, quiet: bool) -> tuple[list[list[object]], int]:
    loop = build(specs, policy, shape)
    passes: list[list[object]] = []
    schedule = loop.scheduler.schedule
    quiet_passes = 0

    def recording(view: View) -> list:
        nonlocal quiet_passes
        quiet_passes += loop.scheduler._quiet is not None
        actions = schedule(view)
        passes.append([view.now, *actions])
        return actions

    loop.scheduler.schedule = recording  # type: ignore[method-assign]
    if quiet:
        loop.run()
    else:
        with never_quiet():
            loop.run()
    return passes, quiet_passes


@settings(max_examples=60, deadline=None)
@given(specs=busy_specs, policy=st.sampled_from(POLICIES), shape=clusters)
def test_quiet_passes_decide_exactly_as_full_walks(specs, policy, shape):
    with_memo, _ = replay(specs, policy, shape, quiet=True)
    without, used = replay(specs, policy, shape, quiet=False)
    assert used == 0
    assert with_memo == without


def explained_replay(specs, policy: str, shape, *, bare: bool) -> list[list[object]]:
    """Each pass's time, actions, reasons and estimates; with ``bare`` off, every pass is
    planned on a cycle (``Scheduler._pass``'s step 0 never decides one on the view alone)."""
    loop = build(specs, policy, shape)
    scheduler, passes = loop.scheduler, []
    if not bare:
        scheduler.policy.cannot_preempt = lambda view: False  # type: ignore[method-assign]

    def recording(view: View) -> list:
        outcome = scheduler.run(view)
        passes.append([view.now, outcome.actions, outcome.reasons(), outcome.estimates()])
        return outcome.actions

    scheduler.schedule = recording  # type: ignore[method-assign]
    loop.run()
    return passes


@settings(max_examples=40, deadline=None)
@given(specs=busy_specs, policy=st.sampled_from(POLICIES), shape=clusters)
def test_passes_decided_without_planning_read_as_planned_ones(specs, policy, shape):
    # a pass with nothing free, or a strict queue's blocked head, is decided on the view;
    # its reasons and estimates, read afterwards, are those of the cycle it would have planned
    assert explained_replay(specs, policy, shape, bare=True) == explained_replay(
        specs, policy, shape, bare=False
    )


def test_a_pass_with_nothing_free_plans_nothing_unless_something_may_be_preempted():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 8, limit=100.0), on(("n1", range(8))))
    rig.submit(job("next", 1))
    scheduler = make_scheduler("fifo")
    outcome = scheduler.run(rig.view())
    assert outcome.actions == [] and outcome.planned is None
    assert outcome.reasons()[rig.pending[0].id]  # made when read: it waits, and says why
    # a preemptible job runs: the pass plans (it may preempt for the next job)
    rig = Rig(cluster(1))
    rig.run_job(job("x", 8, limit=100.0, priority=Priority.PREEMPTIBLE), on(("n1", range(8))))
    rig.submit(job("next", 1))
    outcome = make_scheduler("fifo").run(rig.view())
    assert outcome.planned is not None and len(outcome.actions) == 2  # preempt, start


def test_after_a_pass_that_starts_nothing_only_new_jobs_are_looked_at():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 6, limit=100.0), on(("n1", range(6))))
    rig.submit(job("big", 4), job("big2", 3))
    scheduler = make_scheduler("backfill")
    assert scheduler.schedule(rig.view()) == []
    assert scheduler._quiet is not None and scheduler._quiet.length == 2
    rig.now = 10.0
    rig.submit(job("small", 2, limit=50.0))
    # the two large jobs are not looked at again; the head keeps its promise, small fits
    started = scheduler.schedule(rig.view())
    assert [a.job_id for a in started] == [rig.pending[2].id]


def test_a_quiet_pass_that_preempts_walks_the_whole_queue_again():
    # "a" borrows (quota 4, holds 7 of 8 GPUs); "c" has no quota and waits for 2 GPUs
    rig = Rig(cluster(1), organisations=[org("a", quota=4), org("b", quota=4)])
    rig.run_job(job("a1", 4, org="a"), on(("n1", range(4))))
    rig.now = 1.0
    rig.run_job(job("a2", 3, org="a"), on(("n1", range(4, 7))))  # the newest: the victim
    rig.submit(job("old", 2, org="c"))
    scheduler = make_scheduler("quota", organisations=rig.organisations)
    assert scheduler.schedule(rig.view()) == []
    assert scheduler._quiet is not None  # nothing can be preempted: the memo holds
    rig.now = 10.0
    rig.submit(job("new", 2, org="b"))  # inside b's quota: it reclaims from "a"
    actions = scheduler.schedule(rig.view())
    # the preemption gave back 3 GPUs: "new" takes 2 and the old job fits in the other 2,
    # which a walk of the new jobs alone would have missed
    names = {j.id: j.name for j in rig.pending} | {
        r.request.id: r.request.name for r in rig.running.values()
    }
    assert [(type(a).__name__, names[a.job_id]) for a in actions] == [
        ("Preempt", "a2"),
        ("Start", "new"),
        ("Start", "old"),
    ]


def test_capacity_given_back_ends_the_quiet_memo():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 6, limit=100.0), on(("n1", range(6))))
    rig.submit(job("big", 4))
    scheduler = make_scheduler("tiresias")
    assert scheduler.schedule(rig.view()) == []
    rig.now = 20.0
    rig.stop(rig.running[next(iter(rig.running))].request.id)
    # x ended: the driver released its GPUs, so big is looked at again and starts
    assert [a.job_id for a in scheduler.schedule(rig.view())] == [rig.pending[0].id]


def test_once_the_promise_holds_every_free_gpu_only_jobs_ending_by_then_start():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 6, limit=100.0), on(("n1", range(6))))
    rig.submit(
        job("head", 4),
        job("long", 1, limit=500.0),
        job("short", 1, limit=50.0),
        job("long2", 1, limit=101.0),
        job("edge", 1, limit=100.0),  # ends exactly when the head is promised to start
    )
    started = make_scheduler("backfill").schedule(rig.view())
    names = {
        j.id: n
        for j, n in zip(rig.pending, ["head", "long", "short", "long2", "edge"], strict=True)
    }
    assert [names[a.job_id] for a in started] == ["short", "edge"]


def test_a_strict_queue_blocked_at_its_head_walks_nothing_while_the_memo_holds():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 6, limit=100.0), on(("n1", range(6))))
    rig.submit(job("big", 4))
    scheduler = make_scheduler("fifo")
    assert scheduler.schedule(rig.view()) == []
    walks = count_walks(scheduler)
    rig.now = 10.0
    rig.submit(job("small", 1))  # it would fit, but waits behind the head
    outcome = scheduler.run(rig.view())
    assert outcome.actions == [] and walks == []
    # what production reads from the same pass is what a full walk says
    assert_as_a_full_walk(outcome, rig)
    rig.now = 20.0
    rig.stop(rig.running[next(iter(rig.running))].request.id)  # capacity grows: walk again
    assert [a.job_id for a in scheduler.schedule(rig.view())] == [j.id for j in rig.pending]
    assert len(walks) == 1


def test_a_blocked_head_still_too_large_after_capacity_grew_walks_nothing():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 4, limit=100.0), on(("n1", range(4))))
    rig.run_job(job("y", 2, limit=100.0), on(("n1", [4, 5])))
    rig.submit(job("big", 5), job("small", 1))
    scheduler = make_scheduler("fifo")
    assert scheduler.schedule(rig.view()) == []  # big needs 5, 2 are free
    walks = count_walks(scheduler)
    ids = {r.request.name: r.request.id for r in rig.running.values()}
    rig.now = 10.0
    rig.stop(ids["y"])  # 4 free: capacity grew, but big still cannot fit
    outcome = scheduler.run(rig.view())
    assert outcome.actions == [] and walks == []
    assert_as_a_full_walk(outcome, rig)
    rig.now = 20.0
    rig.stop(ids["x"])  # 8 free: big and small start
    assert [a.job_id for a in scheduler.schedule(rig.view())] == [j.id for j in rig.pending]
    assert len(walks) == 1


def count_walks(scheduler: Scheduler) -> list[object]:
    """Every walk of the scheduler's queue from now on (a pass that walks nothing adds none)."""
    walks: list[object] = []
    queue = scheduler.policy.queue
    walk = queue.run
    queue.run = lambda *args: walks.append(args) or walk(*args)  # type: ignore[method-assign]
    return walks


def assert_as_a_full_walk(outcome: Outcome, rig: Rig) -> None:
    """What production reads from a pass is what a fresh scheduler's full walk says."""
    fresh = make_scheduler("fifo").run(rig.view())
    assert outcome.reasons() == fresh.reasons()
    assert outcome.estimates() == fresh.estimates()

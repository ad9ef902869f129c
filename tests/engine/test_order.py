"""Lazy orders change nothing: at every pass of a random job stream, the order a policy hands
out lazily (tiresias, quota) or from per-member buckets (fairshare) equals the eager sort it
replaced."""

from __future__ import annotations

import bisect
import math

from engine_builders import Rig, cluster, jid, job, on, org
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import build, clusters
from test_quiet import busy_specs

from aitc.domain.job import JobRequest, Priority
from aitc.engine import make_scheduler
from aitc.engine.queues import Buckets, FreeRoom
from aitc.engine.view import Start, View


def tiresias_reference(policy, view: View) -> list[JobRequest]:
    """The eager order: (queue, arrival) with each job's queue computed on its own."""
    starving = view.now - policy.starvation_s if policy.starvation_s > 0 else -math.inf
    fresh = bisect.bisect_right(policy.thresholds, 0.0)

    def level(j: JobRequest) -> int:
        if j.id in view.usage.ran_before():
            return policy.pending_level(view, j)
        return 0 if j.submit <= starving else fresh

    return sorted(view.pending, key=level)


def fairshare_reference(policy, view: View) -> list[JobRequest]:
    return sorted(view.pending, key=lambda j: policy._walk[(j.org, j.project, j.member)])


def quota_reference(policy, view: View) -> list[JobRequest]:
    used = view.usage.holding()
    room = {o: q - used.get(o, 0.0) + 1e-9 for o, (q, _) in policy._quotas.items()}
    fits = [
        j.org in room and room[j.org] >= 1e-9 and j.gpu_demand <= room[j.org] for j in view.pending
    ]
    return [j for j, f in zip(view.pending, fits, strict=True) if f] + [
        j for j, f in zip(view.pending, fits, strict=True) if not f
    ]


REFERENCES = {
    "tiresias": tiresias_reference,
    "fairshare": fairshare_reference,
    "quota": quota_reference,
}


@settings(max_examples=30, deadline=None)
@given(specs=busy_specs, policy=st.sampled_from(sorted(REFERENCES)), shape=clusters)
def test_lazy_orders_equal_the_eager_sort_at_every_pass(specs, policy, shape):
    loop = build(specs, policy, shape)
    if policy == "tiresias":  # low thresholds and preemption of anyone: jobs change queue
        loop.scheduler = make_scheduler(
            "tiresias", thresholds=(100.0, 1000.0), starvation_s=500.0, preempt_running="any"
        )
    reference = REFERENCES[policy]
    checked = []

    def check(loop) -> None:
        view = loop.rig.view()
        got = list(loop.scheduler.policy.order(view, view.pending))
        assert got == reference(loop.scheduler.policy, view)
        checked.append(len(got))

    loop.run(on_pass=check)
    assert len(checked) >= 1


def test_quota_orders_each_view_afresh_even_when_a_scheduler_is_reused():
    rig = Rig(cluster(2))
    rig.organisations = [org("a", quota=8), org("b", quota=8)]
    scheduler = make_scheduler("quota", organisations=rig.organisations)
    rig.run_job(job("x", 8, org="b"), on(("n1", range(8))))
    rig.submit(job("b1", 4, org="b"))
    first = rig.view()
    assert [j.id for j in scheduler.policy.order(first, first.pending)] == [jid("b1")]
    rig.submit(job("a1", 4, org="a"))
    second = rig.view()
    # a1 fits in a's unused quota, b1 would borrow: a1 goes first in the new view
    assert [j.id for j in scheduler.policy.order(second, second.pending)] == [jid("a1"), jid("b1")]


@settings(max_examples=30, deadline=None)
@given(specs=busy_specs, shape=clusters)
def test_tiresias_as_given_orders_as_the_eager_sort_at_every_pass(specs, shape):
    # its own parameters: only preemptible jobs are preempted, so the queue is mostly of
    # jobs that never ran, read by size (``Buckets``) while none of them has
    loop = build(specs, "tiresias", shape)
    read_by_size = []

    def check(loop) -> None:
        view = loop.rig.view()
        order = loop.scheduler.policy.order(view, view.pending)
        read_by_size.append(isinstance(order, Buckets))
        assert list(order) == tiresias_reference(loop.scheduler.policy, view)

    loop.run(on_pass=check)
    assert read_by_size


def test_tiresias_reads_a_queue_of_jobs_that_never_ran_by_size():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 6, limit=100.0, priority=Priority.PREEMPTIBLE), on(("n1", range(6))))
    rig.submit(job("a", 8), job("b", 1), job("c", 8), job("d", 2))
    policy = make_scheduler("tiresias").policy
    view = rig.view()
    order = policy.order(view, view.pending)
    assert isinstance(order, Buckets)
    assert list(order) == rig.pending  # arrival order
    # two GPUs free on the node: the 8-GPU jobs are passed over a bucket at a time
    room = FreeRoom.of(view.capacity)
    assert [j.id for j in order.fitting(room)] == [jid("b"), jid("d")]
    # a job that ran and went back to the queue: its queue is its own, read job by job
    rig.now = 50.0
    rig.stop(jid("x"), requeue=True)
    view = rig.view()
    assert not isinstance(policy.order(view, view.pending), Buckets)
    assert list(policy.order(view, view.pending)) == tiresias_reference(policy, view)


def test_a_job_that_ended_leaves_the_ledger_s_attained_service():
    rig = Rig(cluster(1))
    rig.run_job(job("x", 2, limit=100.0), on(("n1", [0, 1])))
    rig.now = 10.0
    rig.stop(jid("x"), requeue=True)  # preempted: it has run before
    assert jid("x") in rig.books.ledger.ran_before()
    rig.apply([Start(jid("x"), on(("n1", [0, 1])))])
    rig.now = 20.0
    rig.stop(jid("x"))  # ended for good (``Books.ended``): nothing to remember of it
    assert not rig.books.ledger.ran_before()

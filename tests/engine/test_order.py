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

from aitc.domain.job import JobRequest
from aitc.engine import make_scheduler
from aitc.engine.view import View


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

"""The walk's early end and the lazy orders change nothing: same decisions as the plain scan.

Reference runs never look ahead (``FIRST_CHECK`` out of reach); checked runs look ahead after
every skip. Both replay the same random job stream, pass by pass, and must start and preempt
the same jobs in the same order on the same GPUs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import POLICIES, build, clusters

from aitc.domain.job import JobRequest
from aitc.engine import walk
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
def first_check(skips: int) -> Iterator[None]:
    saved, walk.FIRST_CHECK = walk.FIRST_CHECK, skips
    try:
        yield
    finally:
        walk.FIRST_CHECK = saved


def replay(specs, policy: str, shape, skips: int) -> list[list[object]]:
    loop = build(specs, policy, shape)
    passes: list[list[object]] = []
    schedule = loop.scheduler.schedule

    def recording(view: View) -> list:
        actions = schedule(view)
        passes.append([view.now, *actions])
        return actions

    loop.scheduler.schedule = recording  # type: ignore[method-assign]
    with first_check(skips):
        loop.run()
    return passes


@settings(max_examples=40, deadline=None)
@given(specs=busy_specs, policy=st.sampled_from(POLICIES), shape=clusters)
def test_looking_ahead_after_every_skip_gives_the_same_passes_as_never(specs, policy, shape):
    assert replay(specs, policy, shape, 1) == replay(specs, policy, shape, 1 << 30)


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
    return sorted(view.pending, key=lambda j: policy._walk[(j.org, j.project, j.member)].place)


def quota_reference(policy, view: View) -> list[JobRequest]:
    used = view.usage.holding()
    room = {o: q - used.get(o, 0.0) + 1e-9 for o, (q, _) in policy._quotas.items()}
    fits = [j.org in room and room[j.org] >= 1e-9 and j.gpu_demand <= room[j.org] for j in view.pending]
    return [j for j, f in zip(view.pending, fits) if f] + [
        j for j, f in zip(view.pending, fits) if not f
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
    reference = REFERENCES[policy]
    checked = []

    def check(loop) -> None:
        view = loop.rig.view()
        got = list(loop.scheduler.policy.order(view, view.pending))
        assert got == reference(loop.scheduler.policy, view)
        checked.append(len(got))

    loop.run(on_pass=check)
    assert len(checked) >= 1

"""The quota policy's reclaim test answers exactly as the plain test: where no organisation
borrows, it answers "no" without looking at the waiting jobs, and every pass makes the same
decisions as with the plain test that always looks, and as with a test that always says
"maybe" (so that the walk never passes over a job for its size or stops early)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from engine_builders import job
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import clusters
from test_quiet import replay

from aitc.engine.cycle import Cycle
from aitc.engine.policies.quota import _EPS, Quota, _fitting


def plain_reclaim_possible(policy: Quota, cycle: Cycle) -> bool:
    """The reclaim test written plainly: some organisation borrows (counting only use from
    before this pass), and some waiting job fits in its organisation's unused quota now. In
    the borrowers' part of the walk only organisations that lost jobs to a preemption in this
    pass count: no other borrower's organisation has gained room since the pass began."""
    held = cycle.org_gpus
    before = {o: u - cycle.org_started.get(o, 0.0) for o, u in held.items()}
    borrowing = any(u > policy.quota(o)[0] + _EPS for o, u in before.items())
    room = {o: policy.quota(o)[0] - held.get(o, 0.0) + _EPS for o in policy._quotas}
    room = {o: r for o, r in room.items() if r >= _EPS}
    if cycle.phase:
        lost = {r.request.org for r in cycle.view.running if r.request.id in cycle.preempted}
        room = {o: r for o, r in room.items() if o in lost}
    jobs = cycle.view.pending
    return borrowing and any(j.org in room and j.gpu_demand <= room[j.org] for j in jobs)


# three organisations: "a" may borrow 8, "b" may not borrow, "c" has no quota at all
specs_with_borrowers = st.lists(
    st.tuples(
        st.integers(0, 300),  # submit
        st.sampled_from([1, 2, 2, 4, 4, 8, 0]),  # GPUs (0: a MIG slice)
        st.integers(10, 600),  # runtime
        st.sampled_from([1.0, 2.0]),  # limit / runtime
        st.sampled_from([False, False, False, True]),  # preemptible
        st.sampled_from(["a", "b", "c"]),  # organisation
    ),
    min_size=1,
    max_size=40,
)


@contextmanager
def replaced(name: str, value: object) -> Iterator[None]:
    """``Quota.<name>`` is ``value`` within the block."""
    saved = getattr(Quota, name)
    setattr(Quota, name, value)
    try:
        yield
    finally:
        setattr(Quota, name, saved)


def checked_reclaim(calls: list[bool]) -> AbstractContextManager[None]:
    """Every reclaim test also runs the plain one on the same cycle and must agree."""
    fast = Quota._reclaim_possible

    def both(self: Quota, cycle: Cycle) -> bool:
        found = fast(self, cycle)
        assert found == plain_reclaim_possible(self, cycle)
        calls.append(found)
        return found

    return replaced("_reclaim_possible", both)


def plain_reclaim() -> AbstractContextManager[None]:
    return replaced("_reclaim_possible", plain_reclaim_possible)


def always_maybe() -> AbstractContextManager[None]:
    """A quota policy that never rules preemption out: walks look at every job."""
    return replaced("could_preempt", lambda self, cycle: True)


@settings(max_examples=80, deadline=None)
@given(specs=specs_with_borrowers, shape=clusters)
def test_the_reclaim_shortcut_answers_and_decides_as_the_plain_test(specs, shape):
    calls: list[bool] = []
    with checked_reclaim(calls):
        fast, _ = replay(specs, "quota", shape, quiet=True)
    with plain_reclaim():
        plain, _ = replay(specs, "quota", shape, quiet=True)
    with always_maybe():
        looked_at_all, _ = replay(specs, "quota", shape, quiet=False)
    assert fast == plain == looked_at_all


def test_a_stream_where_one_organisation_borrows_exercises_both_answers():
    # "a" borrows the whole cluster; "b" then waits with a job inside its quota: reclaim
    specs = [(0, 8, 500, 1.0, False, "a"), (0, 8, 500, 1.0, False, "a")]
    specs += [(10, 4, 100, 1.0, False, "b"), (20, 2, 100, 1.0, False, "a")]
    calls: list[bool] = []
    with checked_reclaim(calls):
        replay(specs, "quota", (2, 1), quiet=True)
    assert True in calls and False in calls


def test_jobs_started_in_the_same_pass_do_not_make_an_organisation_a_borrower():
    # "a" fills both nodes in one pass (16 GPUs, above its quota of 8) while "b" waits with
    # a job inside its quota: the GPUs "a" took in this pass cannot be reclaimed by it
    specs = [(0, 8, 500, 1.0, False, "a"), (0, 8, 500, 1.0, False, "a")]
    specs.append((0, 8, 100, 1.0, False, "b"))
    calls: list[bool] = []
    with checked_reclaim(calls):
        replay(specs, "quota", (2, 1), quiet=True)
    assert calls


def test_an_organisation_with_some_room_left_can_reclaim_for_its_smallest_job():
    # 20 of 24 GPUs busy ("a" borrows 8, "c" has no quota); "b" starts 4 of its 8 and fills
    # the cluster: its 8-GPU job no longer fits its quota, its 2-GPU job still does
    specs = [(0, 8, 500, 1.0, False, "a"), (0, 8, 500, 1.0, False, "a")]
    specs.append((0, 4, 500, 1.0, False, "c"))
    specs += [(10, 4, 100, 1.0, False, "b"), (10, 8, 100, 1.0, False, "b")]
    specs.append((10, 2, 100, 1.0, False, "b"))
    calls: list[bool] = []
    with checked_reclaim(calls):
        replay(specs, "quota", (3, 1), quiet=True)
    assert True in calls


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from([0, 1, 2, 4, 8])), max_size=30
    ),
    room=st.dictionaries(st.sampled_from("abc"), st.sampled_from([1e-9, 0.5, 1.0, 3.0, 8.0])),
)
def test_the_jobs_within_quota_are_those_whose_demand_fits_their_organisations_room(sizes, room):
    jobs = [
        job(n, gpus, org=org, mig="1g.10gb" if gpus == 0 else None)
        for n, (org, gpus) in enumerate(sizes)
    ]
    plain = [j for j in jobs if j.org in room and j.gpu_demand <= room[j.org]]
    assert _fitting(jobs, room) == plain

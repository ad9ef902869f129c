"""tiresias with ``semantics: paper``: every queue re-walked on every pass, running jobs too;
a demoted job goes behind the jobs waiting in its new queue; what no longer fits is preempted."""

from __future__ import annotations

import pytest
from engine_builders import Rig, cluster, jid, job, on, start
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import Loop, build, job_specs

from aitc.engine import make_scheduler
from aitc.engine.policies.tiresias_paper import CAUSE
from aitc.engine.view import Preempt, Start

PLACEMENTS = ("pool", "topology", "first_fit")


def paper(placement: str = "pool", **params: object):
    return make_scheduler(
        "tiresias",
        semantics="paper",
        preempt_running="any",
        starvation_s=0,
        thresholds=[80.0],
        placement=placement,
        **params,
    )


def preempt(name: str) -> Preempt:
    return Preempt(jid(name), CAUSE)


def replay(scheduler, steps) -> list[tuple[float, list]]:
    """Run passes at the given times, submitting jobs first: [(time, actions)]."""
    rig = Rig(cluster(1))
    out = []
    for t, arrivals in steps:
        rig.now = t
        rig.submit(*arrivals)
        out.append((t, rig.step(scheduler)))
    return out


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_demoted_jobs_rotate_behind_the_jobs_waiting_in_their_new_queue(placement):
    a, b = job("rot-a", 8), job("rot-b", 8, submit=5.0)
    steps = [(0.0, [a]), (5.0, [b]), (10.0, []), (20.0, []), (30.0, [])]
    whole = ("n1", range(8))
    assert replay(paper(placement), steps) == [
        (0.0, [start("rot-a", whole)]),
        (5.0, []),  # a (8 x 5 = 40 GPU-s) stays in queue 0, ahead of b
        (10.0, [preempt("rot-a"), start("rot-b", whole)]),  # a reaches 80: behind b
        (20.0, [preempt("rot-b"), start("rot-a", whole)]),  # b reaches 80: behind a
        (30.0, []),  # both in the last queue: nobody is demoted, nobody rotates
    ]
    # aitc's own semantics keep arrival order inside a queue and preempt only lower queues
    aitc = make_scheduler("tiresias", preempt_running="any", starvation_s=0, thresholds=[80.0])
    assert [actions for _, actions in replay(aitc, steps)][3] == []


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_running_job_that_no_longer_fits_is_preempted_and_a_later_one_that_fits_runs_on(
    placement,
):
    """The simulator's walk: a fresh job takes 4 GPUs first; of the running jobs behind it
    (both in queue 1), the 6-GPU one no longer fits and the 2-GPU one still does."""
    rig = Rig(cluster(1))
    rig.run_job(job("big", 6), on(("n1", range(6))))
    rig.run_job(job("small", 2), on(("n1", [6, 7])))
    rig.now = 50.0  # big: 300 GPU-s, small: 100 GPU-s, both past the threshold of 80
    rig.submit(job("fresh", 4, submit=50.0))
    assert paper(placement).schedule(rig.view()) == [
        preempt("big"),
        start("fresh", ("n1", range(4))),
    ]


def test_guaranteed_jobs_and_jobs_preempt_running_protects_are_never_preempted():
    rig = Rig(cluster(1))
    from aitc.domain.job import Priority

    rig.run_job(job("kept", 8, priority=Priority.GUARANTEED), on(("n1", range(8))))
    rig.now = 50.0
    rig.submit(job("new", 8, submit=50.0))
    assert paper().schedule(rig.view()) == []
    why = paper().run(rig.view()).reasons()[jid("new")]
    assert [r.code.value for r in why] == ["not_enough_gpus"]


@settings(max_examples=25, deadline=None)
@given(
    specs=job_specs,
    placement=st.sampled_from(PLACEMENTS),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 3)),
)
def test_the_paper_walk_never_over_allocates_and_every_waiting_job_has_a_reason(
    specs, placement, shape
):
    loop = build(specs, "tiresias", shape)
    loop.scheduler = paper(placement)

    def check(loop: Loop) -> None:  # (the loop itself recounts every GPU after each pass)
        view = loop.rig.view()
        again = paper(placement)  # a fresh walk on the same view
        starting = {a.job_id for a in again.schedule(view) if isinstance(a, Start)}
        why = again.run(view).reasons()
        for job_id, reasons in why.items():
            assert (reasons == ()) == (job_id in starting), (job_id, reasons)

    loop.run(on_pass=check)

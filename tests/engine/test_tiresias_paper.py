"""tiresias with ``semantics: paper``: every queue re-walked on every pass, running jobs too;
a demoted job goes behind the jobs waiting in its new queue; what no longer fits is preempted."""

from __future__ import annotations

from dataclasses import replace

import pytest
from engine_builders import Rig, cluster, jid, job, on, reservation, start
from hypothesis import given, settings
from hypothesis import strategies as st
from paper_reference import reference_paper
from test_properties import Loop, build, job_specs

from aitc.domain.ids import JobId
from aitc.domain.job import Priority
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
    rig.run_job(job("kept", 8, priority=Priority.GUARANTEED), on(("n1", range(8))))
    rig.now = 50.0
    rig.submit(job("new", 8, submit=50.0))
    assert paper().schedule(rig.view()) == []
    why = paper().run(rig.view()).reasons()[jid("new")]
    assert [r.code.value for r in why] == ["not_enough_gpus"]


def test_a_job_the_driver_ran_between_two_passes_is_judged_again():
    """The driver starts a waiting job itself and stops it before the next pass: no pass saw
    it run, yet its attained service moved it to queue 1, behind a new job of queue 0."""
    rig, scheduler = Rig(cluster(1)), paper("topology")
    rig.submit(job("ux", 8), job("uz", 4))
    assert rig.step(scheduler) == [start("ux", ("n1", range(8)))]  # uz waits in queue 0
    rig.now = 10.0
    rig.stop(jid("ux"))
    rig.run_job(rig.queue.job(jid("uz")), on(("n1", range(4))))
    rig.now = 50.0
    rig.stop(jid("uz"), requeue=True)  # 4 x 40 = 160 GPU-seconds, past the threshold of 80
    rig.submit(job("uw", 8, submit=20.0))
    assert rig.step(scheduler) == [start("uw", ("n1", range(8)))]


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


# ---------------------------------------------------------------------- shortcuts
# The shortcuts (tiresias_paper.py, tiresias_lists.py) must decide exactly as the plain walk,
# which renumbers and sorts every job and looks at each on every pass (paper_reference.py). Both
# run side by side on two identical drivers that also do what drivers may do between passes:
# leave a pass unapplied, lose a running job, hold and release a queued one, take a node
# down, lend GPUs outside aitc, start and stop a job on their own, end a job at once.

streams = st.lists(
    st.tuples(
        st.integers(0, 300),  # submit
        st.sampled_from([1, 1, 1, 2, 4, 4, 8, 8, 12, 16, 0]),  # GPUs (0: a MIG slice)
        st.sampled_from([0, 5, 30, 60, 150, 400, 900]),  # runtime (0: ends where it starts)
        st.sampled_from(["standard", "standard", "preemptible", "guaranteed"]),
        st.sampled_from(["a", "b"]),  # organisation
        st.booleans(),  # a 4-GPU job on two nodes
    ),
    min_size=5,
    max_size=40,
)
settings_ = st.fixed_dictionaries(
    {
        "placement": st.sampled_from(PLACEMENTS),
        "thresholds": st.sampled_from([[40.0], [30.0, 300.0], [1000.0]]),
        "starvation_s": st.sampled_from([0, 0, 120.0]),
        "preempt_running": st.sampled_from(["any", "any", "preemptible", "none"]),
    }
)


class Twins:
    """Two identical drivers: one for the walk with shortcuts, one for the plain walk."""

    def __init__(self, shape: tuple[int, int], params: dict, reserve: bool) -> None:
        nodes, per_leaf = shape
        self.rigs = [Rig(cluster(nodes, per_leaf=per_leaf, leaves_per_su=2)) for _ in "ab"]
        if reserve:
            for rig in self.rigs:
                rig.reservations.append(reservation("r1", "a", 50.0, 200.0, gpus=4))
        self.schedulers = [
            make_scheduler("tiresias", semantics="paper", **params),
            reference_paper(**params),
        ]
        self.passes = 0

    def both(self, act) -> None:
        for rig in self.rigs:
            act(rig)

    def step(self, apply: bool) -> list:
        fast, plain = (
            s.schedule(r.view()) for s, r in zip(self.schedulers, self.rigs, strict=True)
        )
        assert fast == plain, (self.passes, self.rigs[0].now)
        self.passes += 1
        if apply:
            self.both(lambda rig: rig.apply(fast))
        return fast


def _quirk(twins: Twins, rnd, ends: dict, held: list) -> None:
    """One thing a driver may do between passes, the same on both drivers."""
    rig = twins.rigs[0]
    nodes = [n.name for n in rig.cluster.nodes]
    kind = rnd.choice(["lose", "hold", "release", "resize", "down", "foreign", "none"])
    if kind == "lose" and rig.running:
        job_id = rnd.choice(sorted(rig.running))
        ends.pop(job_id, None)
        twins.both(lambda r: r.stop(job_id, requeue=True))
    elif kind == "hold" and rig.pending:
        job = rnd.choice(rig.pending)
        held.append(job)

        def hold(r: Rig) -> None:
            r.books.cancel(job.id)
            r.pending.remove(job)

        twins.both(hold)
    elif kind == "release" and held:
        job = held.pop(rnd.randrange(len(held)))

        def release(r: Rig) -> None:
            r.books.restore(job)
            r.pending.append(job)
            r.pending.sort(key=lambda j: (j.submit, j.id))

        twins.both(release)
    elif kind == "resize" and rig.pending:  # taken out and put back with another request
        job = rnd.choice(rig.pending)
        other = replace(job, gpus=rnd.choice([1, 2, 4]) if job.gpus else 0)

        def resize(r: Rig) -> None:
            r.books.cancel(job.id)
            r.books.restore(other)
            r.pending[r.pending.index(job)] = other

        twins.both(resize)
    elif kind == "down":
        node, down = rnd.choice(nodes), rnd.random() < 0.6
        twins.both(lambda r: r.books.set_down(node, down))
    elif kind == "foreign":
        node, gpus = rnd.choice(nodes), rnd.choice([0, 1, 3])
        twins.both(lambda r: r.books.set_foreign(node, gpus))


def _start_unseen(twins: Twins, rnd) -> JobId | None:
    """The driver starts a queued job itself (stopped again before the next pass)."""
    rig = twins.rigs[0]
    fits = [j for j in rig.pending if 0 < j.gpus <= 8 and j.nodes is None]
    if not fits:
        return None
    job = rnd.choice(fits)
    room = [
        n.name for n in rig.cluster.nodes if len(rig.capacity.node_free(n.name).gpus) >= job.gpus
    ]
    if not room or rig.capacity.is_down(room[0]):
        return None
    placement = on((room[0], rig.capacity.node_free(room[0]).gpus[: job.gpus]))
    twins.both(lambda r: r.run_job(job, placement))
    return job.id


@settings(max_examples=100, deadline=None)
@given(
    specs=streams,
    params=settings_,
    shape=st.tuples(st.integers(1, 3), st.integers(1, 2)),
    reserve=st.booleans(),
    rnd=st.randoms(use_true_random=False),
)
def test_the_shortcuts_decide_as_the_plain_walk_pass_by_pass(specs, params, shape, reserve, rnd):
    twins = Twins(shape, params, reserve)
    runtime, arrivals = {}, []
    for i, (submit, gpus, run, priority, who, pair) in enumerate(specs):
        request = job(
            20_000 + i,
            4 if pair else gpus,
            org=who,
            submit=float(submit),
            nodes=2 if pair else None,
            mig="1g.10gb" if gpus == 0 and not pair else None,
            priority=Priority(priority),
        )
        arrivals.append(request)
        runtime[request.id] = float(run)
    arrivals.sort(key=lambda j: (j.submit, j.id))
    ends: dict = {}
    held: list = []
    unseen: JobId | None = None
    while arrivals or ends:
        now = min([j.submit for j in arrivals[:1]] + list(ends.values()))
        for rig in twins.rigs:
            rig.now = now
        if unseen is not None:  # it ran since the last pass, which never saw it run
            back = rnd.random() < 0.7  # (else it ended)
            twins.both(lambda r, j=unseen, back=back: r.stop(j, requeue=back))
            unseen = None
        for job_id in [j for j, t in ends.items() if t <= now]:
            del ends[job_id]
            twins.both(lambda r, j=job_id: r.stop(j))
        while arrivals and arrivals[0].submit <= now:
            request = arrivals.pop(0)
            twins.both(lambda r, j=request: r.submit(j))
        if rnd.random() < 0.2:
            _quirk(twins, rnd, ends, held)
        for _ in range(4):  # passes at one instant
            apply = rnd.random() > 0.15
            actions = twins.step(apply)
            if not apply:
                continue
            for a in actions:
                if isinstance(a, Start):
                    ends[a.job_id] = now + runtime[a.job_id]
                else:
                    ends.pop(a.job_id, None)
            at_once = [j for j, t in ends.items() if t <= now]
            for job_id in at_once:  # ends before the next pass
                del ends[job_id]
                twins.both(lambda r, j=job_id: r.stop(j))
            if not at_once and not any(isinstance(a, Preempt) for a in actions):
                break
        if rnd.random() < 0.1:
            unseen = _start_unseen(twins, rnd)
    assert twins.passes > 0


def test_a_start_the_driver_did_not_apply_is_not_taken_for_a_run_that_ended() -> None:
    """The last walk started job 7, the driver did not apply it; meanwhile one run ended and
    another went back to the queue (two changes of the capacity, as many as a start and a
    stop of job 7 would make): the shortcuts must still see the requeued job waiting."""
    params = {"placement": "pool", "thresholds": [40.0], "starvation_s": 0}
    twins = Twins((2, 1), {**params, "preempt_running": "any"}, reserve=False)
    pair = job(20_004, 4, org="a", nodes=2)
    single = [job(20_005, 1, org="a"), job(20_007, 1, org="a", submit=30.0)]

    def at(now: float) -> None:
        for rig in twins.rigs:
            rig.now = now

    twins.both(lambda r: r.submit(pair, single[0]))
    twins.step(apply=True)  # both start
    at(30.0)
    twins.both(lambda r: r.submit(single[1]))
    assert [a.job_id for a in twins.step(apply=False)] == [20_007]  # not applied
    at(32.0)
    twins.both(lambda r: r.stop(jid(20_005)))
    twins.both(lambda r: r.stop(jid(20_004), requeue=True))
    assert {a.job_id for a in twins.step(apply=False)} == {20_004, 20_007}

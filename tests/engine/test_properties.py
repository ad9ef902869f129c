"""Properties over random clusters and job streams, driven by a tiny event loop of our own.

The loop: jump to the next arrival, completion or reservation edge; finish and submit jobs;
run one pass; check the actions; apply them. Runtimes never exceed time limits, as a driver
that enforces limits guarantees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from engine_builders import Rig, cluster, job, org, reservation
from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.domain.reservation import Reservation
from aitc.engine import make_scheduler
from aitc.engine.reservations import ReservationBook, touches
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Preempt, Start

POLICIES = ("fifo", "backfill", "fairshare", "tiresias", "quota")


@dataclass
class Loop:
    """Runs a scheduler over a job stream on a ``Rig`` and records what happened."""

    rig: Rig
    scheduler: Scheduler
    runtime: dict[JobId, float]
    arrivals: list[JobRequest]
    started: dict[JobId, float] = field(default_factory=dict)
    gpu_seconds: Counter[str] = field(default_factory=Counter)
    ends: dict[JobId, float] = field(default_factory=dict)

    def next_time(self) -> float | None:
        times = [j.submit for j in self.arrivals] + list(self.ends.values())
        times += [t for r in self.rig.reservations for t in (r.start, r.end) if t > self.rig.now]
        return min(times) if times else None

    def advance(self, t: float) -> None:
        for run in list(self.rig.running.values()):
            self.gpu_seconds[run.request.org] += run.request.gpus * (t - self.rig.now)
        self.rig.now = t
        for job_id, end in sorted(self.ends.items(), key=lambda kv: kv[1]):
            if end <= t:
                del self.ends[job_id]
                self.rig.stop(job_id)
        self.rig.submit(*(j for j in self.arrivals if j.submit <= t))
        self.arrivals = [j for j in self.arrivals if j.submit > t]

    def step(self) -> list:
        requests = {j.id: j for j in self.rig.pending}
        actions = self.scheduler.schedule(self.rig.view())
        for a in actions:
            if isinstance(a, Start):
                check_gang(requests[a.job_id], a)
        self.rig.apply(actions)
        check_no_double_allocation(self.rig)
        for a in actions:
            if isinstance(a, Start):
                self.started.setdefault(a.job_id, self.rig.now)
                self.ends[a.job_id] = self.rig.now + self.runtime[a.job_id]
            elif isinstance(a, Preempt):
                self.ends.pop(a.job_id, None)
        return actions

    def run(self, until: float = float("inf"), on_pass=None) -> None:
        self.step()
        while (t := self.next_time()) is not None and t <= until:
            self.advance(t)
            self.step()
            if on_pass is not None:
                on_pass(self)


def check_gang(request: JobRequest, start: Start) -> None:
    if request.mig:
        assert start.placement.is_mig and len(start.placement.allocs) == 1
    else:
        assert start.placement.gpu_count == request.gpus


def check_no_double_allocation(rig: Rig) -> None:
    """Recount every GPU and MIG slot from the running jobs, independently of the index."""
    gpus: Counter[tuple[str, int]] = Counter()
    slots: Counter[tuple[str, int, int]] = Counter()
    for run in rig.running.values():
        for a in run.placement.allocs:
            gpus.update((a.node, g) for g in a.gpus)
            if a.mig is not None:
                size = rig.cluster.node(a.node).model.gpu.mig(a.mig.profile).size
                slots.update((a.node, a.mig.gpu, s) for s in range(a.mig.start, a.mig.start + size))
    assert max(gpus.values(), default=1) == 1
    assert max(slots.values(), default=1) == 1
    assert not {(n, g) for n, g, _ in slots} & set(gpus)
    for node in rig.cluster.nodes:
        held = sum(1 for (n, _) in gpus if n == node.name)
        mig = len({g for n, g, _ in slots if n == node.name})
        assert rig.capacity.free_gpus(node.name) == node.gpus - held - mig


job_specs = st.lists(
    st.tuples(
        st.integers(0, 400),  # submit
        st.sampled_from([1, 1, 2, 3, 4, 8, 12, 16, 0]),  # GPUs (0: a MIG slice)
        st.integers(10, 400),  # runtime
        st.sampled_from([1.0, 1.0, 1.5]),  # limit / runtime
        st.booleans(),  # preemptible
        st.sampled_from(["a", "b"]),  # organisation
    ),
    min_size=1,
    max_size=25,
)
clusters = st.tuples(st.integers(1, 5), st.integers(1, 3))


def build(specs, policy: str, shape, *, reservations=()):
    nodes, per_leaf = shape
    rig = Rig(cluster(nodes, per_leaf=per_leaf, leaves_per_su=2))
    rig.organisations = [org("a", quota=8, borrow=8), org("b", quota=8)]
    rig.reservations.extend(reservations)
    arrivals, runtime = [], {}
    for i, (submit, gpus, run, factor, preemptible, who) in enumerate(specs):
        prio = Priority.PREEMPTIBLE if preemptible else Priority.STANDARD
        mig = "1g.10gb" if gpus == 0 else None
        request = job(
            10_000 + i,
            gpus,
            org=who,
            submit=float(submit),
            limit=run * factor,
            mig=mig,
            priority=prio,
        )
        arrivals.append(request)
        runtime[request.id] = float(run)
    scheduler = make_scheduler(policy, organisations=rig.organisations)
    return Loop(rig, scheduler, runtime, sorted(arrivals, key=lambda j: (j.submit, j.id)))


@settings(max_examples=25, deadline=None)
@given(specs=job_specs, policy=st.sampled_from(POLICIES), shape=clusters)
def test_no_double_allocation_gangs_whole_and_no_start_before_submit(specs, policy, shape):
    loop = build(specs, policy, shape)
    loop.run()  # every pass checks gangs and recounts GPUs; Rig.apply checks submit times
    submits = {j.id: j.submit for j in loop.rig.pending} | {
        r.request.id: r.request.submit for r in loop.rig.running.values()
    }
    assert all(loop.started[j] >= submits.get(j, 0.0) for j in loop.started)


@settings(max_examples=20, deadline=None)
@given(specs=job_specs, policy=st.sampled_from(POLICIES), shape=clusters)
def test_every_waiting_job_has_a_reason_and_only_starting_jobs_have_none(specs, policy, shape):
    loop = build(specs, policy, shape)

    def check(loop: Loop) -> None:
        view = loop.rig.view()
        outcome = loop.scheduler.run(view)  # one pass: actions, reasons and estimates
        starting = {a.job_id for a in outcome.actions if isinstance(a, Start)}
        why = outcome.reasons()
        assert set(why) == {j.id for j in view.pending}
        for job_id, reasons in why.items():
            assert (reasons == ()) == (job_id in starting), (job_id, reasons)
            assert all(r.message.endswith(".") for r in reasons)
        estimates = outcome.estimates()
        assert set(estimates) == set(why)
        assert all(estimates[j] == view.now for j in starting)

    loop.run(on_pass=check)


@settings(max_examples=25, deadline=None)
@given(specs=job_specs, shape=clusters)
def test_backfill_never_delays_the_head_job(specs, shape):
    specs = [(s, g, r, 1.0, False, o) for s, g, r, _, _, o in specs]  # runtime = limit
    loop = build(specs, "backfill", shape)
    promised: dict[JobId, float] = {}

    def record(loop: Loop) -> None:
        pending = sorted(loop.rig.pending, key=lambda j: (j.submit, j.id))
        possible = [j for j in pending if j.id not in loop.scheduler.impossible(loop.rig.view())]
        if possible and possible[0].id not in promised:
            estimate = loop.scheduler.run(loop.rig.view()).estimates()[possible[0].id]
            if estimate is not None:
                promised[possible[0].id] = estimate

    loop.run(on_pass=record)
    for job_id, when in promised.items():
        assert loop.started[job_id] <= when + 1e-6


@settings(max_examples=25, deadline=None)
@given(
    specs=job_specs, policy=st.sampled_from(POLICIES), res_start=st.integers(1, 300), shape=clusters
)
def test_a_reservations_gpus_are_free_at_its_start(specs, policy, res_start, shape):
    held = reservation("ws", "edu", float(res_start), res_start + 500.0, nodes=["n1"])
    loop = build(specs, policy, shape, reservations=[held])
    seen = []

    def check(loop: Loop) -> None:
        if loop.rig.now == held.start:
            others = [r for r in loop.rig.running.values() if "n1" in r.placement.nodes]
            assert others == []
            seen.append(True)

    loop.run(on_pass=check)
    assert seen


@settings(max_examples=30, deadline=None)
@given(
    specs=job_specs,
    policy=st.sampled_from(POLICIES),
    res_start=st.integers(1, 300),
    seats=st.integers(1, 24),
    shape=clusters,
)
def test_seats_held_on_part_of_a_node_are_only_the_sessions_in_its_window(
    specs, policy, res_start, seats, shape
):
    """MIG seats of organisation a (its 1g.10gb jobs use them): in the window no job of b
    holds a GPU of the reservation, on whole nodes or on the part of one."""
    held = Reservation(
        "seats", "a", float(res_start), res_start + 500.0, mig_profile="1g.10gb", mig_seats=seats
    )
    loop = build(specs, policy, shape, reservations=[held])
    [fence] = ReservationBook().fences(loop.rig.cluster, [held], 0.0)
    nodes = loop.rig.cluster.nodes
    whole = {nodes[p].name for p in fence.positions}
    checked = []

    def check(loop: Loop) -> None:
        if not held.active(loop.rig.now):
            return
        for r in loop.rig.running.values():
            if r.request.org == "a":
                continue
            assert not set(r.placement.nodes) & whole, r
            if fence.part is not None:
                node = nodes[fence.part.pos].name
                bits = loop.rig.capacity.slot_bits
                assert not touches(r.placement, node, fence.part, bits), r
        checked.append(loop.rig.now)

    loop.run(on_pass=check)
    assert checked  # (the loop passes at the reservation's start)


def test_fairshare_splits_gpu_time_evenly_between_equal_organisations():
    """Endless demand from both: a sends many small jobs, b fewer large ones."""
    specs = []
    for i in range(1200):
        who, sizes = ("a", [1, 2, 1, 4]) if i % 2 else ("b", [8, 4, 8, 2])
        specs.append((0, sizes[i // 2 % 4], 200 + (i * 37) % 500, 1.0, False, who))
    loop = build(specs, "fairshare", (4, 2))
    loop.rig.books.ledger = type(loop.rig.ledger)(1800.0)
    loop.scheduler = make_scheduler("fairshare", organisations=[org("a"), org("b")])
    loop.run(until=20_000.0)
    total = loop.gpu_seconds["a"] + loop.gpu_seconds["b"]
    assert loop.rig.pending  # demand never ran out
    assert abs(loop.gpu_seconds["a"] / total - 0.5) <= 0.05

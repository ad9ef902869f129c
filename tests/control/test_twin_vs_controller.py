"""The twin predicts production: on the same job stream, the twin and the controller (on a
``FakeExecutor`` and a simulated clock) start the same jobs on the same GPUs, pass by pass.

The stream is replayed into the controller at the twin's own event times: a job is submitted
through the store when the twin's trace submits it, and its fake process ends when the twin
ended it. Each pass's decisions are compared as (time, job, what happened, where): the twin's
are recorded from its scheduler's actions, the controller's read back from ``job_events``.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from controller_rig import Rig
from seed import small_lab
from sqlalchemy import select

from aitc.control.clock import FakeClock
from aitc.control.dispatch import describe
from aitc.control.snapshot import load_organisations
from aitc.control.store import JobEventRow, JobSpec, Store, create_job, load_caller
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.domain.lab import Lab
from aitc.engine.scheduler import Outcome, Scheduler
from aitc.engine.view import Start, View
from aitc.twin.generator import generate
from aitc.twin.locality import LocalityModel
from aitc.twin.loop import Twin, TwinConfig
from aitc.twin.sources import load_philly
from aitc.twin.trace import TraceJob

PHILLY = Path(__file__).resolve().parents[2] / "../shared/traces/philly/philly_jobs.csv.gz"
POLICIES = ("fifo", "backfill", "fairshare", "tiresias", "quota", "sjf")
# (member, project) pairs of the seed lab that may submit
MEMBERS = (
    ("alice", "vision"),
    ("bob", "nlp"),
    ("pat", "health"),
    ("quinn", "energy"),
    ("dave", "course"),
    ("erin", "vision"),
)
Decision = tuple[float, int, str, str]


@dataclass
class Recording:
    """A scheduler that remembers every action of every pass."""

    inner: Scheduler
    decisions: list[Decision]

    def run(self, view: View) -> Outcome:
        outcome = self.inner.run(view)
        for a in outcome.actions:
            if isinstance(a, Start):
                self.decisions.append((view.now, int(a.job_id), "start", describe(a.placement)))
            else:
                self.decisions.append((view.now, int(a.job_id), "preempt", ""))
        return outcome


def _as_lab_members(
    jobs: Sequence[TraceJob], t0: float, orgs: dict[str, str], preemptible_every: int = 0
) -> list[TraceJob]:
    """The jobs renumbered 1.. in submit order (the store's ids), owned by the seed lab's
    members, with whole-node-or-less shapes and a time limit (sjf and backfill plan with it);
    with ``preemptible_every`` = k, every k-th job is preemptible."""
    out = []
    for i, tj in enumerate(sorted(jobs, key=lambda j: (j.request.submit, j.request.id)), 1):
        member, project = MEMBERS[zlib.crc32(tj.request.member.encode()) % len(MEMBERS)]
        runtime = max(60.0, round(tj.runtime))
        req = JobRequest(
            id=JobId(i),
            org=orgs[member],
            project=project,
            member=member,
            gpus=min(max(tj.request.gpus, 1), 8),
            submit=t0 + round(tj.request.submit),
            time_limit=float(runtime * 2),
            name=f"j{i}",
            priority=(
                Priority.PREEMPTIBLE
                if preemptible_every and i % preemptible_every == 0
                else Priority.STANDARD
            ),
        )
        out.append(replace(tj, request=req, runtime=runtime))
    return out


def philly_slice(t0: float, orgs: dict[str, str], n: int = 50) -> list[TraceJob]:
    jobs = list(load_philly(PHILLY, limit=n).jobs())
    base = min(j.request.submit for j in jobs)
    shifted = [replace(j, request=replace(j.request, submit=j.request.submit - base)) for j in jobs]
    return _as_lab_members(shifted, t0, orgs)


def lab_slice(
    t0: float, orgs: dict[str, str], lab: Lab, n: int = 50, preemptible_every: int = 0
) -> list[TraceJob]:
    jobs = list(generate(lab, days=2.0, seed=7, limit=n).jobs())
    base = min(j.request.submit for j in jobs)
    # arrivals 30 times as dense, so that jobs wait and policies differ
    dense = [
        replace(j, request=replace(j.request, submit=(j.request.submit - base) / 30)) for j in jobs
    ]
    return _as_lab_members(dense, t0, orgs, preemptible_every)


def run_twin(rig: Rig, jobs: list[TraceJob], policy: str) -> tuple[list[Decision], Twin]:
    with rig.store.session() as s:
        organisations = load_organisations(s)
    decisions: list[Decision] = []
    scheduler = Recording(Scheduler(policy, organisations=organisations), decisions)
    config = TwinConfig(
        locality=LocalityModel(0.0, 0.0),
        preempt_overhead_s=0.0,
        kill_at_time_limit=False,
        half_life_s=rig.ctl.planner.half_life_s,
    )
    twin = Twin(
        rig.cluster,
        scheduler,
        iter(jobs),
        organisations=organisations,
        config=config,
        record=True,
    )
    return decisions, twin.run()


def run_controller(rig: Rig, jobs: list[TraceJob], twin: Twin) -> list[Decision]:
    """Replay the twin's arrivals and ends into the store and the fake, at the twin's instants."""
    by_id = {int(j.request.id): j.request for j in jobs}
    instants: dict[float, list[tuple[str, int | str]]] = {}
    assert twin.events is not None
    for t, kind, subject in twin.events:
        if kind in ("arrive", "end"):
            instants.setdefault(t, []).append((kind, subject))
    for t in sorted(instants):
        rig.clock.advance(t - rig.clock.now())
        for kind, subject in instants[t]:
            if kind == "arrive":
                assert _submit(rig, by_id[int(subject)]) == int(subject)
            else:
                # KeyError: the controller never started it (the comparison below tells)
                with contextlib.suppress(KeyError):
                    rig.fake.finish(int(subject))
        # The twin's processes start the instant they are decided (no preemption overhead);
        # the controller dispatches a job onto a preempted job's GPUs once that job has
        # stopped, a pass later: passes at the same instant while one is busy (as `aitc
        # serve` passes again at once), so that every decided job runs by the next instant.
        for _ in range(8):
            if not rig.ctl.step().busy:
                break
    return _decisions(rig.store)


def _submit(rig: Rig, req: JobRequest) -> int:
    spec = JobSpec(
        command=("train",),
        project=req.project,
        name=req.name,
        gpus=req.gpus,
        time_limit=req.time_limit,
        priority=req.priority,
    )
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id=req.member)
        job, _ = create_job(session=s, spec=spec, caller=caller, now=rig.clock.now())
        return job.id


def _decisions(store: Store) -> list[Decision]:
    out: list[Decision] = []
    with store.session() as s:
        for e in s.scalars(select(JobEventRow).order_by(JobEventRow.id)):
            if e.to_state == "starting":
                where = e.cause.split(" on ", 1)[1]
                out.append((e.at, e.job_id, "start", where))
            elif e.to_state == "pending" and e.from_state in ("starting", "running"):
                out.append((e.at, e.job_id, "preempt", ""))
    return out


def by_pass(decisions: list[Decision]) -> Iterator[tuple[float, list[tuple[int, str, str]]]]:
    passes: dict[float, list[tuple[int, str, str]]] = {}
    for t, job, what, where in decisions:
        passes.setdefault(t, []).append((job, what, where))
    yield from sorted(passes.items())


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("stream", ["philly", "lab", "lab-preemptible"])
def test_the_twin_and_the_controller_start_the_same_jobs_on_the_same_gpus(
    clock: FakeClock, tmp_path: Path, policy: str, stream: str
) -> None:
    # SQLite only: the store's part is covered on PostgreSQL by the controller's own tests
    store = Store.open(f"sqlite:///{tmp_path / 'aitc.db'}")
    rig = Rig(store, clock, tmp_path, nodes=4, gpus=8, policy=policy)
    lab = replace(small_lab(), cluster=rig.cluster)  # the generator sizes load by capacity
    orgs = {m.id: m.org for m in lab.members}
    t0 = clock.now() + 1.0
    if stream == "philly":
        jobs = philly_slice(t0, orgs)
    else:  # a third of the lab's jobs preemptible: the others preempt them to start
        jobs = lab_slice(t0, orgs, lab, preemptible_every=3 if stream == "lab-preemptible" else 0)
    assert len(jobs) == 50
    twin_decisions, twin = run_twin(rig, jobs, policy)
    assert sum(1 for d in twin_decisions if d[2] == "start") >= len(jobs)
    if stream == "lab-preemptible":
        assert any(d[2] == "preempt" for d in twin_decisions)
    controller_decisions = run_controller(rig, jobs, twin)
    assert list(by_pass(controller_decisions)) == list(by_pass(twin_decisions))

"""Small builders for engine tests: clusters, jobs, expected actions, and a tiny driver.

``job("a", gpus=8, org="ai-institute")`` names jobs by letter; ``jid("a")`` is its ``JobId``.
``Rig`` is a minimal driver: it owns the capacity index and the usage ledger, applies actions
and finishes jobs, like the twin does, so properties can run whole job streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aitc.domain.cluster import Cluster, Node
from aitc.domain.ids import JobId
from aitc.domain.job import (
    JobRequest,
    JobState,
    MigSlot,
    NodeAlloc,
    Placement,
    Priority,
    RunningJob,
)
from aitc.domain.node import NODE_MODELS
from aitc.domain.org import Organisation, OrgKind, Project
from aitc.domain.reservation import Reservation
from aitc.engine.books import Books
from aitc.engine.capacity import CapacityIndex
from aitc.engine.ledger import UsageLedger
from aitc.engine.pending import PendingQueue
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Action, Preempt, Start, View

_IDS: dict[str, int] = {}


def jid(name: str | int) -> JobId:
    """A stable id per job name (``"a"`` → 1, ``"b"`` → 2 … in first-use order)."""
    if isinstance(name, int):
        return JobId(name)
    return JobId(_IDS.setdefault(name, len(_IDS) + 1))


def cluster(
    nodes: int = 4,
    *,
    per_leaf: int = 2,
    leaves_per_su: int = 2,
    model: str = "dgx-h100",
    models: Sequence[str] = (),
) -> Cluster:
    """Nodes n1..nN of 8 GPUs, ``per_leaf`` to a leaf, ``leaves_per_su`` leaves to an SU."""
    out = []
    for i in range(nodes):
        leaf = i // per_leaf
        name = models[i] if models else model
        out.append(Node(f"n{i + 1}", NODE_MODELS[name], leaf, leaf // leaves_per_su))
    return Cluster("rig", tuple(out))


def job(
    name: str | int,
    gpus: int = 1,
    *,
    org: str = "ai-institute",
    project: str = "p",
    member: str = "m",
    submit: float = 0.0,
    limit: float | None = None,
    nodes: int | None = None,
    mig: str | None = None,
    model: str | None = None,
    priority: Priority = Priority.STANDARD,
) -> JobRequest:
    return JobRequest(
        jid(name),
        org,
        project,
        member,
        0 if mig else gpus,
        submit,
        nodes=nodes,
        mig=mig,
        gpu_model=model,
        time_limit=limit,
        priority=priority,
        name=str(name),
    )


def on(*allocs: tuple[str, Iterable[int]]) -> Placement:
    """``on(("n1", [0, 1]), ("n2", range(8)))``."""
    return Placement(tuple(NodeAlloc(n, tuple(g)) for n, g in allocs))


def start(name: str | int, *allocs: tuple[str, Iterable[int]]) -> Start:
    return Start(jid(name), on(*allocs))


def mig_start(name: str | int, node: str, gpu: int, profile: str, at: int) -> Start:
    return Start(jid(name), Placement((NodeAlloc(node, (), MigSlot(gpu, profile, at)),)))


def org(
    name: str,
    share: float = 1.0,
    *,
    quota: int | None = None,
    borrow: int | None = None,
    projects: Sequence[tuple[str, float]] = (),
) -> Organisation:
    return Organisation(
        name,
        name,
        OrgKind.RESEARCH,
        share,
        tuple(Project(p, p, name, s) for p, s in projects),
        quota,
        borrow,
    )


def reservation(
    rid: str, org: str, start: float, end: float, *, gpus: int = 0, nodes: Sequence[str] = ()
) -> Reservation:
    return Reservation(rid, org, start, end, gpus=gpus, nodes=tuple(nodes))


@dataclass
class Rig:
    """A tiny driver on the engine's ``Books`` (as the twin and the controller), with a clock
    and a plain list of the pending jobs in arrival order for the tests to read."""

    cluster: Cluster
    now: float = 0.0
    half_life_s: float = 3600.0
    pending: list[JobRequest] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    organisations: list[Organisation] = field(default_factory=list)
    books: Books = field(init=False)

    def __post_init__(self) -> None:
        self.books = Books(self.cluster, self.half_life_s)
        for j in self.pending:
            self.books.submit(j)

    @property
    def capacity(self) -> CapacityIndex:
        return self.books.capacity

    @property
    def ledger(self) -> UsageLedger:
        return self.books.ledger

    @property
    def queue(self) -> PendingQueue:
        return self.books.pending

    @property
    def running(self) -> dict[JobId, RunningJob]:
        return self.books.running

    def view(self) -> View:
        view = self.books.view(
            self.now, organisations=tuple(self.organisations), reservations=tuple(self.reservations)
        )
        assert list(self.queue) == self.pending  # the books' queue is in arrival order
        return view

    def submit(self, *jobs: JobRequest) -> Rig:
        self.pending.extend(jobs)
        for j in jobs:
            self.books.submit(j)
        return self

    def run_job(self, request: JobRequest, placement: Placement) -> None:
        """Mark a job running now on ``placement`` (as if an earlier pass started it)."""
        if self.queue.get(request.id) is None:
            self.books.adopt(request, placement, self.now, attained=None)
        else:
            self.apply([Start(request.id, placement)])

    def apply(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Start):
                assert self.queue.job(action.job_id).submit <= self.now, "started before submit"
        self.books.apply(actions, self.now)
        started = {a.job_id for a in actions if isinstance(a, Start)}
        self.pending = [j for j in self.pending if j.id not in started]
        for action in actions:
            if isinstance(action, Preempt):
                self.pending.append(self.queue.job(action.job_id))
        self.pending.sort(key=lambda j: (j.submit, j.id))

    def stop(self, job_id: JobId, *, requeue: bool = False) -> None:
        """A running job ends (completed, as the drivers tell the books), or goes back to
        the queue (``requeue``: preempted)."""
        if requeue:
            self.apply([Preempt(job_id)])
        else:
            run = self.books.finish(job_id, self.now)
            self.books.ended(run.request, JobState.COMPLETED, self.now)

    def step(self, scheduler: Scheduler) -> list[Action]:
        actions = scheduler.schedule(self.view())
        self.apply(actions)
        return actions

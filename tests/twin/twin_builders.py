"""Small builders for twin tests: clusters by shape, jobs by keyword, a run that records."""

from __future__ import annotations

from aitc.domain.cluster import Cluster, Node
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.domain.node import NODE_MODELS
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.twin.loop import TwinConfig
from aitc.twin.runner import SimResult, simulate
from aitc.twin.trace import ListSource, TraceJob


def cluster(nodes: int = 2, *, per_leaf: int = 2, per_su: int = 4) -> Cluster:
    """``nodes`` DGX H100 nodes, ``per_leaf`` per leaf and ``per_su`` per scalable unit."""
    return Cluster(
        "test",
        tuple(
            Node(f"n{i:02d}", NODE_MODELS["dgx-h100"], leaf=i // per_leaf, su=i // per_su)
            for i in range(nodes)
        ),
    )


def job(
    id: int,
    *,
    gpus: int = 8,
    at: float = 0.0,
    runs: float = 100.0,
    org: str = "a",
    limit: float | None = None,
    preemptible: bool = False,
    mig: str | None = None,
) -> TraceJob:
    priority = Priority.PREEMPTIBLE if preemptible else Priority.STANDARD
    return TraceJob(
        JobRequest(
            JobId(id), org, org, org, gpus, at, time_limit=limit, priority=priority, mig=mig
        ),
        runs,
    )


def run(
    jobs: list[TraceJob],
    *,
    on: Cluster | None = None,
    policy: str = "fifo",
    reservations: tuple[Reservation, ...] = (),
    orgs: tuple[Organisation, ...] = (),
    config: TwinConfig | None = None,
) -> SimResult:
    return simulate(
        on or cluster(),
        ListSource(tuple(jobs), orgs, reservations),
        policy,
        config=config,
        record=True,
    )

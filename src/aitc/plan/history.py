"""What the control plane recorded, as the plan layer replays it: plain values, no store.

``aitc.control.history`` reads them from the store (read-only) and hands them here, so the plan
layer never imports the control plane (the layering of ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from aitc.domain.cluster import Cluster
from aitc.domain.org import Organisation


@dataclass(frozen=True)
class RecordedJob:
    """One job as recorded: the request, when it was submitted and chosen, how long it ran."""

    id: int
    org: str
    project: str
    member: str
    gpus: int
    mig: str | None
    nodes: int | None
    gpu_model: str | None
    time_limit: float | None
    priority: str
    submit: float
    start: float | None
    runtime: float
    state: str


@dataclass(frozen=True)
class History:
    jobs: tuple[RecordedJob, ...]
    organisations: tuple[Organisation, ...]
    cluster: Cluster | None
    live_policy: str | None
    since: float
    until: float

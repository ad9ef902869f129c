"""What the overview and the cluster map show, read from the store for one caller.

Which job holds which GPU or MIG slice comes from the running jobs' placements (as the API's
``/gpus`` reads them); whether the caller may see a job is the store's own rule
(``access.visible_jobs``). A job the caller may not see shows only its organisation, never
its number, name or member.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, visible_jobs
from aitc.control.store.cluster import list_nodes
from aitc.control.store.directory import list_organisations
from aitc.control.store.drains import NodeStatus, node_statuses
from aitc.control.store.jobs import jobs_in_states
from aitc.control.store.models import JobRow
from aitc.control.store.specs import placement_from_json
from aitc.domain.gpu import GPU_MODELS
from aitc.domain.job import JobState

HOLDING = (JobState.STARTING, JobState.RUNNING)
MEMORY_SLOTS = 8  # MIG memory slots of a GPU (the map draws slices on this grid)
PALETTE = 8  # colour classes org-0 … org-7 in app.css


@dataclass(frozen=True, slots=True)
class Occupant:
    """A job on a GPU or slice: its organisation always; the rest only if visible."""

    org: str
    colour: int
    job_id: int | None = None
    name: str | None = None
    member: str | None = None
    profile: str | None = None
    start: int = 0
    size: int = MEMORY_SLOTS

    @property
    def label(self) -> str:
        if self.job_id is None:
            return f"{self.org} (a job you may not see)"
        return f"job {self.job_id} {self.name} ({self.member}, {self.org})"


@dataclass
class GpuCell:
    index: int
    whole: Occupant | None = None
    slices: list[Occupant] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return self.whole is not None or bool(self.slices)


@dataclass
class NodeCard:
    name: str
    model: str
    status: NodeStatus
    gpus: list[GpuCell]

    @property
    def busy(self) -> int:
        return sum(1 for g in self.gpus if g.busy)

    @property
    def state(self) -> str:
        """up, down, draining or drained (``NodeStatus.shown``)."""
        return self.status.shown(busy=self.busy > 0)

    @property
    def reason(self) -> str:
        return self.status.reason


@dataclass
class ClusterMap:
    """Nodes grouped by scalable unit and leaf, the organisations' colours, busy GPUs."""

    groups: dict[int, dict[int, list[NodeCard]]]
    colours: dict[str, int]
    org_names: dict[str, str]
    busy_by_org: dict[str, float]
    total_gpus: int

    @property
    def busy(self) -> float:
        return sum(self.busy_by_org.values())

    @property
    def nodes(self) -> list[NodeCard]:
        """Every node, by name."""
        cards = [c for leaves in self.groups.values() for cs in leaves.values() for c in cs]
        return sorted(cards, key=lambda c: c.name)


def cluster_map(*, session: Session, caller: Caller) -> ClusterMap:
    """Every node, GPU and MIG slice with the job on it, as ``caller`` may see it."""
    orgs = list_organisations(session=session)
    colours = {o.id: i % PALETTE for i, o in enumerate(orgs)}
    nodes = list_nodes(session=session)
    models = {n.name: n.gpu_model for n in nodes}
    running = jobs_in_states(session=session, states=HOLDING)
    visible = _visible_ids(session, caller, [j.id for j in running])
    cells: dict[tuple[str, int], GpuCell] = {}
    busy: dict[str, float] = defaultdict(float)
    for job in running:
        if job.placement is None:
            continue
        shown = job.id in visible
        for alloc in placement_from_json(job.placement).allocs:
            for index in alloc.gpus:
                cell = cells.setdefault((alloc.node, index), GpuCell(index))
                cell.whole = _occupant(job, shown, colours)
                busy[job.org_id] += 1
            if alloc.mig is not None:
                size = _slice_size(models.get(alloc.node), alloc.mig.profile)
                cell = cells.setdefault((alloc.node, alloc.mig.gpu), GpuCell(alloc.mig.gpu))
                cell.slices.append(
                    _occupant(job, shown, colours, alloc.mig.profile, alloc.mig.start, size)
                )
                busy[job.org_id] += size / MEMORY_SLOTS
    groups: dict[int, dict[int, list[NodeCard]]] = defaultdict(lambda: defaultdict(list))
    statuses = node_statuses(session=session)
    total = 0
    for n in nodes:
        gpus = [cells.get((n.name, i)) or GpuCell(i) for i in range(n.gpus)]
        groups[n.su][n.leaf].append(NodeCard(n.name, n.gpu_model, statuses[n.name], gpus))
        total += n.gpus
    return ClusterMap(
        groups={su: dict(leaves) for su, leaves in sorted(groups.items())},
        colours=colours,
        org_names={o.id: o.name for o in orgs},
        busy_by_org=dict(sorted(busy.items())),
        total_gpus=total,
    )


def _occupant(
    job: JobRow,
    shown: bool,
    colours: dict[str, int],
    profile: str | None = None,
    start: int = 0,
    size: int = MEMORY_SLOTS,
) -> Occupant:
    colour = colours.get(job.org_id, 0)
    if not shown:
        return Occupant(job.org_id, colour, profile=profile, start=start, size=size)
    return Occupant(job.org_id, colour, job.id, job.name, job.member_id, profile, start, size)


def _slice_size(model: str | None, profile: str) -> int:
    for gpu in [GPU_MODELS[model]] if model in GPU_MODELS else GPU_MODELS.values():
        for p in gpu.mig_profiles:
            if p.name == profile:
                return p.size
    return 1


def _visible_ids(session: Session, caller: Caller, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    stmt = select(JobRow.id).where(JobRow.id.in_(ids), visible_jobs(caller))
    return set(session.scalars(stmt))

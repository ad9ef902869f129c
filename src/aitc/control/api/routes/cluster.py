"""/api/v1 nodes, GPUs, the queue, usage, the fair-share tree and who you are."""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep, after_commit
from aitc.control.api.errors import Utf8Route
from aitc.control.api.schemas import (
    GpuPublic,
    GpusPublic,
    JobPublic,
    MePublic,
    NodePublic,
    NodesPublic,
    NodeUpdate,
    QueuePublic,
    ShareRowPublic,
    SharesPublic,
    UsagePublic,
    UsageRowPublic,
    when,
)
from aitc.control.shares import shares
from aitc.control.store.access import Caller, require_admin, visible_jobs
from aitc.control.store.cluster import list_nodes
from aitc.control.store.drains import node_statuses, set_admin_state
from aitc.control.store.jobs import JobFilters, jobs_in_states, list_jobs
from aitc.control.store.models import JobRow
from aitc.control.store.specs import placement_from_json
from aitc.control.store.usage import UsageBy, usage
from aitc.domain.job import JobState
from aitc.errors import ConfigError

router = APIRouter(tags=["cluster"], route_class=Utf8Route)
_HOLDING = (JobState.STARTING, JobState.RUNNING)


def _holders(session: SessionDep) -> dict[tuple[str, int], JobRow]:
    """Which job holds each (node, GPU index) now."""
    out: dict[tuple[str, int], JobRow] = {}
    for job in jobs_in_states(session=session, states=_HOLDING):
        if job.placement is None:
            continue
        for alloc in placement_from_json(job.placement).allocs:
            gpus = alloc.gpus or ((alloc.mig.gpu,) if alloc.mig else ())
            for index in gpus:
                out[(alloc.node, index)] = job
    return out


def _visible_ids(session: SessionDep, caller: Caller, jobs: list[JobRow]) -> set[int]:
    ids = [j.id for j in jobs]
    if not ids:
        return set()
    stmt = select(JobRow.id).where(JobRow.id.in_(ids), visible_jobs(caller))
    return set(session.scalars(stmt))


@router.get("/nodes", response_model=NodesPublic)
def read_nodes(session: SessionDep, _: CallerDep) -> NodesPublic:
    """Every node with its state (the executor's, or an admin's when worse), why, and how many
    of its GPUs are busy."""
    return NodesPublic(data=_nodes(session))


@router.patch("/nodes/{name}", response_model=NodePublic)
def update_node(
    name: Annotated[str, Path(max_length=128)],
    body: NodeUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> NodePublic:
    """Drain a node, set it down or resume it (admins, as `scontrol update NodeName=X
    State=DRAIN Reason=...`): a drained node starts nothing new and its running jobs finish; a
    down node's running jobs are stopped and requeued; resume gives it back. The controller
    follows at its next pass. 404 for an unknown node, 422 on `reason` when it is missing."""
    require_admin(caller)
    reason = (body.reason or "").strip()
    if body.state != "resume" and not reason:
        raise ConfigError(f"say why the node is set {body.state} (as Slurm asks)", field="reason")
    set_admin_state(
        session=session,
        node=name,
        state=body.state,
        reason=reason,
        by=caller.member_id,
        now=settings.clock.now(),
    )
    session.flush()
    after_commit(session, settings)
    return next(n for n in _nodes(session) if n.name == name)


def _nodes(session: SessionDep) -> list[NodePublic]:
    holders = _holders(session)
    busy = Counter(node for node, _ in holders)
    statuses = node_statuses(session=session)
    out = []
    for n in list_nodes(session=session):
        status = statuses[n.name]
        out.append(
            NodePublic(
                name=n.name,
                gpus=n.gpus,
                gpu_model=n.gpu_model,
                state=status.shown(busy=busy[n.name] > 0),
                reason=status.reason,
                reason_by=status.set_by,
                reason_at=when(status.set_at),
                gpus_busy=busy[n.name],
            )
        )
    return out


@router.get("/gpus", response_model=GpusPublic)
def read_gpus(session: SessionDep, caller: CallerDep) -> GpusPublic:
    """Every GPU and the job on it (the job's number only if you may see that job)."""
    holders = _holders(session)
    visible = _visible_ids(session, caller, list({j.id: j for j in holders.values()}.values()))
    data = []
    for n in list_nodes(session=session):
        for i in range(n.gpus):
            job = holders.get((n.name, i))
            data.append(
                GpuPublic(
                    node=n.name,
                    index=i,
                    model=n.gpu_model,
                    busy=job is not None,
                    job_id=job.id if job is not None and job.id in visible else None,
                )
            )
    return GpusPublic(data=data)


@router.get("/queue", response_model=QueuePublic)
def read_queue(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    member: Annotated[str | None, Query(max_length=64)] = None,
    project: Annotated[str | None, Query(max_length=64)] = None,
) -> QueuePublic:
    """Running jobs, then pending jobs in the order they were submitted (those you may see;
    of one member or project if asked)."""

    def pick(states: tuple[JobState, ...]) -> list[JobPublic]:
        filters = JobFilters(
            states=states, limit=limit, oldest_first=True, member=member, project=project
        )
        return [
            JobPublic.of(j, caller)
            for j in list_jobs(session=session, caller=caller, filters=filters)[0]
        ]

    return QueuePublic(running=pick(_HOLDING), pending=pick((JobState.PENDING,)))


@router.get("/usage", response_model=UsagePublic)
def read_usage(
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    by: UsageBy = UsageBy.ORGANISATION,
    since: Annotated[float | None, Query(ge=0, le=1e11, description="Epoch seconds.")] = None,
) -> UsagePublic:
    """GPU time used by the jobs you may see, per organisation, project or member."""
    rows = usage(session=session, caller=caller, by=by, now=settings.clock.now(), since=since)
    return UsagePublic(
        by=by.value,
        data=[
            UsageRowPublic(
                key=r.key,
                jobs=r.jobs,
                gpu_seconds=round(r.gpu_seconds, 3),
                gpu_hours=round(r.gpu_seconds / 3600, 3),
            )
            for r in rows
        ],
    )


@router.get("/shares", response_model=SharesPublic)
def read_shares(session: SessionDep, caller: CallerDep, settings: SettingsDep) -> SharesPublic:
    """The fair-share tree as the scheduler sees it now (like Slurm's sshare): every
    organisation, and the projects and members whose jobs you may see."""
    tree = shares(session, caller, settings.policy, settings.clock.now())
    data = []
    for row in tree.rows:
        node = row.standing
        project, member = (*node.key[1:], None, None)[:2]
        data.append(
            ShareRowPublic(
                organisation=node.key[0],
                project=project,
                member=member,
                share=node.share,
                norm_share=round(node.norm_share, 6),
                usage_gpu_hours=round(node.usage / 3600, 3),
                norm_usage=round(node.norm_usage, 6),
                level=round(node.level, 6) if math.isfinite(node.level) else None,
                rank=row.rank,
                pending_jobs=row.pending,
            )
        )
    return SharesPublic(
        policy=tree.policy,
        orders_queue=tree.orders_queue,
        half_life_s=tree.half_life_s,
        members=tree.members,
        data=data,
    )


@router.get("/me", response_model=MePublic)
def read_me(caller: CallerDep) -> MePublic:
    """Who the token belongs to, and what they may see."""
    return MePublic(
        id=caller.member_id,
        role=caller.role,
        organisation=caller.org_id,
        projects=sorted(caller.projects),
    )

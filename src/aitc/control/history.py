"""What the control plane recorded, read back for a what-if replay (read-only).

Only ``SELECT`` statements on ``jobs``, ``job_events``, ``organisations`` and ``nodes``
(through the store's SQLAlchemy models); a SQLite file is opened in read-only mode. A job's
recorded start is its first ``starting`` event (when the scheduler chose it), its runtime the
sum of its attempts (each from ``starting`` to the next event that ends it: back to
``pending``, or a final state); jobs that never started are replayed with their time limit
as runtime and are left out of the fidelity figures. The live policy is the one named in the
``scheduled by POLICY on …`` causes of the start events.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, select
from sqlalchemy.orm import Session

from aitc.control.store.models import JobEventRow, JobRow, NodeRow, OrganisationRow
from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS, GpuModel
from aitc.domain.node import NODE_MODELS, NodeModel
from aitc.domain.org import Organisation, OrgKind
from aitc.plan.history import History, RecordedJob

ENDS_ATTEMPT = frozenset({"pending", "completed", "failed", "cancelled", "timeout"})
SCHEDULED_BY = re.compile(r"scheduled by (\S+) on ")


def sqlite_readonly(url: str) -> str:
    """A SQLite file URL opened read-only; other URLs unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(str(parsed.database)).expanduser().resolve()
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def open_engine(url: str) -> Engine:
    return create_engine(sqlite_readonly(url))


def read_history(engine: Engine, *, since: float, until: float) -> History:
    """The jobs submitted in [since, until) with their events, organisations and nodes."""
    with Session(engine) as session:  # read only: nothing is added, flushed or committed
        rows = session.scalars(
            select(JobRow)
            .where(JobRow.submitted_at >= since, JobRow.submitted_at < until)
            .order_by(JobRow.submitted_at, JobRow.id)
        ).all()
        ids = [r.id for r in rows]
        events: dict[int, list[tuple[float, str, str]]] = {i: [] for i in ids}
        for chunk in _chunks(ids, 5000):
            for e in session.execute(
                select(JobEventRow.job_id, JobEventRow.at, JobEventRow.to_state, JobEventRow.cause)
                .where(JobEventRow.job_id.in_(chunk))
                .order_by(JobEventRow.job_id, JobEventRow.id)
            ):
                events[e.job_id].append((e.at, e.to_state, e.cause))
        orgs = session.scalars(select(OrganisationRow).order_by(OrganisationRow.id)).all()
        nodes = session.scalars(select(NodeRow).order_by(NodeRow.name)).all()
        jobs = tuple(_job(r, events[r.id]) for r in rows)
        organisations = tuple(_organisation(o) for o in orgs)
        cluster = _cluster(nodes)
    policies = Counter(
        m[1] for evs in events.values() for _, _, cause in evs if (m := SCHEDULED_BY.match(cause))
    )
    return History(
        jobs=jobs,
        organisations=organisations,
        cluster=cluster,
        live_policy=policies.most_common(1)[0][0] if policies else None,
        since=since,
        until=until,
    )


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _job(r: JobRow, events: list[tuple[float, str, str]]) -> RecordedJob:
    start, runtime, began = None, 0.0, None
    for at, state, _ in events:
        if state == "starting":
            start = at if start is None else start
            began = at
        elif state in ENDS_ATTEMPT and began is not None:
            runtime += at - began
            began = None
    if start is None:
        runtime = float(r.time_limit or 3600.0)
    return RecordedJob(
        id=r.id,
        org=r.org_id,
        project=r.project_id,
        member=r.member_id,
        gpus=r.gpus,
        mig=r.mig,
        nodes=r.nodes,
        gpu_model=r.gpu_model,
        time_limit=r.time_limit,
        priority=r.priority,
        submit=r.submitted_at,
        start=start,
        runtime=max(runtime, 1.0),
        state=r.state,
    )


def _organisation(o: OrganisationRow) -> Organisation:
    return Organisation(
        o.id, o.name, OrgKind(o.kind), o.share, quota=o.quota, borrow_limit=o.borrow_limit
    )


def _cluster(rows: Sequence[NodeRow]) -> Cluster | None:
    """The recorded nodes as a cluster: a catalog node model where the store names one, else
    a model with the recorded GPU count and GPU model."""
    if not rows:
        return None
    nodes = []
    for n in rows:
        nodes.append(Node(n.name, _node_model(n.node_model, n.gpus, n.gpu_model), n.leaf, n.su))
    return Cluster("recorded", tuple(nodes))


def _node_model(name: str | None, gpus: int, gpu: str) -> NodeModel:
    if name in NODE_MODELS and NODE_MODELS[str(name)].gpus == gpus:
        return NODE_MODELS[str(name)]
    model = GPU_MODELS.get(gpu) or GpuModel(gpu, 0, 0.0, 0, 0, {})
    return NodeModel(f"{gpus}x{model.name}", model, gpus, 0, 0, 0.0, 0, 0, 0)

"""Nodes in the store, as the executor last reported them, and the checks a submission must
pass against them (a job that could never run on this cluster is refused at the door).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.store.models import NodeRow
from aitc.control.store.specs import JobSpec
from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS, GpuModel
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest
from aitc.domain.node import NodeModel
from aitc.engine.reasons import impossible_reason
from aitc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One node to record: what ``upsert_nodes`` writes."""

    name: str
    gpus: int
    gpu_model: str
    state: str = "up"
    reason: str = ""
    node_model: str | None = None
    leaf: int = 0
    su: int = 0


def upsert_nodes(*, session: Session, nodes: list[NodeRecord], now: float) -> None:
    """Insert or update each node (nodes not listed are left as they are)."""
    for rec in nodes:
        row = session.get(NodeRow, rec.name) or NodeRow(name=rec.name)
        row.gpus, row.gpu_model, row.node_model = rec.gpus, rec.gpu_model, rec.node_model
        row.state, row.reason, row.leaf, row.su = rec.state, rec.reason, rec.leaf, rec.su
        row.updated_at = now
        session.add(row)


def list_nodes(*, session: Session) -> list[NodeRow]:
    return list(session.scalars(select(NodeRow).order_by(NodeRow.name)))


_NODES = select(NodeRow.name, NodeRow.gpus, NodeRow.gpu_model, NodeRow.leaf, NodeRow.su)
_FINGERPRINT = select(func.count(NodeRow.name), func.max(NodeRow.updated_at))
_recorded: dict[tuple[int, int, float | None], Cluster | None] = {}


def check_fits_cluster(*, session: Session, spec: JobSpec) -> None:
    """``ConfigError`` naming the field when ``spec`` can never run on the recorded nodes.

    The rule is the engine's (``impossible_reason``), the one the twin applies to every job of a
    trace, so the API refuses exactly what the engine could never place. With no nodes recorded
    yet nothing is checked: the cluster is not known.
    """
    cluster = recorded_cluster(session=session)
    if cluster is None:
        return
    reason = impossible_reason(spec_request(spec), cluster)
    if reason is not None:
        raise ConfigError(reason.message, field=str(reason.details.get("field", "gpus")))


def recorded_cluster(*, session: Session) -> Cluster | None:
    """The cluster of the recorded nodes (None when there are none), rebuilt only when a node
    changed: submissions read it on every request."""
    conn = session.connection()
    count, updated = conn.execute(_FINGERPRINT).one()
    key = (id(conn.engine), int(count), updated)
    if key in _recorded:
        return _recorded.get(key)
    rows = list(conn.execute(_NODES))
    cluster = Cluster("recorded", tuple(_node(r) for r in rows)) if rows else None
    _recorded.clear()  # one store per process in practice; tests open many
    _recorded[key] = cluster
    return cluster


def _node(row: Any) -> Node:
    gpu = GPU_MODELS.get(row.gpu_model) or GpuModel(row.gpu_model, 0, 0.0, 0, 0, {})
    model = NodeModel(f"{row.gpus}x{gpu.name}", gpu, row.gpus, 0, 0, 0.0, 0, 0, 0)
    return Node(row.name, model, row.leaf, row.su)


def spec_request(spec: JobSpec) -> JobRequest:
    """The engine's request for a submission not yet stored (the shape is all it reads)."""
    return JobRequest(
        id=JobId(0),
        org="",
        project="",
        member="",
        gpus=spec.gpu_count,
        submit=0.0,
        nodes=spec.nodes,
        mig=spec.mig,
        gpu_model=spec.gpu_model,
        time_limit=spec.time_limit,
    )

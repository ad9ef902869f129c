"""Nodes in the store, as the executor last reported them, and the checks a submission must
pass against them (a job that could never run on this cluster is refused at the door).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.models import NodeRow
from aitc.control.store.specs import JobSpec
from aitc.domain.gpu import GPU_MODELS
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


_NODE_GPUS = select(NodeRow.gpus, NodeRow.gpu_model)


def check_fits_cluster(*, session: Session, spec: JobSpec) -> None:
    """``ConfigError`` naming the field when ``spec`` can never run on the recorded nodes.

    With no nodes recorded yet nothing is checked: the cluster is not known.
    """
    nodes = list(session.connection().execute(_NODE_GPUS))
    if not nodes:
        return
    if spec.gpu_model is not None:
        nodes = [n for n in nodes if n.gpu_model == spec.gpu_model]
        if not nodes:
            raise ConfigError(f"no node has {spec.gpu_model!r} GPUs", field="gpu_model")
    if spec.mig is not None:
        _check_mig(spec.mig, {n.gpu_model for n in nodes})
        return
    _check_gpu_count(spec, nodes)


def _check_gpu_count(spec: JobSpec, nodes: list[Any]) -> None:
    biggest = max(n.gpus for n in nodes)
    wanted = spec.gpu_count
    if spec.nodes is None and wanted > biggest:
        raise ConfigError(
            f"{wanted} GPUs is more than any node has ({biggest}); "
            f"ask for --nodes to spread the job over several nodes",
            field="gpus",
        )
    if spec.nodes is not None:
        if spec.nodes > len(nodes):
            raise ConfigError(f"the cluster has only {len(nodes)} nodes", field="nodes")
        if wanted // spec.nodes > biggest:
            raise ConfigError(
                f"{wanted // spec.nodes} GPUs per node is more than any node has ({biggest})",
                field="gpus",
            )


def _check_mig(profile: str, models: set[str]) -> None:
    known = [GPU_MODELS[m] for m in sorted(models) if m in GPU_MODELS] or list(GPU_MODELS.values())
    names = sorted({p.name for g in known for p in g.mig_profiles})
    if profile not in names:
        raise ConfigError(
            f"unknown MIG profile {profile!r} for this cluster's GPUs (known: {', '.join(names)})",
            field="mig",
        )

"""Why a job waits: structured ``Reason`` values with a sentence a student understands.

Each builder returns one ``Reason``; the numbers behind the sentence travel in ``details`` so
that the web pages and the CLI can render them their own way.
"""

from __future__ import annotations

from aitc.domain.cluster import Cluster
from aitc.domain.job import JobRequest
from aitc.engine.shape import shape_of
from aitc.engine.view import Reason, ReasonCode
from aitc.errors import CatalogError


def _gpus(n: int) -> str:
    return f"{n} GPU" if n == 1 else f"{n} GPUs"


def _ask(job: JobRequest) -> str:
    return f"a {job.mig} MIG slice" if job.mig else _gpus(job.gpus)


def impossible_reason(job: JobRequest, cluster: Cluster) -> Reason | None:
    """``IMPOSSIBLE`` when no state of this cluster could ever run ``job``; else ``None``."""
    models = [m for m in cluster.gpu_models if job.gpu_model in (None, m)]
    if not models:
        known = ", ".join(cluster.gpu_models) or "none"
        why = f"no node has GPU model {job.gpu_model} (this cluster has: {known})"
        return impossible(job, why, "gpu_model")
    if job.mig is not None:
        if not any(_has_profile(cluster, m, job.mig) for m in models):
            offered = sorted({p for m in models for p in _profiles(cluster, m)})
            why = f"no GPU here offers the MIG profile {job.mig} (known: {', '.join(offered)})"
            return impossible(job, why, "mig")
        return None
    for model in models:
        nodes = [n for n in cluster.nodes if n.gpu_model == model]
        shape = shape_of(job, max(n.gpus for n in nodes))
        if shape is not None and shape.node_count <= len(nodes):
            return None
    why = _why_too_big(job, cluster, models)
    field = "nodes" if job.nodes is not None and "nodes but" in why else "gpus"
    return impossible(job, why, field)


def _why_too_big(job: JobRequest, cluster: Cluster, models: list[str]) -> str:
    nodes = [n for n in cluster.nodes if n.gpu_model in models]
    total, widest = sum(n.gpus for n in nodes), max(n.gpus for n in nodes)
    if job.gpus <= 0:
        return "it asks for no GPU and no MIG slice"
    if job.gpus > total:
        return f"it asks for {_gpus(job.gpus)} but the cluster has only {total}"
    if job.nodes is not None and job.nodes > len(nodes):
        return f"it asks for {job.nodes} nodes but the cluster has only {len(nodes)}"
    if job.nodes is not None and job.gpus % job.nodes:
        return f"{_gpus(job.gpus)} cannot be split evenly over {job.nodes} nodes"
    return (
        f"{_gpus(job.gpus)} on {job.nodes or 1} node(s) needs more than the "
        f"{widest} GPUs a node has"
    )


def _profiles(cluster: Cluster, model: str) -> list[str]:
    node = next(n for n in cluster.nodes if n.gpu_model == model)
    return [p.name for p in node.model.gpu.mig_profiles]


def _has_profile(cluster: Cluster, model: str, profile: str) -> bool:
    node = next(n for n in cluster.nodes if n.gpu_model == model)
    try:
        node.model.gpu.mig(profile)
    except CatalogError:
        return False
    return True


def impossible(job: JobRequest, why: str, field: str = "gpus") -> Reason:
    """``IMPOSSIBLE``; ``details["field"]`` names the request's field at fault (for the API)."""
    return Reason(
        ReasonCode.IMPOSSIBLE,
        f"This job can never run on this cluster: {why}.",
        {"gpus": job.gpus, "mig": job.mig, "gpu_model": job.gpu_model, "field": field},
    )


def not_enough_gpus(job: JobRequest, free: int) -> Reason:
    return Reason(
        ReasonCode.NOT_ENOUGH_GPUS,
        f"It needs {_ask(job)} and only {_gpus(free)} are free right now.",
        {"gpus": job.gpus, "free_gpus": free},
    )


def no_contiguous(job: JobRequest, free: int, largest: int) -> Reason:
    return Reason(
        ReasonCode.NO_CONTIGUOUS_PLACEMENT,
        f"{_gpus(free)} are free, but they are spread out: the fullest free node has "
        f"{largest}, and this job needs {_ask(job)} on one node.",
        {"gpus": job.gpus, "free_gpus": free, "largest_free_node": largest},
    )


def gang_too_large(job: JobRequest, free: int, idle_nodes: int) -> Reason:
    return Reason(
        ReasonCode.GANG_TOO_LARGE,
        f"This job needs {_gpus(job.gpus)} started together on whole nodes; "
        f"{_gpus(free)} are free but only {idle_nodes} nodes are completely free.",
        {"gpus": job.gpus, "free_gpus": free, "idle_nodes": idle_nodes},
    )


def reservation(job: JobRequest, names: str) -> Reason:
    return Reason(
        ReasonCode.RESERVATION,
        f"The free GPUs that would fit it are held for a reservation ({names}); "
        "it would still be running when the reservation starts.",
        {"reservations": names},
    )


def quota(job: JobRequest, used: int, quota_gpus: int, borrow: int | None) -> Reason:
    limit = (
        "no borrowing"
        if borrow == 0
        else ("unlimited borrowing" if borrow is None else f"borrowing up to {_gpus(borrow)}")
    )
    return Reason(
        ReasonCode.QUOTA,
        f"Organisation {job.org} already uses {_gpus(used)} of its quota of "
        f"{quota_gpus} ({limit}); this job needs {_ask(job)} more.",
        {"org": job.org, "used": used, "quota": quota_gpus, "borrow_limit": borrow},
    )


def fair_share(job: JobRequest, rank: int, of: int, level: float) -> Reason:
    return Reason(
        ReasonCode.FAIR_SHARE,
        f"Fair share puts {job.member} ({job.org}/{job.project}) at place {rank} of "
        f"{of}: others have used less of their share lately (level {level:.2f}).",
        {"rank": rank, "of": of, "level": level},
    )


def priority(job: JobRequest, ahead: int, why: str = "") -> Reason:
    tail = f" ({why})" if why else ""
    return Reason(
        ReasonCode.PRIORITY,
        f"{ahead} job{'s' if ahead != 1 else ''} ahead of it in the queue must start first{tail}.",
        {"ahead": ahead},
    )


def backfill(job: JobRequest, head: int, shadow: float) -> Reason:
    return Reason(
        ReasonCode.BACKFILL,
        f"It fits now, but it would delay job {head}, which is promised these GPUs at "
        f"t={shadow:.0f}s; a shorter time limit would let it start earlier.",
        {"head": head, "shadow_time": shadow},
    )

"""How a heterogeneous trace's requests are mapped onto one cluster (the *mapping rule*).

Applied once the cluster is known, to a table read with ``gpu_fraction``, ``gpu_model``,
``cpus`` or ``memory`` columns:

1. **GPU model.** A label names one of the cluster's GPU models: the same name (any case), or
   a family that only one of them has (``A100`` for ``A100-80GB``). ``V100M16|V100M32``
   (alternatives, as Alibaba writes them) takes the first alternative the cluster has. An
   empty label means any model. A label the cluster lacks is kept: the job is rejected as
   ``no_such_gpu_model``.
2. **A share of one GPU** (GPUs x fraction below 1) goes to the *smallest MIG slice of its GPU
   model that holds the share by memory*: the profile with the least memory whose memory is
   at least share x the GPU's memory (fewest compute slices on a tie). A job naming no model
   uses the cluster's model when the cluster has only one. Where there is no such slice (the
   model has no MIG profiles, e.g. V100 or T4; the only slice is the whole GPU; the model is
   unknown or not fixed) the job takes one whole GPU: ``rounded_up_to_gpu``.
3. **Whole GPUs.** A share above 1 that is not whole rounds up (``rounded_up_to_gpu``).
4. **CPUs and memory** do not constrain placement (the engine schedules GPUs), but a job that
   asks for more per node than the largest node of its GPU model has (over the fewest nodes
   its GPUs need) can never run: it is rejected as ``too_many_cpus`` or ``too_much_memory``.
   Nodes with no CPU or memory figure are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from aitc.domain.cluster import Cluster
from aitc.domain.gpu import MIG_COMPUTE_SLICES, GpuModel, MigProfile, match_gpu_model
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.twin.columns import FloatArray, IntArray, JobColumns
from aitc.twin.trace import JobSource, TraceJob, Wrapping

# How a job was mapped (``JobColumns.how``); a MIG slice shows in the request itself.
AS_ASKED, ROUNDED_UP, TOO_MANY_CPUS, TOO_MUCH_MEMORY = 0, 1, 2, 3
HOW = ("as_asked", "rounded_up_to_gpu", "too_many_cpus", "too_much_memory")
_EPS = 1e-9


def smallest_slice(gpu: GpuModel, share: float) -> MigProfile | None:
    """The MIG profile of ``gpu`` a job asking ``share`` of one GPU gets (None: a whole GPU)."""
    if gpu.memory_gb <= 0:
        return None
    holding = [p for p in gpu.mig_profiles if p.memory_gb >= share * gpu.memory_gb - _EPS]
    if not holding:
        return None
    best = min(holding, key=lambda p: (p.memory_gb, p.compute_slices))
    return None if best.compute_slices >= MIG_COMPUTE_SLICES else best


def resolve_label(label: str, models: Sequence[str]) -> str:
    """The cluster's model that a trace's GPU model ``label`` names (the label if none)."""
    for alternative in (a.strip() for a in label.split("|")):
        found = match_gpu_model(alternative, models)
        if found is not None:
            return found
    return label.split("|", 1)[0].strip()


def fit_columns(cols: JobColumns, cluster: Cluster) -> JobColumns:
    """``cols`` with models resolved, shares mapped to slices or GPUs and ``how`` filled in."""
    gpus_of = {n.gpu_model: n.model.gpu for n in cluster.nodes}
    names = tuple(resolve_label(label, tuple(gpus_of)) for label in cols.gpu_models)
    only = next(iter(gpus_of)) if len(gpus_of) == 1 else None
    if only is not None and only not in names:
        names = (*names, only)
    model = cols.gpu_model if cols.gpu_model is not None else np.full(len(cols), -1, np.int64)
    how = np.zeros(len(cols), dtype=np.int64)
    gpus, mig, migs = cols.gpus.copy(), np.full(len(cols), -1, np.int64), list(cols.migs)
    if cols.mig is not None:
        mig = cols.mig.copy()
    if cols.asked is not None:
        model = model.copy()
        how[cols.asked != gpus] = ROUNDED_UP
        parts = np.flatnonzero(cols.asked < 1.0)
        shapes = zip(model[parts].tolist(), cols.asked[parts].tolist(), strict=True)
        for code, share in sorted(set(shapes)):
            name = names[code] if code >= 0 else only
            profile = smallest_slice(gpus_of[name], share) if name in gpus_of else None
            if profile is None:
                continue
            if profile.name not in migs:
                migs.append(profile.name)
            rows = parts[(model[parts] == code) & (cols.asked[parts] == share)]
            gpus[rows], mig[rows], how[rows] = 0, migs.index(profile.name), AS_ASKED
            model[rows] = names.index(str(name))
    fitted = replace(cols, gpus=gpus, mig=mig, migs=tuple(migs), gpu_models=names)
    if cols.gpu_model is not None or cols.asked is not None:
        fitted = replace(fitted, gpu_model=model)
    _refuse(fitted, cluster, how)
    return replace(fitted, how=how)


def _refuse(cols: JobColumns, cluster: Cluster, how: IntArray) -> None:
    """Mark the jobs whose CPUs or memory per node exceed every node of their model."""
    if cols.cpus is None and cols.memory_gb is None:
        return
    model = cols.gpu_model if cols.gpu_model is not None else np.full(len(cols), -1, np.int64)
    for code in np.unique(model).tolist():
        name = cols.gpu_models[code] if code >= 0 else None
        nodes = [n for n in cluster.nodes if name in (None, n.gpu_model)]
        if not nodes:
            continue  # the engine rejects these (no_such_gpu_model)
        rows = np.flatnonzero(model == code)
        spread = _fewest_nodes(cols, rows, max(n.gpus for n in nodes))
        for values, most, reason in (
            (cols.cpus, max(n.model.cpu_cores for n in nodes), TOO_MANY_CPUS),
            (cols.memory_gb, max(n.model.ram_gb for n in nodes), TOO_MUCH_MEMORY),
        ):
            if values is None or most <= 0:
                continue
            over = values[rows] / spread > most + _EPS  # NaN (not given) compares False
            how[rows[over & (how[rows] != TOO_MANY_CPUS)]] = reason


def _fewest_nodes(cols: JobColumns, rows: IntArray, widest: int) -> FloatArray:
    need = np.maximum(np.ceil(cols.gpus[rows] / max(widest, 1)), 1.0)
    return np.maximum(need, cols.nodes[rows]).astype(np.float64)


@dataclass(frozen=True)
class FittedSource(Wrapping):
    """A trace whose requests were mapped onto a cluster; ``how_of`` tells how, per job."""

    trace: JobSource
    how: IntArray  # HOW codes, in stream order
    first_id: int = 1

    def organisations(self) -> Sequence[Organisation]:
        return self.trace.organisations()

    def reservations(self) -> Sequence[Reservation]:
        return self.trace.reservations()

    def jobs(self) -> Iterator[TraceJob]:
        return self.trace.jobs()

    def how_of(self, job_id: int) -> int:
        return int(self.how[job_id - self.first_id])


def fit_source(source: JobSource, cluster: Cluster) -> JobSource:
    """``source`` mapped onto ``cluster`` when it is a table with heterogeneous columns
    (possibly inside a lab's ``WithLab``); any other source is returned as it is."""
    from aitc.twin.load import WithLab
    from aitc.twin.sources import TableSource

    inner = source.trace if isinstance(source, WithLab) else source
    if not isinstance(inner, TableSource) or not _heterogeneous(inner.columns):
        return source
    cols = fit_columns(inner.columns, cluster)
    table = replace(inner, columns=cols)
    outer: JobSource = replace(source, trace=table) if isinstance(source, WithLab) else table
    assert cols.how is not None
    return FittedSource(outer, cols.how)


def _heterogeneous(cols: JobColumns) -> bool:
    return any(c is not None for c in (cols.asked, cols.gpu_model, cols.cpus, cols.memory_gb))

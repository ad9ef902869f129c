"""A trace held as columns (numpy arrays), sorted by submit time, streamed out as ``TraceJob``.

Columns cost a few bytes per job where Python objects cost hundreds, so even a million-job trace
is held this way and turned into ``JobRequest`` objects one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest
from aitc.domain.org import Organisation, OrgKind, Project
from aitc.twin.trace import CHUNK_ROWS, TIME_LIMIT_HEADROOM, TIME_LIMIT_LADDER, TraceJob

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class JobColumns:
    """Jobs as parallel arrays in submit order; names are codes into the tuples below.

    ``submit`` counts seconds from the first submission; ``time_limit`` is NaN where the job
    gave none; ``nodes`` is 0 where placement chooses the node count.

    Heterogeneous traces add optional columns: ``asked`` (GPUs as asked, fractions kept:
    0.5 is half of one GPU; ``gpus`` holds them rounded up), ``gpu_model`` (codes into
    ``gpu_models``, -1 for any model), ``cpus`` and ``memory_gb`` (NaN where not given), and,
    once mapped onto a cluster (``requestmap``), ``how`` (``requestmap.HOW`` codes).
    """

    submit: FloatArray
    runtime: FloatArray
    gpus: IntArray
    time_limit: FloatArray
    nodes: IntArray
    tenant: IntArray
    project: IntArray
    member: IntArray
    tenants: tuple[str, ...]
    projects: tuple[tuple[str, str], ...]  # (organisation, project)
    members: tuple[str, ...]
    skipped: int = 0
    mig: IntArray | None = None  # codes into ``migs``; -1 for whole-GPU jobs
    migs: tuple[str, ...] = ()
    asked: FloatArray | None = None
    gpu_model: IntArray | None = None
    gpu_models: tuple[str, ...] = ()
    cpus: FloatArray | None = None
    memory_gb: FloatArray | None = None
    how: IntArray | None = None

    def __len__(self) -> int:
        return int(self.submit.shape[0])

    def head(self, n: int | None) -> JobColumns:
        """The ``n`` earliest submissions (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return _take(self, slice(0, max(n, 0)))

    def jobs(self, first_id: int = 1) -> Iterator[TraceJob]:
        """Stream the jobs as ``TraceJob``, ids numbered from ``first_id`` in submit order."""
        for lo in range(0, len(self), CHUNK_ROWS):
            yield from self._chunk(lo, min(lo + CHUNK_ROWS, len(self)), first_id)

    def _chunk(self, lo: int, hi: int, first_id: int) -> Iterator[TraceJob]:
        submit = self.submit[lo:hi].tolist()
        runtime = self.runtime[lo:hi].tolist()
        gpus = self.gpus[lo:hi].tolist()
        limit = self.time_limit[lo:hi].tolist()
        nodes = self.nodes[lo:hi].tolist()
        tenant, project = self.tenant[lo:hi].tolist(), self.project[lo:hi].tolist()
        member = self.member[lo:hi].tolist()
        tenants, projects, members = self.tenants, self.projects, self.members
        migs = self.migs
        mig = self.mig[lo:hi].tolist() if self.mig is not None else [-1] * (hi - lo)
        models = self.gpu_models
        model = self.gpu_model[lo:hi].tolist() if self.gpu_model is not None else None
        for i in range(hi - lo):
            req = JobRequest(
                id=JobId(first_id + lo + i),
                org=tenants[tenant[i]],
                project=projects[project[i]][1],
                member=members[member[i]],
                gpus=gpus[i],
                submit=submit[i],
                nodes=nodes[i] or None,
                time_limit=None if limit[i] != limit[i] else limit[i],
                mig=None if mig[i] < 0 else migs[mig[i]],
                gpu_model=None if model is None or model[i] < 0 else models[model[i]],
            )
            yield TraceJob(req, runtime[i])

    def organisations(self, weights: dict[str, float] | None = None) -> tuple[Organisation, ...]:
        """One organisation per tenant (weight 1 unless ``weights`` names it), with projects."""
        weights = weights or {}
        out = []
        for t in self.tenants:
            projects = tuple(Project(p, p, org) for org, p in self.projects if org == t)
            out.append(Organisation(t, t, OrgKind.RESEARCH, weights.get(t, 1.0), projects))
        return tuple(out)


def standard_time_limits(runtime: FloatArray) -> FloatArray:
    """Vectorised ``trace.standard_time_limit``: a round request covering each runtime."""
    ladder = np.asarray(TIME_LIMIT_LADDER)
    need = runtime * TIME_LIMIT_HEADROOM
    idx = np.searchsorted(ladder, need, side="left")
    beyond = np.ceil(need / 86400.0) * 86400.0
    return np.where(idx < ladder.size, ladder[np.minimum(idx, ladder.size - 1)], beyond)


def codes(values: Sequence[str] | npt.NDArray[Any]) -> tuple[IntArray, tuple[str, ...]]:
    """Dictionary-encode strings: codes into the sorted tuple of distinct values."""
    uniq, inverse = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return inverse.astype(np.int64), tuple(str(u) for u in uniq)


def sort_by_submit(cols: JobColumns, *, rebase: bool = True) -> JobColumns:
    """Stable sort by submit time; ``rebase`` shifts times so the first submission is at 0."""
    order = np.argsort(cols.submit, kind="stable")
    out = _take(cols, order)
    if rebase and len(out):
        return replace(out, submit=out.submit - out.submit[0])
    return out


def _take(cols: JobColumns, idx: slice | IntArray) -> JobColumns:
    return JobColumns(
        submit=cols.submit[idx],
        runtime=cols.runtime[idx],
        gpus=cols.gpus[idx],
        time_limit=cols.time_limit[idx],
        nodes=cols.nodes[idx],
        tenant=cols.tenant[idx],
        project=cols.project[idx],
        member=cols.member[idx],
        tenants=cols.tenants,
        projects=cols.projects,
        members=cols.members,
        skipped=cols.skipped,
        mig=None if cols.mig is None else cols.mig[idx],
        migs=cols.migs,
        asked=_pick(cols.asked, idx),
        gpu_model=_pick(cols.gpu_model, idx),
        gpu_models=cols.gpu_models,
        cpus=_pick(cols.cpus, idx),
        memory_gb=_pick(cols.memory_gb, idx),
        how=_pick(cols.how, idx),
    )


def _pick(values: npt.NDArray[Any] | None, idx: slice | IntArray) -> Any:
    return None if values is None else values[idx]

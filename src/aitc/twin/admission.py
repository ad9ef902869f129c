"""Admission on arrival: whether a job could ever run on the cluster, and how each job was
mapped onto it (the ``mapping`` section of ``summary.json``).

The rule is the engine's (``impossible_reason``, the one the API asks too), plus what the
trace's mapping onto the cluster already refused (``requestmap``: CPUs, memory). Every job is
counted once: on whole GPUs as asked, on a MIG slice (per profile), rounded up to whole GPUs,
or rejected, per reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aitc.domain.cluster import Cluster
from aitc.domain.job import JobRequest
from aitc.engine.reasons import impossible_reason
from aitc.twin.requestmap import AS_ASKED, HOW, ROUNDED_UP, TOO_MANY_CPUS

# the request field ``impossible_reason`` blames -> the reason counted
REASONS = {
    "gpu_model": "no_such_gpu_model",
    "mig": "no_such_mig_profile",
    "gpus": "too_many_gpus",
    "nodes": "too_many_nodes",
}
_Shape = tuple[int, int | None, str | None, str | None]


class Admission:
    """Callable on each arriving job (``Twin(can_ever_run=...)``); counts as it answers.

    ``how_of`` gives the mapping of a job by id (``FittedSource.how_of``); without it every
    job is taken as asked.
    """

    def __init__(self, cluster: Cluster, how_of: Callable[[int], int] | None = None) -> None:
        self._cluster, self._how_of = cluster, how_of
        self._memo: dict[_Shape, str | None] = {}
        self.whole = self.rounded = 0
        self.mig: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.models: dict[str, int] = {}

    def __call__(self, job: JobRequest) -> bool:
        how = self._how_of(job.id) if self._how_of is not None else AS_ASKED
        model = job.gpu_model or "any"
        self.models[model] = self.models.get(model, 0) + 1
        why = HOW[how] if how >= TOO_MANY_CPUS else self._impossible(job)
        if why is not None:
            self.rejected[why] = self.rejected.get(why, 0) + 1
            return False
        if job.mig is not None:
            self.mig[job.mig] = self.mig.get(job.mig, 0) + 1
        elif how == ROUNDED_UP:
            self.rounded += 1
        else:
            self.whole += 1
        return True

    def _impossible(self, job: JobRequest) -> str | None:
        key = (job.gpus, job.nodes, job.mig, job.gpu_model)
        if key not in self._memo:
            reason = impossible_reason(job, self._cluster)
            field = None if reason is None else str(reason.details.get("field", "gpus"))
            self._memo[key] = None if field is None else REASONS.get(field, field)
        return self._memo[key]

    def summary(self) -> dict[str, Any]:
        """The ``mapping`` section: jobs per way of mapping, rejections per reason."""
        return {
            "whole_gpus": self.whole,
            "mig": dict(sorted(self.mig.items())),
            "rounded_up_to_gpu": self.rounded,
            "rejected": dict(sorted(self.rejected.items())),
            "by_gpu_model": dict(sorted(self.models.items())),
        }

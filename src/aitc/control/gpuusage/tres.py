"""GPU usage of Slurm jobs from accounting: the TRES usage ``sacct --json`` reports per step.

Where Slurm gathers GPU figures (``AccountingStorageTRES`` with ``gres/gpu``, GPUs detected
with ``AutoDetect=nvml``), each step of a job carries, beside ``cpu``, ``mem`` and the rest,
``gres/gpuutil`` (percent) and ``gres/gpumem`` (bytes) in its TRES usage: the average over
the step's tasks (``TRESUsageInAve``), the largest task (``TRESUsageInMax``) and the sum
(``TRESUsageInTot``). A task's figure adds up every GPU its processes used, so one GPU's share
is the task's figure divided by the GPUs per task (the job's ``gres/gpu`` over the step's
tasks).

An attempt's aggregate is read from the step that used its GPUs most (the batch step of a
job whose work runs in an ``srun`` step reads 0): ``util_mean_pct`` from the average,
``memory_mean_mib`` and ``memory_max_mib`` from the average and the largest task, ``devices``
the GPUs held, ``samples`` the step's tasks. Slurm keeps no distribution of the samples and
no GPU power, so the 95th percentile, the idle share and the power stay empty (``None``), and
the report counts such jobs in no idle figure. A job without GPU figures (no NVML on its
nodes, as on the test cluster) has no aggregate at all, never one of zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aitc.control.gpuusage.samples import UsageAggregate

GPU_UTIL, GPU_MEM = "gres/gpuutil", "gres/gpumem"
MIB = 2.0**20


@dataclass(frozen=True, slots=True)
class StepUsage:
    """One step's TRES usage: TRES name (``cpu``, ``mem``, ``gres/gpuutil``…) to figure."""

    name: str
    tasks: int
    average: Mapping[str, float]
    maximum: Mapping[str, float]
    total: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class TresUsage:
    """One job as accounting saw it: its state, the GPUs it held and each step's usage."""

    job_id: int
    state: str
    gpus: int
    steps: tuple[StepUsage, ...]


def tres_map(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, float]:
    """A TRES list of ``sacct --json`` (``{"type": "gres", "name": "gpuutil", "count": 40}``)
    as ``{"gres/gpuutil": 40.0}``; entries without a count are left out."""
    out: dict[str, float] = {}
    for e in entries or ():
        count = e.get("count")
        if count is None:
            continue
        key = str(e.get("type") or "") + (f"/{e['name']}" if e.get("name") else "")
        out[key] = float(count)
    return out


def aggregate(usage: TresUsage) -> UsageAggregate | None:
    """The attempt's GPU usage (see the module docstring); ``None`` without GPU figures."""
    measured = [s for s in usage.steps if GPU_UTIL in s.average or GPU_MEM in s.average]
    if not measured:
        return None
    step = max(measured, key=lambda s: (s.total.get(GPU_UTIL, 0.0), s.total.get(GPU_MEM, 0.0)))
    per_task = max(usage.gpus / max(step.tasks, 1), 1.0)
    util = step.average.get(GPU_UTIL)
    memory = step.average.get(GPU_MEM, 0.0) / per_task / MIB
    return UsageAggregate(
        samples=step.tasks,
        devices=usage.gpus,
        util_mean_pct=None if util is None else min(100.0, util / per_task),
        util_p95_pct=None,
        idle_share=None,
        memory_mean_mib=memory,
        memory_max_mib=max(memory, step.maximum.get(GPU_MEM, 0.0) / per_task / MIB),
        power_mean_w=None,
    )

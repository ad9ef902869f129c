"""``job_gpu_usage``: each attempt's GPU usage aggregate, written as the controller takes it."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.gpuusage.samples import UsageAggregate
from aitc.control.store.models import JobGpuUsageRow

Key = tuple[int, int]


def record_gpu_usage(*, session: Session, usage: Mapping[Key, UsageAggregate], now: float) -> None:
    """Insert or replace the aggregate of each ``(job id, attempt)``."""
    for (job_id, attempt), a in usage.items():
        row = session.get(JobGpuUsageRow, (job_id, attempt))
        if row is None:
            row = JobGpuUsageRow(job_id=job_id, attempt=attempt)
            session.add(row)
        row.samples, row.devices = a.samples, a.devices
        row.util_mean_pct, row.util_p95_pct, row.idle_share = (
            a.util_mean_pct,
            a.util_p95_pct,
            a.idle_share,
        )
        row.memory_mean_mib, row.memory_max_mib = a.memory_mean_mib, a.memory_max_mib
        row.power_mean_w, row.updated_at = a.power_mean_w, now


def gpu_usage_of(*, session: Session, job_id: int) -> list[JobGpuUsageRow]:
    """The sampled attempts of a job, first attempt first (empty: never sampled). The caller
    has checked that the job is one it may see (``jobs.get_job``)."""
    stmt = select(JobGpuUsageRow).where(JobGpuUsageRow.job_id == job_id)
    return list(session.scalars(stmt.order_by(JobGpuUsageRow.attempt)))

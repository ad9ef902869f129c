"""GPU usage per organisation, project or member, from the jobs' start and end times."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, visible_jobs
from aitc.control.store.models import JobRow
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest


class UsageBy(StrEnum):
    ORGANISATION = "organisation"
    PROJECT = "project"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    jobs: int
    gpu_seconds: float


_COLUMN = {
    UsageBy.ORGANISATION: JobRow.org_id,
    UsageBy.PROJECT: JobRow.project_id,
    UsageBy.MEMBER: JobRow.member_id,
}


def usage(
    *, session: Session, caller: Caller, by: UsageBy, now: float, since: float | None = None
) -> list[UsageRow]:
    """GPU-seconds used by the jobs ``caller`` may see, grouped ``by``, largest first.

    A MIG slice counts as the fraction of a GPU its compute slices make; a running job counts
    up to ``now``; ``since`` clips the window.
    """
    stmt = select(_COLUMN[by], JobRow.gpus, JobRow.mig, JobRow.started_at, JobRow.ended_at).where(
        visible_jobs(caller), JobRow.started_at.is_not(None)
    )
    totals: dict[str, list[float]] = {}
    for key, gpus, mig, started, ended in session.execute(stmt):
        start = max(started, since) if since is not None else started
        seconds = max(0.0, (ended if ended is not None else now) - start)
        weight = _demand(gpus, mig)
        entry = totals.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds * weight
    rows = [UsageRow(k, int(v[0]), v[1]) for k, v in totals.items()]
    return sorted(rows, key=lambda r: (-r.gpu_seconds, r.key))


def _demand(gpus: int, mig: str | None) -> float:
    """GPUs held, counted as the engine counts them (a MIG slice is a fraction of a GPU)."""
    probe = JobRequest(id=JobId(0), org="", project="", member="", gpus=gpus, submit=0.0, mig=mig)
    return probe.gpu_demand

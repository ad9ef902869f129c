"""Reading the store into the engine's types: what the controller schedules from.

Every function runs inside the caller's session and returns plain frozen values, so the engine
pass that follows holds no database connection and no ORM object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store import (
    JobRow,
    OrganisationRow,
    ProjectRow,
    job_request,
    list_reservations,
    placement_from_json,
)
from aitc.domain.job import JobRequest, JobState, Placement
from aitc.domain.org import Organisation, OrgKind, Project
from aitc.domain.reservation import Reservation
from aitc.engine.ledger import PastRun

ACTIVE = (JobState.STARTING, JobState.RUNNING)


@dataclass(frozen=True, slots=True)
class ActiveJob:
    """A starting or running job as the controller tracks it."""

    request: JobRequest
    state: JobState
    attempt: int
    placement: Placement
    started: float
    cancel_requested: bool
    handle: str | None
    signal_request: str | None = None  # a signal to send it now (``[B:]SIG``)
    time_limit_request: float | None = None  # a new time limit to hand its executor
    requeue_request: str | None = None  # back to the queue (``requeue|hold MEMBER``)

    @property
    def id(self) -> int:
        return int(self.request.id)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The queue (the books' own) and the active jobs of one pass, in the engine's types."""

    pending: Sequence[JobRequest]
    active: Sequence[ActiveJob]


def active_job(row: JobRow) -> ActiveJob:
    return ActiveJob(
        request=job_request(row),
        state=JobState(row.state),
        attempt=row.attempt,
        placement=placement_from_json(row.placement or {}),
        started=row.started_at or 0.0,
        cancel_requested=bool(row.cancel_requested),
        handle=row.handle,
        signal_request=row.signal_request,
        time_limit_request=row.time_limit_request,
        requeue_request=row.requeue_request,
    )


def load_organisations(session: Session) -> tuple[Organisation, ...]:
    """Enabled organisations with their enabled projects."""
    projects: dict[str, list[Project]] = {}
    for p in session.scalars(select(ProjectRow).where(ProjectRow.enabled.is_(True))):
        projects.setdefault(p.org_id, []).append(Project(p.id, p.name, p.org_id, p.share))
    orgs = session.scalars(
        select(OrganisationRow)
        .where(OrganisationRow.enabled.is_(True))
        .order_by(OrganisationRow.id)
    )
    return tuple(
        Organisation(
            id=o.id,
            name=o.name,
            kind=OrgKind(o.kind),
            share=o.share,
            projects=tuple(projects.get(o.id, ())),
            quota=o.quota,
            borrow_limit=o.borrow_limit,
        )
        for o in orgs
    )


def load_reservations(session: Session, now: float) -> tuple[Reservation, ...]:
    """Reservations that have not ended yet."""
    return tuple(list_reservations(session=session, now=now))


# How far back the usage ledger reads runs, in half-lives of its decay (older usage counts
# less than a thousandth); the controller's books and the fair-share tree read the same.
HISTORY_HALF_LIVES = 10.0


def load_past_runs(session: Session, since: float) -> list[PastRun]:
    """Every run that used GPUs after ``since`` (or is still running), for the usage ledger."""
    # the columns ``job_request`` reads, not whole rows: a busy lab has many thousands of runs
    # in the window, and the fair-share tree (``aitc share``) reads them on every request
    stmt = select(*_REQUEST_COLUMNS, JobRow.started_at, JobRow.ended_at).where(
        JobRow.started_at.is_not(None),
        (JobRow.ended_at.is_(None)) | (JobRow.ended_at >= since),
    )
    return [PastRun(job_request(r), r.started_at or 0.0, r.ended_at) for r in session.execute(stmt)]


_REQUEST_COLUMNS = (
    JobRow.id,
    JobRow.org_id,
    JobRow.project_id,
    JobRow.member_id,
    JobRow.gpus,
    JobRow.submitted_at,
    JobRow.nodes,
    JobRow.mig,
    JobRow.gpu_model,
    JobRow.time_limit,
    JobRow.priority,
    JobRow.name,
    JobRow.dependency,
    JobRow.begin_at,
)

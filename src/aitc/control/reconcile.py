"""Bringing the store in line with what the executor reports.

Every pass, and once at start-up, the controller polls the executor and calls
``apply_reports``: an attempt seen running moves its job from ``starting`` to ``running``
(this is how attempts are adopted after a restart); an attempt that ended moves its job to
``completed``, ``failed``, ``timeout`` or ``cancelled``, or back to ``pending`` when it was
lost and the requeue policy allows another attempt. Every move is a ``job_events`` row with
its cause. Attempts the store no longer wants (an older attempt of a requeued job, a job
cancelled meanwhile) are returned as *stray*, for the controller to stop.

``vanished`` finds active jobs the executor has no record of at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.executors.base import ExecReport, ExecStatus
from aitc.control.snapshot import ACTIVE, ActiveJob
from aitc.control.store import JobRow, transition
from aitc.domain.job import JobState

Attempt = tuple[int, int]


@dataclass(frozen=True, slots=True)
class RequeuePolicy:
    """What happens to an attempt the executor lost (node down, processes vanished)."""

    requeue_lost: bool = True
    max_attempts: int = 3


@dataclass
class Outcome:
    """What ``apply_reports`` changed, for the controller's capacity and usage books."""

    running: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    stray: list[Attempt] = field(default_factory=list)
    drained: list[Attempt] = field(default_factory=list)


def apply_reports(
    *,
    session: Session,
    reports: Sequence[ExecReport],
    now: float,
    policy: RequeuePolicy,
) -> Outcome:
    """Record what the executor reported, in the caller's transaction."""
    out = Outcome()
    ids = sorted({r.job_id for r in reports})
    rows = (
        {
            r.id: r
            for r in session.scalars(select(JobRow).where(JobRow.id.in_(ids)).with_for_update())
        }
        if ids
        else {}
    )
    for report in reports:
        row = rows.get(report.job_id)
        ended = report.status != ExecStatus.RUNNING
        current = row is not None and row.attempt == report.attempt and row.state in ACTIVE
        if not current:
            (out.drained if ended else out.stray).append((report.job_id, report.attempt))
            continue
        assert row is not None
        if row.state == JobState.STARTING:
            _to_running(session, row, report, now)
            out.running.append(row.id)
        if ended:
            _finish(session, row, report, now, policy)
            out.ended.append(row.id)
    return out


def _to_running(session: Session, row: JobRow, report: ExecReport, now: float) -> None:
    where = ", ".join(report.nodes) or "its node"
    row.handle = report.handle
    transition(
        session=session,
        job=row,
        to=JobState.RUNNING,
        now=now,
        cause=f"process running on {where} ({report.handle})",
    )


def _finish(
    session: Session, row: JobRow, report: ExecReport, now: float, policy: RequeuePolicy
) -> None:
    to, cause = ended_state(row, report, policy)
    transition(session=session, job=row, to=to, cause=cause, now=now, exit_code=report.exit_code)


def ended_state(row: JobRow, report: ExecReport, policy: RequeuePolicy) -> tuple[JobState, str]:
    """The state and cause a job takes when its current attempt ended as ``report`` says."""
    status, code = report.status, report.exit_code
    if status == ExecStatus.EXITED:
        if code == 0:
            return JobState.COMPLETED, "exited with code 0"
        return JobState.FAILED, report.cause or f"exited with code {code}"
    if status == ExecStatus.TIMEOUT:
        return JobState.TIMEOUT, report.cause or "exceeded its time limit"
    if status == ExecStatus.CANCELLED:
        who = row.cause if row.cancel_requested and row.cause else "cancelled outside aitc"
        how = report.cause.removeprefix("cancel requested").lstrip("; ")
        return JobState.CANCELLED, f"{who}; {how}" if how else who
    if policy.requeue_lost and row.attempt < policy.max_attempts:
        return JobState.PENDING, (
            f"lost: {report.cause or 'the executor lost it'}; requeued "
            f"(attempt {row.attempt} of at most {policy.max_attempts})"
        )
    return JobState.FAILED, f"lost: {report.cause or 'the executor lost it'}"


def vanished(
    active: Iterable[ActiveJob], reports: Sequence[ExecReport], misses: Counter[int], threshold: int
) -> list[ActiveJob]:
    """Running jobs absent from ``threshold`` polls in a row (``misses`` carries the count).

    Jobs in ``starting`` are not counted: their process may not have begun yet.
    """
    seen = {(r.job_id, r.attempt) for r in reports}
    gone = []
    for job in active:
        if job.state != JobState.RUNNING or (job.id, job.attempt) in seen:
            misses.pop(job.id, None)
            continue
        misses[job.id] += 1
        if misses[job.id] >= threshold:
            gone.append(job)
            del misses[job.id]
    return gone


def mark_vanished(
    *, session: Session, jobs: Sequence[ActiveJob], executor: str, now: float
) -> list[int]:
    """Fail jobs whose attempt the executor has no record of; returns the ids changed."""
    changed = []
    for job in jobs:
        row = session.get(JobRow, job.id, with_for_update=True)
        if row is None or row.state != JobState.RUNNING or row.attempt != job.attempt:
            continue
        cause = (
            f"vanished: the {executor} executor has no record of attempt {job.attempt} "
            "(its state was lost, or it ran somewhere this controller cannot see)"
        )
        transition(session=session, job=row, to=JobState.FAILED, cause=cause, now=now)
        changed.append(job.id)
    return changed

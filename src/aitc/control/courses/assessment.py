"""Assessment: the course's assessment command, run as the learner on their seat, decides
passed (exit code 0) or failed (anything else, a time limit included).

- A learner asks for their own assessment; a session's instructor (or an admin) for any of
  its learners, or for all of them who have no result yet. It runs while the session is on,
  since the seat is the session's.
- The learner's lab gives up the seat (stopped, ``assessment:``); the assessment is a job of
  the learner on the same seat shape, charged like the lab (``labs.submit_seat_job``), with
  the course's assessment time limit (never past the session's end). It starts in the
  learner's home directory, where their lab worked, and finds ``AITC_COURSE`` and
  ``AITC_SESSION`` in its environment.
- The keeper follows it: when its job ends, the enrolment becomes ``passed`` or ``failed``.
  A failed learner may be assessed again; a passed one is done. Instructors may still record
  a result by hand (``enrolment.record_result``), and certificates are issued to passed
  learners as before (``certificates.issue_certificates``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.courses import labs
from aitc.control.courses.labrules import MINUTE
from aitc.control.courses.sessions import get_session, is_teacher
from aitc.control.store.access import Caller
from aitc.control.store.models import (
    CourseAssessmentRow,
    CourseLabRow,
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    JobRow,
)
from aitc.domain.job import JobState
from aitc.errors import AccessDeniedError, ConfigError, ConflictError, NotFoundError

ASSESSABLE = ("enrolled", "attended", "failed")


def _who(
    session: Session, caller: Caller, row: CourseSessionRow, members: Sequence[str]
) -> list[EnrolmentRow]:
    teacher = is_teacher(session=session, caller=caller, session_id=row.id)
    if not teacher and set(members) - {caller.member_id}:
        raise AccessDeniedError("only the session's instructors or an admin may assess others")
    stmt = select(EnrolmentRow).where(EnrolmentRow.session_id == row.id)
    if not members and teacher:  # everyone on a seat without a result, not being assessed
        running = select(CourseAssessmentRow.enrolment_id).where(
            CourseAssessmentRow.state == "running"
        )
        stmt = stmt.where(EnrolmentRow.state.in_(labs.SEATED), EnrolmentRow.id.not_in(running))
        return list(session.scalars(stmt.order_by(EnrolmentRow.id)))
    wanted = list(members) or [caller.member_id]
    found = {
        e.member_id: e for e in session.scalars(stmt.where(EnrolmentRow.member_id.in_(wanted)))
    }
    missing = [m for m in wanted if m not in found]
    if missing:
        raise NotFoundError(f"{', '.join(missing)}: not enrolled in session {row.id}")
    return [found[m] for m in wanted]


def _check(session: Session, enrolment: EnrolmentRow) -> None:
    if enrolment.state not in ASSESSABLE:
        raise ConflictError(
            f"{enrolment.member_id} is {enrolment.state} in session {enrolment.session_id}; "
            "only learners on a seat without a pass are assessed"
        )
    running = select(CourseAssessmentRow.id).where(
        CourseAssessmentRow.enrolment_id == enrolment.id, CourseAssessmentRow.state == "running"
    )
    if session.scalar(running.limit(1)) is not None:
        raise ConflictError(f"{enrolment.member_id}'s assessment is running already")


def request_assessments(
    *, session: Session, caller: Caller, session_id: int, members: Sequence[str], now: float
) -> list[CourseAssessmentRow]:
    """Start the assessment of ``members`` (empty: the caller, or for a teacher everyone on a
    seat without a result who is not being assessed); all or nothing."""
    row = get_session(session=session, session_id=session_id)
    course = session.get(CourseRow, row.course_id)
    assert course is not None
    if not course.assessment_command:
        raise ConfigError(
            f"course {course.id} has no assessment command; its instructors record results "
            "(aitc course result)",
            field="session",
        )
    if not row.start_at <= now < row.end_at:
        when = "has not started" if now < row.start_at else "has ended"
        raise ConfigError(
            f"session {session_id} {when}: assessments run on its seats", field="session"
        )
    enrolments = _who(session, caller, row, members)
    for enrolment in enrolments:
        _check(session, enrolment)
    return [_start(session, caller, row, course, e, now) for e in enrolments]


def _start(
    session: Session,
    caller: Caller,
    row: CourseSessionRow,
    course: CourseRow,
    enrolment: EnrolmentRow,
    now: float,
) -> CourseAssessmentRow:
    live = select(CourseLabRow).where(
        CourseLabRow.enrolment_id == enrolment.id, CourseLabRow.state.in_(labs.LIVE)
    )
    for lab in session.scalars(live).all():
        reason = f"assessment: its seat went to the assessment {caller.member_id} started"
        labs.stop_lab(session=session, lab=lab, reason=reason, now=now)
    runs = select(CourseAssessmentRow.id).where(CourseAssessmentRow.enrolment_id == enrolment.id)
    job = labs.submit_seat_job(
        session=session, row=row, course=course, member_id=enrolment.member_id,
        command=course.assessment_command, name=f"assess-{course.id}-{row.id}",
        env={"AITC_COURSE": course.id, "AITC_SESSION": str(row.id)},
        time_limit=min(course.assessment_limit_min * MINUTE, row.end_at - now),
        key=f"course-assessment-{row.id}-{enrolment.id}-{len(session.scalars(runs).all()) + 1}",
        now=now,
    )  # fmt: skip
    run = CourseAssessmentRow(
        session_id=row.id, enrolment_id=enrolment.id, member_id=enrolment.member_id,
        job_id=job.id, requested_by=caller.member_id, requested_at=now, state="running",
        cause="",
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


def follow(*, session: Session, now: float) -> list[CourseAssessmentRow]:
    """Record the result of every assessment whose job ended; return those."""
    running = select(CourseAssessmentRow).where(CourseAssessmentRow.state == "running")
    ended = []
    for run in session.scalars(running.order_by(CourseAssessmentRow.id)).all():
        job = session.get(JobRow, run.job_id)
        assert job is not None
        if not JobState(job.state).terminal:
            continue
        passed = job.state == JobState.COMPLETED.value and job.exit_code == 0
        run.state = "passed" if passed else "failed"
        run.exit_code, run.ended_at, run.cause = job.exit_code, now, job.cause
        enrolment = session.get(EnrolmentRow, run.enrolment_id)
        assert enrolment is not None
        if enrolment.state in ASSESSABLE:  # an instructor's result given meanwhile stands
            enrolment.state, enrolment.updated_at = run.state, now
        ended.append(run)
    return ended


def list_assessments(
    *, session: Session, caller: Caller, session_id: int
) -> list[CourseAssessmentRow]:
    """The session's assessment runs (its instructors and admins), or the caller's own."""
    get_session(session=session, session_id=session_id)
    stmt = select(CourseAssessmentRow).where(CourseAssessmentRow.session_id == session_id)
    if not is_teacher(session=session, caller=caller, session_id=session_id):
        stmt = stmt.where(CourseAssessmentRow.member_id == caller.member_id)
    return list(session.scalars(stmt.order_by(CourseAssessmentRow.id)))

"""/api/v1 courses, sessions, enrolments and certificates (see docs/courses.md)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep, after_commit
from aitc.control.api.errors import Utf8Route
from aitc.control.api.schemas import when
from aitc.control.courses import catalog, certificates, credential_routes, enrolment, sessions
from aitc.control.courses.credential_routes import issuer_key, public_base
from aitc.control.courses.schemas import (
    CertificatesPublic,
    CertificationCreate,
    CertificationPublic,
    CourseCreate,
    CoursePublic,
    CoursesPublic,
    EnrolmentCreate,
    EnrolmentPublic,
    EnrolmentsPublic,
    ResultCreate,
    RosterImport,
    SessionCreateBody,
    SessionPublic,
    SessionsPublic,
    session_request,
)
from aitc.control.store.access import require_admin
from aitc.control.store.models import CourseSessionRow, EnrolmentRow
from aitc.domain.lab import Course
from aitc.errors import ConfigError

router = APIRouter(tags=["courses"], route_class=Utf8Route)
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _course_public(s: Session, course_id: str) -> CoursePublic:
    row = catalog.get_course(session=s, course_id=course_id)
    certs = [
        CertificationPublic(
            member=c.member_id, issued_at=when(c.issued_at), expires_at=when(c.expires_at)
        )
        for c in catalog.certifications(session=s, course_id=course_id)
    ]
    return CoursePublic.of(row, certs)


@router.get("/courses", response_model=CoursesPublic)
def list_courses(session: SessionDep, caller: CallerDep) -> CoursesPublic:
    """Every course, with its certified instructors."""
    data = [_course_public(session, c.id) for c in catalog.list_courses(session=session)]
    return CoursesPublic(data=data, count=len(data))


@router.post("/courses", response_model=CoursePublic, status_code=status.HTTP_201_CREATED)
def create_course(body: CourseCreate, session: SessionDep, caller: CallerDep) -> CoursePublic:
    """Create or update a course (admins)."""
    require_admin(caller)
    course = Course(
        body.id, body.title, body.org, None, body.seats, body.mig_profile, hours=body.hours,
        description=body.description, gpus_per_seat=body.gpus_per_seat,
        lab_command=tuple(body.lab_command), assessment_command=tuple(body.assessment_command),
        criteria=body.criteria,
    )  # fmt: skip
    from aitc.control.store.models import OrganisationRow

    if session.get(OrganisationRow, body.org) is None:
        raise ConfigError(f"unknown organisation {body.org!r}", field="org")
    catalog.put_course(session=session, course=course, rules=body.lab_rules())
    session.flush()
    return _course_public(session, body.id)


@router.post("/courses/{course_id}/instructors", response_model=CoursePublic)
def certify_instructor(
    course_id: str,
    body: CertificationCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> CoursePublic:
    """Certify an instructor to teach the course, until ``expires`` (admins)."""
    require_admin(caller)
    expires = catalog.expiry_of(body.expires.isoformat()) if body.expires else None
    catalog.certify(
        session=session, course_id=course_id, member_id=body.member,
        now=settings.clock.now(), expires_at=expires,
    )  # fmt: skip
    session.flush()
    return _course_public(session, course_id)


def _session_public(s: Session, row: CourseSessionRow) -> SessionPublic:
    states = s.scalars(select(EnrolmentRow.state).where(EnrolmentRow.session_id == row.id))
    return SessionPublic.of(
        row, sessions.instructors_of(session=s, session_id=row.id), Counter(states)
    )


@router.get("/course-sessions", response_model=SessionsPublic)
def list_sessions(
    session: SessionDep, caller: CallerDep, course: str | None = None
) -> SessionsPublic:
    """Every session (of one course with ``?course=``), by start."""
    data = [
        _session_public(session, r)
        for r in sessions.list_sessions(session=session, course_id=course)
    ]
    return SessionsPublic(data=data, count=len(data))


@router.post("/course-sessions", response_model=SessionPublic, status_code=status.HTTP_201_CREATED)
def create_session(
    body: SessionCreateBody, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> SessionPublic:
    """Create a session: its seats become a reservation, or 422 with the engine's reason."""
    req = session_request(body)
    row = sessions.create_session(session=session, caller=caller, req=req, now=settings.clock.now())
    after_commit(session, settings)  # the controller plans with the new reservation at once
    return _session_public(session, row)


@router.get("/course-sessions/{session_id}", response_model=SessionPublic)
def show_session(session_id: SessionId, session: SessionDep, caller: CallerDep) -> SessionPublic:
    return _session_public(session, sessions.get_session(session=session, session_id=session_id))


def _enrolments(rows: list[EnrolmentRow]) -> EnrolmentsPublic:
    return EnrolmentsPublic(data=[EnrolmentPublic.of(e) for e in rows], count=len(rows))


@router.get("/course-sessions/{session_id}/enrolments", response_model=EnrolmentsPublic)
def list_enrolments(
    session_id: SessionId, session: SessionDep, caller: CallerDep
) -> EnrolmentsPublic:
    """The roster (instructors and admins) or the caller's own enrolment."""
    return _enrolments(enrolment.roster(session=session, caller=caller, session_id=session_id))


@router.post(
    "/course-sessions/{session_id}/enrolments",
    response_model=EnrolmentPublic,
    status_code=status.HTTP_201_CREATED,
)
def enrol(
    session_id: SessionId,
    body: EnrolmentCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> EnrolmentPublic:
    """Enrol the caller (instructors and admins: ``member``): a seat, else the waitlist."""
    row = enrolment.enrol(
        session=session, caller=caller, session_id=session_id, member_id=body.member,
        now=settings.clock.now(),
    )  # fmt: skip
    return EnrolmentPublic.of(row)


@router.post("/course-sessions/{session_id}/roster", response_model=EnrolmentsPublic)
def import_roster(
    session_id: SessionId,
    body: RosterImport,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> EnrolmentsPublic:
    """Enrol a list of members in order, all or nothing (the session's instructors, admins)."""
    rows = enrolment.import_roster(
        session=session, caller=caller, session_id=session_id, members=body.members,
        now=settings.clock.now(),
    )  # fmt: skip
    return _enrolments(rows)


@router.post("/course-sessions/{session_id}/cancel", response_model=EnrolmentsPublic)
def cancel(
    session_id: SessionId,
    body: EnrolmentCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> EnrolmentsPublic:
    """Cancel the caller's (or ``member``'s) enrolment; the answer lists it and whoever took
    the freed seat from the waitlist."""
    rows = enrolment.cancel(
        session=session, caller=caller, session_id=session_id, member_id=body.member,
        now=settings.clock.now(),
    )  # fmt: skip
    return _enrolments(rows)


@router.post("/course-sessions/{session_id}/results", response_model=EnrolmentPublic)
def record_result(
    session_id: SessionId,
    body: ResultCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> EnrolmentPublic:
    """Record attended, passed or failed (the session's instructors, admins)."""
    row = enrolment.record_result(
        session=session, caller=caller, session_id=session_id, member_id=body.member,
        result=body.result, now=settings.clock.now(),
    )  # fmt: skip
    return EnrolmentPublic.of(row)


@router.post("/course-sessions/{session_id}/certificates", response_model=CertificatesPublic)
def issue(
    session_id: SessionId,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> CertificatesPublic:
    """Sign a credential for every passed enrolment without one; answer all of the session's.
    Each names its status list at this server's address as the caller reached it."""
    if settings.credential_key is None:
        raise ConfigError(
            "this server has no issuer key configured (Settings.credential_key)", field="session"
        )
    certificates.issue_certificates(
        session=session, caller=caller, session_id=session_id, key=issuer_key(settings),
        now=settings.clock.now(), status_base=public_base(request),
    )  # fmt: skip
    session.flush()
    rows = certificates.list_certificates(session=session, caller=caller, session_id=session_id)
    return CertificatesPublic(data=[r.credential for r in rows], count=len(rows))


@router.get("/course-sessions/{session_id}/certificates", response_model=CertificatesPublic)
def list_certificates(
    session_id: SessionId, session: SessionDep, caller: CallerDep
) -> CertificatesPublic:
    """The session's credentials (instructors, admins) or the caller's own."""
    rows = certificates.list_certificates(session=session, caller=caller, session_id=session_id)
    return CertificatesPublic(data=[r.credential for r in rows], count=len(rows))


router.include_router(credential_routes.router)  # /credentials/..., /course-sessions/check

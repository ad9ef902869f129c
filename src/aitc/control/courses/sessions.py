"""Sessions: a course's window with its seats held by a reservation the engine guarantees.

Creating a session asks the engine's ``ReservationBook`` (the code the controller's passes
use) to place every reservation not yet ended together with the new one on the recorded
cluster; when it cannot, the session is refused with the engine's reason and nothing is stored.
A session's seats are ``mig_seats`` slices of the course's MIG profile, or ``seats x
gpus_per_seat`` whole GPUs. Only instructors certified for the course, with a certification
that lasts to the session's end, may teach it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.courses.catalog import get_course
from aitc.control.store.access import Caller
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    InstructorCertificationRow,
    OrganisationRow,
    SessionInstructorRow,
)
from aitc.control.store.reservations import check_guaranteed, put_reservation
from aitc.domain.reservation import Reservation
from aitc.errors import AccessDeniedError, ConfigError, NotFoundError

DEFAULT_CANCEL_DEADLINE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class SessionCreate:
    """What a new session needs; ``instructors`` empty means the caller; ``origin``: who
    makes it (``instructor``, or ``calendar`` for ``aitc lab apply``)."""

    course: str
    start: float
    end: float
    seats: int | None = None
    instructors: tuple[str, ...] = ()
    org: str | None = None
    location: str = ""
    remote: bool = False
    waitlist: int | None = None
    cancel_deadline: float | None = None
    origin: str = "instructor"


def seat_reservation(
    course: CourseRow,
    row: CourseSessionRow,
    *,
    end: float | None = None,
    seats: int | None = None,
) -> Reservation:
    """The reservation holding exactly the session's seats (or ``seats`` seats up to
    ``end``, when given)."""
    mig = course.mig_profile
    seats = row.seats if seats is None else seats
    assert row.reservation_id is not None, "a cancelled session holds no seats"
    return Reservation(
        id=row.reservation_id,
        org=row.org_id,
        start=row.start_at,
        end=row.end_at if end is None else end,
        gpus=0 if mig else seats * course.gpus_per_seat,
        mig_profile=mig,
        mig_seats=seats if mig else 0,
        name=f"{course.title} (course session)",
    )


def check_seats(*, session: Session, reservation: Reservation, now: float) -> None:
    """``ConfigError`` with the engine's reason when ``reservation`` cannot be guaranteed
    beside the stored reservations on the recorded cluster."""
    check_guaranteed(
        session=session, reservation=reservation, now=now, what="the seats", field="seats"
    )


def check_instructors(
    *, session: Session, course_id: str, instructors: tuple[str, ...], end: float, now: float
) -> None:
    """``ConfigError`` naming the first instructor not certified for the course through
    ``end``, and why."""
    for member in instructors:
        cert = session.get(InstructorCertificationRow, (member, course_id))
        if cert is None:
            raise ConfigError(
                f"{member} is not certified to teach {course_id}", field="instructors"
            )
        if cert.expires_at is None or cert.expires_at >= end:
            continue
        # a certification valid through a day ends at the next UTC midnight (catalog.expiry_of)
        through = datetime.fromtimestamp(cert.expires_at - 1, UTC).date().isoformat()
        if cert.expires_at <= now:
            why = f"expired: it was valid through {through}"
        else:
            why = f"expires before the session ends: it is valid through {through}"
        raise ConfigError(
            f"{member}'s certification for {course_id} {why}; renew it first",
            field="instructors",
        )


def _validate(req: SessionCreate, course: CourseRow, now: float) -> int:
    if req.end <= req.start:
        raise ConfigError("the session must end after it starts", field="end")
    if req.start < now:
        raise ConfigError("the session must start in the future", field="start")
    seats = course.seats if req.seats is None else req.seats
    if seats <= 0:
        raise ConfigError("a session needs at least one seat", field="seats")
    return seats


def create_session(
    *, session: Session, caller: Caller, req: SessionCreate, now: float
) -> CourseSessionRow:
    """Store a session and its reservation, or raise saying why not (nothing stored)."""
    course = get_course(session=session, course_id=req.course)
    instructors = req.instructors or (caller.member_id,)
    if not caller.is_admin and caller.member_id not in instructors:
        raise AccessDeniedError("only an admin or one of the session's instructors may create it")
    seats = _validate(req, course, now)
    check_instructors(
        session=session, course_id=course.id, instructors=instructors, end=req.end, now=now
    )
    org = req.org or course.org_id
    if session.get(OrganisationRow, org) is None:
        raise ConfigError(f"unknown organisation {org!r}", field="org")
    deadline = (
        req.start - DEFAULT_CANCEL_DEADLINE_S
        if req.cancel_deadline is None
        else req.cancel_deadline
    )
    row = CourseSessionRow(
        course_id=course.id, reservation_id=f"course-{course.id}-{uuid.uuid4().hex[:8]}",
        org_id=org, start_at=req.start, end_at=req.end, seats=seats,
        waitlist=seats if req.waitlist is None else req.waitlist, cancel_deadline_at=deadline,
        location=req.location, remote=req.remote, created_at=now, origin=req.origin,
    )  # fmt: skip
    reservation = seat_reservation(course, row)
    check_seats(session=session, reservation=reservation, now=now)
    put_reservation(session=session, reservation=reservation)
    session.flush()
    session.add(row)
    session.flush()
    for member in instructors:
        session.add(SessionInstructorRow(session_id=row.id, member_id=member))
    return row


def get_session(*, session: Session, session_id: int) -> CourseSessionRow:
    row = session.get(CourseSessionRow, session_id)
    if row is None:
        raise NotFoundError(f"no session {session_id} (see aitc course session list)")
    return row


def instructors_of(*, session: Session, session_id: int) -> list[str]:
    stmt = select(SessionInstructorRow.member_id).where(
        SessionInstructorRow.session_id == session_id
    )
    return sorted(session.scalars(stmt))


def is_teacher(*, session: Session, caller: Caller, session_id: int) -> bool:
    """Whether the caller is an admin or one of the session's instructors."""
    return caller.is_admin or caller.member_id in instructors_of(
        session=session, session_id=session_id
    )


def require_teacher(*, session: Session, caller: Caller, session_id: int) -> CourseSessionRow:
    """The session, when the caller is an admin or one of its instructors."""
    row = get_session(session=session, session_id=session_id)
    if not is_teacher(session=session, caller=caller, session_id=session_id):
        raise AccessDeniedError(f"only session {session_id}'s instructors or an admin may do this")
    return row


def list_sessions(*, session: Session, course_id: str | None = None) -> list[CourseSessionRow]:
    stmt = select(CourseSessionRow).order_by(CourseSessionRow.start_at, CourseSessionRow.id)
    if course_id is not None:
        stmt = stmt.where(CourseSessionRow.course_id == course_id)
    return list(session.scalars(stmt))

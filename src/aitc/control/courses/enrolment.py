"""Enrolment: members take a session's seats, then its waitlist, in order.

- A member enrols themself; a session's instructor (or an admin) enrols others, one by one or
  by importing a roster. Enrolment closes when the session starts.
- Up to ``seats`` enrolments are ``enrolled``; the next ``waitlist`` are ``waitlisted``; more
  are refused. When an enrolled member cancels, the first waitlisted member (earliest
  enrolment) takes the seat.
- Members may cancel until the session's cancellation deadline; after it only an instructor
  or admin may.
- After the session, an instructor records ``attended``, ``passed`` or ``failed``.
- A cancelled session (``aitc lab apply --prune-enrolled``) takes no enrolment; its learners'
  enrolments were cancelled with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.courses.sessions import get_session as get_course_session
from aitc.control.courses.sessions import is_teacher, require_teacher
from aitc.control.store.access import Caller
from aitc.control.store.models import CourseSessionRow, EnrolmentRow, MemberRow
from aitc.errors import AccessDeniedError, ConfigError, ConflictError, NotFoundError

STATES = ("enrolled", "waitlisted", "cancelled", "attended", "passed", "failed")
RESULTS = ("attended", "passed", "failed")
_HOLDING = ("enrolled", "attended", "passed", "failed")  # states that hold a seat


def _count(session: Session, session_id: int, states: Sequence[str]) -> int:
    stmt = select(func.count(EnrolmentRow.id)).where(
        EnrolmentRow.session_id == session_id, EnrolmentRow.state.in_(states)
    )
    return int(session.scalar(stmt) or 0)


def _is_teacher(session: Session, caller: Caller, session_id: int) -> bool:
    return is_teacher(session=session, caller=caller, session_id=session_id)


def _place(
    session: Session, row: CourseSessionRow, member_id: str, now: float, source: str
) -> EnrolmentRow:
    if row.cancelled_at is not None:
        raise ConfigError(f"session {row.id} was cancelled", field="session")
    if now >= row.start_at:
        raise ConfigError(f"enrolment in session {row.id} closed when it started", field="session")
    member = session.get(MemberRow, member_id)
    if member is None or not member.enabled:
        raise NotFoundError(f"no enabled member {member_id!r}")
    stmt = select(EnrolmentRow).where(
        EnrolmentRow.session_id == row.id, EnrolmentRow.member_id == member_id
    )
    existing = session.scalar(stmt)
    if existing is not None and existing.state != "cancelled":
        raise ConflictError(f"{member_id} is already {existing.state} in session {row.id}")
    if _count(session, row.id, _HOLDING) < row.seats:
        state = "enrolled"
    elif _count(session, row.id, ("waitlisted",)) < row.waitlist:
        state = "waitlisted"
    else:
        raise ConfigError(
            f"session {row.id} is full: {row.seats} seats and {row.waitlist} waitlist places taken",
            field="session",
        )
    if existing is None:
        existing = EnrolmentRow(session_id=row.id, member_id=member_id, created_at=now)
        session.add(existing)
    existing.state, existing.source, existing.updated_at = state, source, now
    existing.created_at = now  # a re-enrolment queues behind everyone already waiting
    session.flush()
    return existing


def enrol(
    *, session: Session, caller: Caller, session_id: int, member_id: str | None, now: float
) -> EnrolmentRow:
    """Enrol the caller (or, for a session's instructor or an admin, ``member_id``)."""
    row = get_course_session(session=session, session_id=session_id)
    who = member_id or caller.member_id
    if who != caller.member_id and not _is_teacher(session, caller, session_id):
        raise AccessDeniedError("only the session's instructors or an admin may enrol others")
    return _place(session, row, who, now, "self" if who == caller.member_id else "instructor")


def import_roster(
    *, session: Session, caller: Caller, session_id: int, members: Sequence[str], now: float
) -> list[EnrolmentRow]:
    """Enrol every member of a roster, in its order (all or nothing: the first refusal names
    its line, counting the header as line 1, and nothing is stored)."""
    row = require_teacher(session=session, caller=caller, session_id=session_id)
    placed = []
    for line, member in enumerate(members, start=2):
        try:
            placed.append(_place(session, row, member, now, "roster"))
        except (ConfigError, NotFoundError, ConflictError) as exc:
            reason = exc.reason if isinstance(exc, ConfigError) else str(exc)
            raise ConfigError(f"line {line} ({member}): {reason}", field="members") from None
    return placed


def _find(session: Session, session_id: int, member_id: str) -> EnrolmentRow:
    stmt = select(EnrolmentRow).where(
        EnrolmentRow.session_id == session_id, EnrolmentRow.member_id == member_id
    )
    found = session.scalar(stmt)
    if found is None:
        raise NotFoundError(f"{member_id} is not enrolled in session {session_id}")
    return found


def cancel(
    *, session: Session, caller: Caller, session_id: int, member_id: str | None, now: float
) -> list[EnrolmentRow]:
    """Cancel an enrolment; return it and, when a seat came free, the promoted enrolment."""
    row = get_course_session(session=session, session_id=session_id)
    who = member_id or caller.member_id
    teacher = _is_teacher(session, caller, session_id)
    if who != caller.member_id and not teacher:
        raise AccessDeniedError("only the session's instructors or an admin may cancel for others")
    if now > row.cancel_deadline_at and not teacher:
        raise ConfigError(
            f"the cancellation deadline of session {row.id} has passed; ask its instructor",
            field="session",
        )
    found = _find(session, session_id, who)
    if found.state not in ("enrolled", "waitlisted"):
        raise ConflictError(f"{who} is {found.state} in session {session_id}; nothing to cancel")
    freed = found.state == "enrolled"
    found.state, found.updated_at = "cancelled", now
    session.flush()
    changed = [found]
    if freed:
        first = promote_waitlisted(session=session, session_id=session_id, now=now)
        if first is not None:
            changed.append(first)
    return changed


def first_waitlisted(*, session: Session, session_id: int) -> EnrolmentRow | None:
    """The waitlisted enrolment next in line (earliest enrolment), if any."""
    return session.scalar(
        select(EnrolmentRow)
        .where(EnrolmentRow.session_id == session_id, EnrolmentRow.state == "waitlisted")
        .order_by(EnrolmentRow.created_at, EnrolmentRow.id)
        .limit(1)
    )


def promote_waitlisted(*, session: Session, session_id: int, now: float) -> EnrolmentRow | None:
    """Give a freed seat to the first waitlisted member; return their enrolment (None: nobody
    waits)."""
    first = first_waitlisted(session=session, session_id=session_id)
    if first is not None:
        first.state, first.updated_at = "enrolled", now
    return first


def record_result(
    *, session: Session, caller: Caller, session_id: int, member_id: str, result: str, now: float
) -> EnrolmentRow:
    """Record an enrolled member's ``attended``, ``passed`` or ``failed`` (instructors, admins)."""
    row = require_teacher(session=session, caller=caller, session_id=session_id)
    if result not in RESULTS:
        raise ConfigError(f"must be one of {', '.join(RESULTS)} (got {result!r})", field="result")
    if now < row.start_at:
        raise ConfigError(f"session {row.id} has not started yet", field="result")
    found = _find(session, session_id, member_id)
    if found.state not in _HOLDING:
        raise ConflictError(f"{member_id} is {found.state} in session {session_id}, not on a seat")
    found.state, found.updated_at = result, now
    return found


def roster(*, session: Session, caller: Caller, session_id: int) -> list[EnrolmentRow]:
    """The session's enrolments in order: all for its instructors and admins, else the caller's."""
    get_course_session(session=session, session_id=session_id)
    stmt = (
        select(EnrolmentRow)
        .where(EnrolmentRow.session_id == session_id)
        .order_by(EnrolmentRow.created_at, EnrolmentRow.id)
    )
    if not _is_teacher(session, caller, session_id):
        stmt = stmt.where(EnrolmentRow.member_id == caller.member_id)
    return list(session.scalars(stmt))

"""Changing and removing a session that has not started (what ``aitc lab apply`` does to the
calendar's sessions when lab.yaml changes them).

- ``update_session`` changes a session in place to a ``SessionShape``, checked as creation
  checks it: new seats or a new end replace its reservation only when the engine's
  ``ReservationBook`` guarantees the new one beside every other reservation not yet ended (the
  old one is no obstacle to its replacement); seats never fewer than the learners enrolled, a
  waitlist never shorter than the learners waiting; instructors certified through the end.
  Seats added go to the waitlisted learners first, in order. A refusal changes nothing.
- ``remove_session`` takes a session off the calendar: one nobody ever enrolled in is deleted
  with its reservation; one with enrolments is cancelled (``cancelled_at``): its reservation
  is deleted, its enrolled and waitlisted learners' enrolments are cancelled, and the row
  stays, so learners see the session cancelled. Learners are cancelled only when the caller
  says so (``with_learners``); otherwise it is refused naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from aitc.control.courses.sessions import (
    check_instructors,
    check_seats,
    instructors_of,
    seat_reservation,
)
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    ReservationRow,
    SessionInstructorRow,
)
from aitc.control.store.reservations import put_reservation
from aitc.errors import ConfigError

HOUR = 3600.0
SEATED = ("enrolled", "attended", "passed", "failed")  # as enrolment counts a seat taken


@dataclass(frozen=True, slots=True)
class SessionShape:
    """What a session is, apart from its course and start: its end, seats, waitlist places,
    instructors (sorted), place, and its seats' shape (whole GPUs, MIG profile, MIG seats)."""

    end: float
    seats: int
    waitlist: int
    instructors: tuple[str, ...]
    location: str
    remote: bool
    seat_shape: tuple[int, str | None, int]


def shape_of(*, session: Session, row: CourseSessionRow) -> SessionShape:
    """The session as stored."""
    held = session.get(ReservationRow, row.reservation_id) if row.reservation_id else None
    return SessionShape(
        end=row.end_at,
        seats=row.seats,
        waitlist=row.waitlist,
        instructors=tuple(instructors_of(session=session, session_id=row.id)),
        location=row.location,
        remote=row.remote,
        seat_shape=(held.gpus, held.mig_profile, held.mig_seats) if held else (0, None, 0),
    )


def seat_shape(course: CourseRow, seats: int) -> tuple[int, str | None, int]:
    """Whole GPUs, MIG profile and MIG seats that ``seats`` seats of ``course`` hold."""
    if course.mig_profile:
        return 0, course.mig_profile, seats
    return seats * course.gpus_per_seat, None, 0


def differences(old: SessionShape, new: SessionShape, start: float) -> tuple[str, ...]:
    """What differs from ``old`` to ``new``, in words (``seats 14 → 20``)."""
    out = []
    if old.end != new.end:
        out.append(f"hours {(old.end - start) / HOUR:g} → {(new.end - start) / HOUR:g}")
    for name in ("seats", "waitlist", "location", "remote"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            out.append(f"{name} {_word(before)} → {_word(after)}")
    if old.instructors != new.instructors:
        out.append(f"instructors {', '.join(old.instructors)} → {', '.join(new.instructors)}")
    if old.seat_shape != new.seat_shape and old.seats == new.seats and old.end == new.end:
        out.append("seat shape → the course's")  # the course's MIG profile or GPUs changed
    return tuple(out)


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return repr(value) if isinstance(value, str) else str(value)


def counts(*, session: Session, session_id: int) -> tuple[int, int, int]:
    """The session's learners on a seat, on its waitlist, and its enrolments of any state."""
    stmt = (
        select(EnrolmentRow.state, func.count())
        .where(EnrolmentRow.session_id == session_id)
        .group_by(EnrolmentRow.state)
    )
    by_state = {state: int(n) for state, n in session.execute(stmt)}
    seated = sum(by_state.get(s, 0) for s in SEATED)
    return seated, by_state.get("waitlisted", 0), sum(by_state.values())


def update_session(
    *, session: Session, row: CourseSessionRow, new: SessionShape, now: float
) -> list[str]:
    """Change a session that has not started to ``new`` (see the module); return what
    changed, in words, or raise ``ConfigError`` saying why not (nothing changed)."""
    old = shape_of(session=session, row=row)
    changed = list(differences(old, new, row.start_at))
    _check_update(session, row, old, new, now)
    if (old.end, old.seats, old.seat_shape) != (new.end, new.seats, new.seat_shape):
        course = session.get_one(CourseRow, row.course_id)
        wanted = seat_reservation(course, row, end=new.end, seats=new.seats)
        check_seats(session=session, reservation=wanted, now=now)
        put_reservation(session=session, reservation=wanted)  # the same id: replaced
        changed.append(f"its reservation {wanted.id} replaced")
    row.end_at, row.seats, row.waitlist = new.end, new.seats, new.waitlist
    row.location, row.remote = new.location, new.remote
    if old.instructors != new.instructors:
        _set_instructors(session, row.id, new.instructors)
    session.flush()
    promoted = _fill_seats(session, row, now)
    if promoted:
        changed.append(f"{promoted} waitlisted learner(s) got a seat")
    return changed


def _check_update(
    session: Session, row: CourseSessionRow, old: SessionShape, new: SessionShape, now: float
) -> None:
    if row.cancelled_at is not None:
        raise ConfigError(f"session {row.id} was cancelled", field="session")
    if row.start_at <= now:
        raise ConfigError(f"session {row.id} has started: it is left as it is", field="session")
    if new.end <= row.start_at:
        raise ConfigError("the session must end after it starts", field="end")
    seated, waiting, _ = counts(session=session, session_id=row.id)
    if new.seats < seated:
        raise ConfigError(
            f"{new.seats} seats are fewer than the {seated} learners enrolled; cancel "
            f"enrolments first (aitc course cancel {row.id} --member …)",
            field="seats",
        )
    still_waiting = waiting - min(waiting, new.seats - seated)
    if new.waitlist < still_waiting:
        raise ConfigError(
            f"a waitlist of {new.waitlist} is shorter than the {still_waiting} learners "
            "waiting for a seat; cancel enrolments first",
            field="waitlist",
        )
    if (old.instructors, old.end) != (new.instructors, new.end):
        check_instructors(
            session=session,
            course_id=row.course_id,
            instructors=new.instructors,
            end=new.end,
            now=now,
        )


def _set_instructors(session: Session, session_id: int, members: tuple[str, ...]) -> None:
    session.execute(
        delete(SessionInstructorRow).where(SessionInstructorRow.session_id == session_id)
    )
    for member in members:
        session.add(SessionInstructorRow(session_id=session_id, member_id=member))


def _fill_seats(session: Session, row: CourseSessionRow, now: float) -> int:
    """Give the session's free seats to its waitlisted learners, in order; how many."""
    from aitc.control.courses.enrolment import promote_waitlisted  # it builds on sessions

    seated, waiting, _ = counts(session=session, session_id=row.id)
    promoted = 0
    for _ in range(min(waiting, row.seats - seated)):
        if promote_waitlisted(session=session, session_id=row.id, now=now) is None:
            break
        promoted += 1
    session.flush()
    return promoted


def remove_session(
    *, session: Session, row: CourseSessionRow, now: float, with_learners: bool
) -> str:
    """Take a session that has not started off the calendar (see the module); return what
    was done, in words, or raise ``ConfigError`` naming its learners (nothing changed)."""
    if row.start_at <= now:
        raise ConfigError(f"session {row.id} has started: it is left as it is", field="session")
    seated, waiting, enrolments = counts(session=session, session_id=row.id)
    if (seated or waiting) and not with_learners:
        raise ConfigError(
            f"session {row.id} has {_learners(seated, waiting)}: cancel their enrolments "
            "first, or apply with --prune-enrolled to cancel the session and its enrolments",
            field="calendar",
        )
    held = row.reservation_id
    released = f"its seats released ({held})"
    if not enrolments:
        session.execute(
            delete(SessionInstructorRow).where(SessionInstructorRow.session_id == row.id)
        )
        session.delete(row)
        session.flush()
        _delete_reservation(session, held)
        return f"removed, nobody enrolled; {released}"
    cancel_session(session=session, row=row, now=now)
    if seated or waiting:
        return f"cancelled with its {_learners(seated, waiting)}; {released}"
    return (
        f"cancelled (nobody is enrolled; its {enrolments} cancelled enrolment(s) kept); {released}"
    )


def _learners(seated: int, waiting: int) -> str:
    parts = [f"{seated} learner(s) enrolled"] if seated else []
    parts += [f"{waiting} waitlisted"] if waiting else []
    return " and ".join(parts)


def cancel_session(*, session: Session, row: CourseSessionRow, now: float) -> None:
    """Cancel a session: its enrolled and waitlisted learners' enrolments cancelled, its
    reservation deleted (the controller's next pass frees its seats), the row kept."""
    stmt = select(EnrolmentRow).where(
        EnrolmentRow.session_id == row.id, EnrolmentRow.state.in_(("enrolled", "waitlisted"))
    )
    for enrolment in session.scalars(stmt):
        enrolment.state, enrolment.updated_at = "cancelled", now
    held, row.reservation_id, row.cancelled_at = row.reservation_id, None, now
    session.flush()
    _delete_reservation(session, held)


def _delete_reservation(session: Session, reservation_id: str | None) -> None:
    if reservation_id is not None:
        session.execute(delete(ReservationRow).where(ReservationRow.id == reservation_id))
        session.flush()


def when(start: float) -> str:
    """A time as lab.yaml writes it: local, to the minute, without an offset."""
    return datetime.fromtimestamp(start).isoformat(timespec="minutes")

"""The lab's course calendar (lab.yaml ``calendar``) as real sessions: ``aitc lab apply``.

Each planned session that starts in the future and is not in the store yet is created as an
instructor would create it (``sessions.create_session``): taught by its instructors, its
seats a reservation the engine's ``ReservationBook`` guarantees beside every reservation not
yet ended, on the nodes the control plane recorded. A planned session is in the store when a
session of its course starts at its start; it is never changed or removed by a later apply
(learners may have enrolled), and one that has started is left alone.

All or nothing: when the engine cannot guarantee some sessions' seats (or an instructor's
certification ends before a session does), every such session is named with its reason in one
``ConfigErrors`` and the caller's transaction stores nothing. Until the control plane has
recorded its nodes (``aitc serve`` does when it starts), no seat can be guaranteed, so none
is created and ``calendar_status`` says so.

Times in lab.yaml are the lab's local time: this machine's time zone, as ``aitc course session
create --start`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.courses.sessions import SessionCreate, create_session
from aitc.control.store.access import Caller
from aitc.control.store.cluster import recorded_cluster
from aitc.control.store.models import CourseSessionRow
from aitc.domain.lab import Lab, PlannedSession
from aitc.domain.org import Role
from aitc.errors import AitcError, ConfigError, ConfigErrors

HOUR = 3600.0


def window(planned: PlannedSession) -> tuple[float, float]:
    """A planned session's start and end, in seconds since the epoch."""
    start = datetime.fromisoformat(planned.start).astimezone().timestamp()
    return start, start + planned.hours * HOUR


@dataclass(frozen=True, slots=True)
class CalendarStatus:
    """Where the calendar's sessions stand: ``created`` are in the store, ``past`` started
    before they were, ``missing`` are still to create; ``nodes_recorded``: whether the
    control plane knows its nodes (without them no seat can be guaranteed)."""

    planned: int
    created: int
    past: int
    missing: int
    nodes_recorded: bool

    def line(self) -> str:
        """One line for ``aitc lab apply``."""
        text = f"calendar: {self.planned} session(s): {self.created} created, {self.past} past"
        if not self.missing:
            return text
        why = (
            "not created"
            if self.nodes_recorded
            else "not created yet: no nodes are recorded (aitc serve records them when it "
            "starts; apply again then)"
        )
        return f"{text}, {self.missing} {why}"


def _stored(session: Session, lab: Lab) -> set[tuple[str, float]]:
    """(course, start) of the stored sessions of the calendar's courses."""
    courses = {p.course for p in lab.calendar}
    stmt = select(CourseSessionRow.course_id, CourseSessionRow.start_at).where(
        CourseSessionRow.course_id.in_(courses)
    )
    return {(course, start) for course, start in session.execute(stmt)}


def calendar_status(*, session: Session, lab: Lab, now: float) -> CalendarStatus:
    """How many of the lab's planned sessions are in the store, past, or still to create."""
    stored = _stored(session, lab)
    created = past = 0
    for planned in lab.calendar:
        start, _ = window(planned)
        if (planned.course, start) in stored:
            created += 1
        elif start <= now:
            past += 1
    missing = len(lab.calendar) - created - past
    nodes = recorded_cluster(session=session) is not None
    return CalendarStatus(len(lab.calendar), created, past, missing, nodes)


def apply_calendar(*, session: Session, lab: Lab, now: float) -> list[str]:
    """Create the calendar's sessions still to create; return the changes in words, or raise
    ``ConfigErrors`` naming every session that cannot be created and why (see the module)."""
    if not lab.calendar or recorded_cluster(session=session) is None:
        return []
    stored = _stored(session, lab)
    changes: list[str] = []
    refused: list[ConfigError] = []
    for planned in lab.calendar:
        start, end = window(planned)
        if start <= now or (planned.course, start) in stored:
            continue
        try:
            with session.begin_nested():
                row = _create(session, planned, start, end, now)
        except AitcError as exc:
            why = exc.reason if isinstance(exc, ConfigError) else str(exc)
            refused.append(
                ConfigError(f"{planned.course} at {planned.start}: {why}", field="calendar")
            )
            continue
        changes.append(
            f"session {row.id} of {planned.course}: created, {planned.start} for "
            f"{planned.hours:g} h, {row.seats} seats ({row.reservation_id})"
        )
    if refused:
        raise ConfigErrors(refused)
    return changes


def _create(
    session: Session, planned: PlannedSession, start: float, end: float, now: float
) -> CourseSessionRow:
    """The session, created as its first instructor would create it."""
    if not planned.instructors:  # lab.yaml's checks require them
        raise ConfigError("the session has no instructor", field="instructors")
    teacher = Caller(planned.instructors[0], Role.INSTRUCTOR, None, frozenset())
    req = SessionCreate(
        course=planned.course,
        start=start,
        end=end,
        seats=planned.seats,
        instructors=planned.instructors,
    )
    return create_session(session=session, caller=teacher, req=req, now=now)

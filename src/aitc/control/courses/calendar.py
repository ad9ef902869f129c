"""The lab's course calendar (lab.yaml ``calendar``) as real sessions: ``aitc lab apply``.

The calendar is declarative: after an apply, the store's calendar sessions that have not
started are exactly the planned ones. A session the calendar created is marked so (``origin``
``calendar``); sessions an instructor made by hand are never touched. A planned session is
known by its course and its start:

- planned, not in the store, starting in the future: **created** as its first instructor
  would create it (``sessions.create_session``), its seats a reservation the engine's
  ``ReservationBook`` guarantees beside every reservation not yet ended, on the nodes the
  control plane recorded;
- in the store but planned otherwise (hours, seats, waitlist, instructors, location, remote,
  or the course's seat shape): **updated** in place (``sessionchanges.update_session``: the
  reservation replaced only if the engine guarantees the new one; never fewer seats than
  learners enrolled; instructors certified through the end);
- in the store but no longer planned (a moved session is one removed and one created):
  **removed** with its reservation when nobody is enrolled; with learners enrolled or
  waitlisted it is refused naming them, unless ``prune_enrolled``, which cancels the session
  and their enrolments (``sessionchanges.remove_session``);
- started: left as it is; ``calendar_status`` names those that lab.yaml changes or drops
  while they run. Ended sessions are history: neither compared nor reported.

A planned session whose course and start are a hand-made session's is not created (its seats
would be held twice). All or nothing: every session that cannot be created, updated or removed
is named with its reason in one ``ConfigErrors`` and the caller's transaction stores nothing.
Until the control plane has recorded its nodes (``aitc serve`` does when it starts), no seat
can be guaranteed, so none is created and ``calendar_status`` says so.

Times in lab.yaml are the lab's local time: this machine's time zone, as ``aitc course session
create --start`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.courses.sessionchanges import (
    SessionShape,
    differences,
    remove_session,
    seat_shape,
    shape_of,
    update_session,
    when,
)
from aitc.control.courses.sessions import SessionCreate, create_session
from aitc.control.store.access import Caller
from aitc.control.store.cluster import recorded_cluster
from aitc.control.store.models import CourseRow, CourseSessionRow
from aitc.domain.lab import Lab, PlannedSession
from aitc.domain.org import Role
from aitc.errors import AitcError, ConfigError, ConfigErrors

HOUR = 3600.0
CALENDAR = "calendar"  # the origin of the sessions the calendar makes


def window(planned: PlannedSession) -> tuple[float, float]:
    """A planned session's start and end, in seconds since the epoch."""
    start = datetime.fromisoformat(planned.start).astimezone().timestamp()
    return start, start + planned.hours * HOUR


@dataclass(frozen=True, slots=True)
class Step:
    """What the calendar asks of one session (``kind``): ``create`` a planned one, ``update``
    a stored one (``changes``: the differences in words), ``remove`` a stored one no longer
    planned, ``keep`` one that has started although lab.yaml changes or drops it, or nothing:
    ``same`` (as planned), ``past`` (its start passed before it was created), ``taken`` (a
    session made by hand starts then)."""

    kind: str
    planned: PlannedSession | None = None
    row: CourseSessionRow | None = None
    changes: tuple[str, ...] = ()


def steps(*, session: Session, lab: Lab, now: float) -> list[Step]:
    """The steps that make the store's calendar sessions what ``lab`` plans (see the
    module): the planned sessions' in calendar order, then the removals by start."""
    stored: dict[tuple[str, float], CourseSessionRow] = {}
    extra: list[CourseSessionRow] = []
    for row in _live_sessions(session, calendar=True):
        key = (row.course_id, row.start_at)
        if key in stored:
            extra.append(row)
        else:
            stored[key] = row
    by_hand = {(r.course_id, r.start_at) for r in _live_sessions(session, calendar=False)}
    courses = {c.id: c for c in session.scalars(select(CourseRow))}
    out = []
    for planned in lab.calendar:
        start, end = window(planned)
        found = stored.pop((planned.course, start), None)
        if found is not None:
            out.append(_compare(session, found, planned, courses[planned.course], end, now))
        elif start <= now:
            out.append(Step("past", planned))
        elif (planned.course, start) in by_hand:
            out.append(Step("taken", planned))
        else:
            out.append(Step("create", planned))
    gone = ("lab.yaml no longer plans it",)
    for row in sorted([*stored.values(), *extra], key=lambda r: (r.start_at, r.id)):
        if row.end_at > now:  # ended sessions are history
            out.append(Step("keep" if row.start_at <= now else "remove", None, row, gone))
    return out


def _live_sessions(session: Session, *, calendar: bool) -> list[CourseSessionRow]:
    """Sessions not cancelled, the calendar's or the others."""
    made = CourseSessionRow.origin == CALENDAR
    stmt = select(CourseSessionRow).where(
        CourseSessionRow.cancelled_at.is_(None), made if calendar else ~made
    )
    return list(session.scalars(stmt.order_by(CourseSessionRow.start_at, CourseSessionRow.id)))


def _compare(
    session: Session,
    row: CourseSessionRow,
    planned: PlannedSession,
    course: CourseRow,
    end: float,
    now: float,
) -> Step:
    if row.end_at <= now:
        return Step("same", planned, row)
    changes = differences(
        shape_of(session=session, row=row), planned_shape(planned, course, end), row.start_at
    )
    if not changes:
        return Step("same", planned, row)
    return Step("keep" if row.start_at <= now else "update", planned, row, changes)


def planned_shape(planned: PlannedSession, course: CourseRow, end: float) -> SessionShape:
    """The session ``planned`` asks for, as ``sessionchanges`` compares and applies it."""
    waitlist = planned.seats if planned.waitlist is None else planned.waitlist
    return SessionShape(
        end=end,
        seats=planned.seats,
        waitlist=waitlist,
        instructors=tuple(sorted(planned.instructors)),
        location=planned.location,
        remote=planned.remote,
        seat_shape=seat_shape(course, planned.seats),
    )


@dataclass(frozen=True, slots=True)
class CalendarStatus:
    """Where the calendar's sessions stand: ``created`` are in the store, ``past`` started
    before they were, ``missing`` are still to create, ``pending`` stored sessions still to
    update or remove (an apply with ``--no-calendar`` leaves them); ``kept``: started
    sessions that lab.yaml changes or drops, in words; ``nodes_recorded``: whether the
    control plane knows its nodes (without them no seat can be guaranteed)."""

    planned: int
    created: int
    past: int
    missing: int
    nodes_recorded: bool
    pending: int = 0
    kept: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for ``aitc lab apply``."""
        text = f"calendar: {self.planned} session(s): {self.created} created, {self.past} past"
        if self.pending:
            text += f", {self.pending} to update or remove"
        if not self.missing:
            return text
        why = (
            "not created"
            if self.nodes_recorded
            else "not created yet: no nodes are recorded (aitc serve records them when it "
            "starts; apply again then)"
        )
        return f"{text}, {self.missing} {why}"


def calendar_status(*, session: Session, lab: Lab, now: float) -> CalendarStatus:
    """How many of the lab's planned sessions are in the store, past, or still to create,
    and which started sessions lab.yaml changes or drops."""
    plan = steps(session=session, lab=lab, now=now)
    kinds: dict[str, int] = {}
    for step in plan:
        kinds[step.kind] = kinds.get(step.kind, 0) + 1
    kept = [
        f"{_name(step.row)}: kept as it is, it has started ({_why(step)})"
        for step in plan
        if step.kind == "keep" and step.row is not None
    ]
    in_store = ("same", "update", "taken", "keep")
    return CalendarStatus(
        planned=len(lab.calendar),
        created=sum(1 for s in plan if s.planned is not None and s.kind in in_store),
        past=kinds.get("past", 0),
        missing=kinds.get("create", 0),
        nodes_recorded=recorded_cluster(session=session) is not None,
        pending=kinds.get("update", 0) + kinds.get("remove", 0),
        kept=tuple(kept),
    )


def _why(step: Step) -> str:
    if step.planned is None:
        return step.changes[0]
    return "lab.yaml: " + ", ".join(step.changes)


def _name(row: CourseSessionRow) -> str:
    return f"session {row.id} of {row.course_id} at {when(row.start_at)}"


def apply_calendar(
    *, session: Session, lab: Lab, now: float, prune_enrolled: bool = False
) -> list[str]:
    """Make the store's calendar sessions what ``lab`` plans; return the changes in words, or
    raise ``ConfigErrors`` naming every session that cannot be created, updated or removed
    and why (see the module). ``prune_enrolled``: cancel sessions no longer planned even
    when learners are enrolled, with their enrolments."""
    plan = steps(session=session, lab=lab, now=now)
    nodes = recorded_cluster(session=session) is not None
    order = {"remove": 0, "update": 1, "create": 2}  # seats freed first, then changed, then new
    changes: list[str] = []
    refused: list[ConfigError] = []
    for step in sorted((s for s in plan if s.kind in order), key=lambda s: order[s.kind]):
        if step.kind == "create" and not nodes:
            continue  # calendar_status says why
        try:
            with session.begin_nested():
                changes.append(_apply(session, step, now, prune_enrolled))
        except AitcError as exc:
            why = exc.reason if isinstance(exc, ConfigError) else str(exc)
            refused.append(ConfigError(f"{_subject(step)}: {why}", field="calendar"))
    if refused:
        raise ConfigErrors(refused)
    return changes


def _subject(step: Step) -> str:
    if step.planned is not None:
        return f"{step.planned.course} at {step.planned.start}"
    assert step.row is not None
    row = step.row
    return f"{row.course_id} at {when(row.start_at)} (session {row.id}, no longer planned)"


def _apply(session: Session, step: Step, now: float, prune_enrolled: bool) -> str:
    """Do one step; return it in words."""
    if step.kind == "create":
        assert step.planned is not None
        row = _create(session, step.planned, now)
        return (
            f"session {row.id} of {row.course_id}: created, {step.planned.start} for "
            f"{step.planned.hours:g} h, {row.seats} seats ({row.reservation_id})"
        )
    assert step.row is not None
    name = _name(step.row)
    if step.kind == "remove":
        done = remove_session(session=session, row=step.row, now=now, with_learners=prune_enrolled)
        return f"{name}: {done}"
    assert step.planned is not None
    course = session.get_one(CourseRow, step.row.course_id)
    _, end = window(step.planned)
    new = planned_shape(step.planned, course, end)
    done_list = update_session(session=session, row=step.row, new=new, now=now)
    return f"{name}: updated: {', '.join(done_list)}"


def _create(session: Session, planned: PlannedSession, now: float) -> CourseSessionRow:
    """The session, created as its first instructor would create it, marked as the
    calendar's."""
    if not planned.instructors:  # lab.yaml's checks require them
        raise ConfigError("the session has no instructor", field="instructors")
    start, end = window(planned)
    teacher = Caller(planned.instructors[0], Role.INSTRUCTOR, None, frozenset())
    req = SessionCreate(
        course=planned.course,
        start=start,
        end=end,
        seats=planned.seats,
        instructors=planned.instructors,
        location=planned.location,
        remote=planned.remote,
        waitlist=planned.waitlist,
        origin=CALENDAR,
    )
    return create_session(session=session, caller=teacher, req=req, now=now)

"""``aitc course session create --check``: what a session would cost research, before it is
created.

The session is first tried exactly as creating it would (``sessions.create_session``: the
course, instructors, times and whether the engine can guarantee its seats), inside a
savepoint that is rolled back, so a session the check accepts is one creation accepts, and
nothing is stored. Then the last ``weeks`` of recorded jobs (``aitc.control.history``, read
through a read-only connection of its own, so no lock is held while the twin runs) are
replayed over the next ``weeks`` with and without the session's seats
(``aitc.plan.sessioncost``), on the recorded nodes, under the server's policy, beside the
reservations already made.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from aitc.control.courses.sessions import SessionCreate, create_session, seat_reservation
from aitc.control.history import open_engine, read_history
from aitc.control.store.access import Caller
from aitc.control.store.cluster import recorded_cluster
from aitc.control.store.db import Store
from aitc.control.store.models import CourseRow
from aitc.control.store.reservations import list_reservations
from aitc.domain.lab import PolicySpec
from aitc.domain.reservation import Reservation
from aitc.errors import ConfigError
from aitc.plan.history import History
from aitc.plan.sessioncost import SessionCost, session_cost

WEEK = 7 * 86400.0


@dataclass(frozen=True)
class SessionCheck:
    """The session as it would be created, and what it would cost research."""

    course: str
    seats: int
    reservation: Reservation
    policy: str
    weeks: int
    recorded_since: float
    recorded_until: float
    cost: SessionCost


def check_session(
    *,
    store: Store,
    caller: Caller,
    req: SessionCreate,
    now: float,
    weeks: int,
    policy: PolicySpec | None,
) -> SessionCheck:
    """Check ``req`` (refused as creation would refuse it) and replay its cost to research."""
    window = weeks * WEEK
    with store.session() as s:
        course, seats, reservation = _proposed(s, caller, req, now)
        held = list_reservations(session=s, now=now)
        cluster = recorded_cluster(session=s)
    if reservation.end > now + window:
        need = int(-(-(reservation.end - now) // WEEK))
        raise ConfigError(
            f"the session ends after the {weeks} week(s) the check replays; "
            f"give --weeks {need} (at most 8)",
            field="weeks",
        )
    assert cluster is not None  # create_session refuses a session without recorded nodes
    history = _recorded(store, since=now - window, until=now)
    name = policy.name if policy else (history.live_policy or "fifo")
    params = dict(policy.params) if policy else {}
    cost = session_cost(
        history, session=reservation, held=held, cluster=cluster, policy=name, params=params,
        shift_s=window,
    )  # fmt: skip
    return SessionCheck(course, seats, reservation, name, weeks, now - window, now, cost)


def _proposed(
    s: Session, caller: Caller, req: SessionCreate, now: float
) -> tuple[str, int, Reservation]:
    """The session's reservation as creating it would make it; nothing is kept."""
    savepoint = s.begin_nested()
    try:
        row = create_session(session=s, caller=caller, req=req, now=now)
        course = s.get(CourseRow, row.course_id)
        assert course is not None
        return course.id, row.seats, seat_reservation(course, row)
    finally:
        savepoint.rollback()


def _recorded(store: Store, *, since: float, until: float) -> History:
    engine = open_engine(store.engine.url.render_as_string(hide_password=False))
    try:
        return read_history(engine, since=since, until=until)
    finally:
        engine.dispose()

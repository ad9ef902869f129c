"""Reservations in the store, read back as the engine's ``Reservation`` objects.

A reservation is made by an admin (``create_reservation``) or by a course session for its
seats (``aitc.control.courses.sessions``). Either way it is stored only when the engine's
``ReservationBook`` (the code the controller's passes use) can place it beside every
reservation not yet ended on the recorded cluster (``check_guaranteed``); otherwise it is
refused with the engine's reason and nothing is stored. A course session's reservation goes
with its session and cannot be deleted on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.store.cluster import recorded_cluster
from aitc.control.store.models import CourseSessionRow, OrganisationRow, ReservationRow
from aitc.domain.reservation import Reservation
from aitc.engine.reservations import ReservationBook
from aitc.errors import CatalogError, ConfigError, ConflictError, NotFoundError


def put_reservation(*, session: Session, reservation: Reservation) -> None:
    """Insert or replace a reservation (by id)."""
    r = reservation
    row = session.get(ReservationRow, r.id) or ReservationRow(id=r.id)
    row.org_id, row.name, row.start_at, row.end_at = r.org, r.name, r.start, r.end
    row.gpus, row.nodes, row.mig_profile, row.mig_seats = (
        r.gpus,
        list(r.nodes),
        r.mig_profile,
        r.mig_seats,
    )
    session.add(row)


def reservation_of(row: ReservationRow) -> Reservation:
    """The engine's reservation of a stored row."""
    return Reservation(
        id=row.id,
        org=row.org_id,
        start=row.start_at,
        end=row.end_at,
        gpus=row.gpus,
        nodes=tuple(row.nodes or ()),
        mig_profile=row.mig_profile,
        mig_seats=row.mig_seats,
        name=row.name,
    )


def list_reservations(*, session: Session, now: float) -> list[Reservation]:
    """Reservations that have not ended at ``now``, by start time (active ones first)."""
    stmt = (
        select(ReservationRow)
        .where(ReservationRow.end_at > now)
        .order_by(ReservationRow.start_at, ReservationRow.id)
    )
    return [reservation_of(r) for r in session.scalars(stmt)]


def reservation_page(
    *, session: Session, now: float | None, limit: int = 100, offset: int = 0
) -> tuple[list[tuple[ReservationRow, int | None]], int]:
    """Stored reservations by start (those not ended at ``now``; every one when ``now`` is
    None), each with the course session it holds seats for, and their total count."""
    where = [] if now is None else [ReservationRow.end_at > now]
    stmt = (
        select(ReservationRow, CourseSessionRow.id)
        .outerjoin(CourseSessionRow, CourseSessionRow.reservation_id == ReservationRow.id)
        .where(*where)
        .order_by(ReservationRow.start_at, ReservationRow.id)
        .limit(limit)
        .offset(offset)
    )
    rows: list[tuple[ReservationRow, int | None]] = [(r, s) for r, s in session.execute(stmt)]
    count = session.scalar(select(func.count()).select_from(ReservationRow).where(*where)) or 0
    return rows, count


def get_reservation(*, session: Session, reservation_id: str) -> ReservationRow:
    row = session.get(ReservationRow, reservation_id)
    if row is None:
        raise NotFoundError(f"no reservation {reservation_id!r} (see aitc reservation list)")
    return row


def course_session_of(*, session: Session, reservation_id: str) -> int | None:
    """The course session whose seats the reservation holds, if any."""
    stmt = select(CourseSessionRow.id).where(CourseSessionRow.reservation_id == reservation_id)
    return session.scalar(stmt)


def check_guaranteed(
    *, session: Session, reservation: Reservation, now: float, what: str, field: str
) -> None:
    """``ConfigError`` on ``field`` with the engine's reason when ``reservation`` (``what``
    in the message) cannot be guaranteed beside the stored reservations on the recorded
    cluster."""
    cluster = recorded_cluster(session=session)
    if cluster is None:
        raise ConfigError(f"no nodes are recorded yet, so {what} cannot be guaranteed", field=field)
    others = [r for r in list_reservations(session=session, now=now) if r.id != reservation.id]
    try:
        ReservationBook().fences(cluster, [reservation], now)
    except ConfigError as exc:  # not even on an empty cluster
        raise ConfigError(f"{what} can never be guaranteed: {exc.reason}", field=field) from None
    try:
        ReservationBook().fences(cluster, [*others, reservation], now)
    except ConfigError as exc:
        raise ConfigError(f"{what} cannot be guaranteed: {exc.reason}", field=field) from None


def _check_shape(r: Reservation, now: float) -> None:
    if r.end <= r.start:
        raise ConfigError("must be after the start", field="end")
    if r.end <= now:
        raise ConfigError("must be in the future: the reservation would be over", field="end")
    if (r.gpus > 0) == (r.mig_seats > 0):
        raise ConfigError(
            "give whole GPUs (gpus) or MIG seats (mig_seats with mig_profile), one of them",
            field="gpus",
        )
    if r.mig_seats and not r.mig_profile:
        raise ConfigError("MIG seats need a MIG profile (e.g. 1g.10gb)", field="mig_profile")
    if r.mig_profile and not r.mig_seats:
        raise ConfigError("a MIG profile needs a number of seats", field="mig_seats")
    if r.nodes and not r.gpus:
        raise ConfigError("nodes hold whole GPUs: give gpus too", field="nodes")


def _check_nodes(session: Session, r: Reservation) -> None:
    cluster = recorded_cluster(session=session)
    held = 0
    for name in r.nodes:
        try:
            held += cluster.nodes[cluster.position(name)].gpus if cluster else 0
        except CatalogError:
            raise ConfigError(f"unknown node {name!r} (see aitc nodes)", field="nodes") from None
    if r.nodes and held < r.gpus:
        raise ConfigError(
            f"{', '.join(r.nodes)} have {held} GPUs, fewer than the {r.gpus} reserved",
            field="nodes",
        )


def create_reservation(*, session: Session, reservation: Reservation, now: float) -> ReservationRow:
    """Store a new reservation (an empty id draws one), or raise saying why not: nothing is
    stored unless the engine can guarantee it (``check_guaranteed``)."""
    r = reservation
    if not r.id:
        r = replace(r, id=f"res-{uuid.uuid4().hex[:8]}")
    elif session.get(ReservationRow, r.id) is not None:
        raise ConflictError(f"reservation {r.id!r} exists already")
    org = session.get(OrganisationRow, r.org)
    if org is None or not org.enabled:
        raise ConfigError(f"unknown organisation {r.org!r}", field="org")
    _check_shape(r, now)
    _check_nodes(session, r)
    field = "gpus" if r.gpus else "mig_seats"
    check_guaranteed(session=session, reservation=r, now=now, what="the reservation", field=field)
    put_reservation(session=session, reservation=r)
    session.flush()
    return session.get_one(ReservationRow, r.id)


def delete_reservation(*, session: Session, reservation_id: str) -> ReservationRow:
    """Delete a reservation (the controller's next pass frees its nodes); one that holds a
    course session's seats is refused (``ConflictError``)."""
    row = get_reservation(session=session, reservation_id=reservation_id)
    course_session = course_session_of(session=session, reservation_id=reservation_id)
    if course_session is not None:
        raise ConflictError(
            f"reservation {reservation_id!r} holds the seats of course session "
            f"{course_session}; it goes with that session"
        )
    session.delete(row)
    session.flush()
    return row

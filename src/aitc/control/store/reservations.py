"""Reservations in the store, read back as the engine's ``Reservation`` objects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.models import ReservationRow
from aitc.domain.reservation import Reservation


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


def list_reservations(*, session: Session, now: float) -> list[Reservation]:
    """Reservations that have not ended at ``now``, by start time (active ones first)."""
    stmt = (
        select(ReservationRow)
        .where(ReservationRow.end_at > now)
        .order_by(ReservationRow.start_at, ReservationRow.id)
    )
    return [
        Reservation(
            id=r.id,
            org=r.org_id,
            start=r.start_at,
            end=r.end_at,
            gpus=r.gpus,
            nodes=tuple(r.nodes),
            mig_profile=r.mig_profile,
            mig_seats=r.mig_seats,
            name=r.name,
        )
        for r in session.scalars(stmt)
    ]

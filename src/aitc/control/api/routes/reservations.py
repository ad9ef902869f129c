"""/api/v1 reservations: create, list and delete them (admins only).

The engine honours a reservation from the controller's next pass (each request wakes it):
while it is active only its organisation's jobs use its nodes, and before it starts other
jobs use them only if they end in time or are preemptible (docs/scheduling.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep, after_commit
from aitc.control.api.errors import Utf8Route
from aitc.control.api.schemas import (
    MAX_ID,
    ReservationCreate,
    ReservationPublic,
    ReservationsPublic,
)
from aitc.control.store.access import require_admin
from aitc.control.store.reservations import (
    course_session_of,
    create_reservation,
    delete_reservation,
    get_reservation,
    reservation_page,
)

router = APIRouter(tags=["reservations"], route_class=Utf8Route)
ReservationId = Annotated[str, Path(max_length=64)]


@router.get("/reservations", response_model=ReservationsPublic)
def read_reservations(
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    ended: Annotated[bool, Query(description="Include the reservations that ended.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ReservationsPublic:
    """Reservations by start: those not ended yet (every one with `ended=true`)."""
    require_admin(caller)
    now = None if ended else settings.clock.now()
    rows, count = reservation_page(session=session, now=now, limit=limit, offset=offset)
    return ReservationsPublic(data=[ReservationPublic.of(r, s) for r, s in rows], count=count)


@router.post("/reservations", response_model=ReservationPublic, status_code=status.HTTP_201_CREATED)
def make_reservation(
    body: ReservationCreate, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> ReservationPublic:
    """Reserve GPUs or MIG seats for an organisation: 422 with the engine's reason when it
    cannot be guaranteed beside the other reservations (nothing is stored then)."""
    require_admin(caller)
    wanted = body.to_domain()
    row = create_reservation(session=session, reservation=wanted, now=settings.clock.now())
    after_commit(session, settings)  # the controller plans with it at once
    return ReservationPublic.of(row, None)


@router.get("/reservations/{reservation_id}", response_model=ReservationPublic)
def read_reservation(
    reservation_id: ReservationId, session: SessionDep, caller: CallerDep
) -> ReservationPublic:
    require_admin(caller)
    row = get_reservation(session=session, reservation_id=reservation_id)
    return ReservationPublic.of(row, course_session_of(session=session, reservation_id=row.id))


@router.delete("/reservations/{reservation_id}", response_model=ReservationPublic)
def remove_reservation(
    reservation_id: ReservationId, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> ReservationPublic:
    """Delete a reservation: its nodes are free at the controller's next pass. A course
    session's reservation cannot be deleted on its own (409)."""
    require_admin(caller)
    row = delete_reservation(session=session, reservation_id=reservation_id)
    after_commit(session, settings)
    return ReservationPublic.of(row, None)

"""Time-window reservations: GPUs or MIG seats held for an organisation, start to end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reservation:
    """A hold on capacity for one organisation (a workshop session, a partner's contracted slot).

    Either ``gpus`` whole GPUs (on ``nodes`` when given, else wherever the engine chooses), or
    ``mig_seats`` slices of ``mig_profile``. From ``start`` nothing else may hold them except
    preemptible jobs, which are preempted at ``start``.
    """

    id: str
    org: str
    start: float
    end: float
    gpus: int = 0
    nodes: tuple[str, ...] = ()
    mig_profile: str | None = None
    mig_seats: int = 0
    name: str = ""

    def active(self, now: float) -> bool:
        return self.start <= now < self.end

"""Time-window reservations: which GPUs each one holds, and who may use them when.

A reservation holds the nodes it names or, chosen by the engine from the end of the node
list, as many GPUs as it asks for (MIG seats count as the GPUs they fill): whole nodes while
at least a node's worth is left, and the rest as *part* of one more node (its highest GPUs),
so that 14 seats of ``1g.10gb`` hold two GPUs of a node, not the node. A pass *fences* the
whole nodes (``res:<id>``) and *withholds* the GPUs of the part (``Cycle.holds``): the other
GPUs of that node stay everyone's. For both:

- while the reservation is active only its organisation's jobs may use them (its jobs try
  them first); preemptible jobs of others still on them are preempted at its start;
- before it starts, a job may use them only if its time limit ends before the start, or it is
  preemptible, or it belongs to the reservation's organisation.

A node held by several reservations is fenced for the earliest one; a node partly held by one
is not chosen for another whose window overlaps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aitc.domain.cluster import Cluster
from aitc.domain.job import JobRequest, Placement, Priority
from aitc.domain.reservation import Reservation
from aitc.engine.pool import GENERAL
from aitc.errors import CatalogError, ConfigError


@dataclass(frozen=True, slots=True)
class Fence:
    """One reservation as a pass sees it: its tag, whole nodes (positions), the part of one
    more node it holds (position and GPU bitmask, if any) and its window."""

    tag: str
    reservation: Reservation
    positions: tuple[int, ...]
    part: tuple[int, int] | None = None

    def admits(self, job: JobRequest, now: float, end: float) -> bool:
        r = self.reservation
        if job.org == r.org:
            return True
        if r.active(now):
            return False
        return job.priority is Priority.PREEMPTIBLE or end <= r.start


class ReservationBook:
    """Node assignment of reservations, stable across passes.

    Memoised by the whole reservation, not its id: one changed, or deleted and made again
    under the same id, is placed afresh. Reservations that have ended or are gone are
    forgotten at the next pass.
    """

    def __init__(self) -> None:
        self._nodes: dict[Reservation, tuple[tuple[int, ...], tuple[int, int] | None]] = {}

    def fences(
        self, cluster: Cluster, reservations: Sequence[Reservation], now: float
    ) -> list[Fence]:
        live = sorted((r for r in reservations if r.end > now), key=lambda r: (r.start, r.id))
        out: list[Fence] = []
        claimed: dict[int, str] = {}
        for r in live:
            positions, part = self._assign(cluster, r, live)
            mine = tuple(p for p in positions if p not in claimed)
            for p in mine:
                claimed[p] = r.id
            if part is not None and part[0] in claimed:
                part = None  # (the whole node is fenced for an earlier reservation)
            out.append(Fence(f"res:{r.id}", r, mine, part))
        if len(self._nodes) > len(live):
            self._nodes = {r: self._nodes[r] for r in live}
        return out

    def _assign(
        self, cluster: Cluster, r: Reservation, live: Sequence[Reservation]
    ) -> tuple[tuple[int, ...], tuple[int, int] | None]:
        if r in self._nodes:
            return self._nodes[r]
        chosen: tuple[tuple[int, ...], tuple[int, int] | None]
        if r.nodes:
            try:
                chosen = (tuple(cluster.position(n) for n in r.nodes), None)
            except CatalogError as exc:
                raise ConfigError(str(exc), field=f"reservations.{r.id}.nodes") from None
        else:
            chosen = self._choose(cluster, r, live)
        self._nodes[r] = chosen
        return chosen

    def _choose(
        self, cluster: Cluster, r: Reservation, live: Sequence[Reservation]
    ) -> tuple[tuple[int, ...], tuple[int, int] | None]:
        busy: set[int] = set()
        for o in live:
            if o in self._nodes and _overlap(o, r):
                whole, partly = self._nodes[o]
                busy.update(whole)
                if partly is not None:
                    busy.add(partly[0])
        gpus = r.gpus + _mig_gpus(cluster, r)
        chosen: list[int] = []
        part: tuple[int, int] | None = None
        held = 0
        for pos in range(len(cluster.nodes) - 1, -1, -1):
            if held >= gpus:
                break
            if pos in busy:
                continue
            size = cluster.nodes[pos].gpus
            left = gpus - held
            if left >= size:
                chosen.append(pos)
                held += size
            elif part is None:  # the rest: the highest GPUs of one more node
                part = (pos, ((1 << left) - 1) << (size - left))
                held += left
        if held < gpus:
            raise ConfigError(
                f"reservation {r.id!r} needs {gpus} GPUs but only {held} are "
                "not held by overlapping reservations",
                field="reservations",
            )
        return tuple(sorted(chosen)), part


def _overlap(a: Reservation, b: Reservation) -> bool:
    return a.start < b.end and b.start < a.end


def _mig_gpus(cluster: Cluster, r: Reservation) -> int:
    if not r.mig_seats or r.mig_profile is None:
        return 0
    for node in cluster.nodes:
        try:
            profile = node.model.gpu.mig(r.mig_profile)
        except CatalogError:
            continue
        return math.ceil(r.mig_seats / profile.per_gpu)
    raise ConfigError(
        f"no GPU in the cluster offers MIG profile {r.mig_profile!r}",
        field=f"reservations.{r.id}.mig_profile",
    )


def allowed_fences(
    job: JobRequest, fences: Sequence[Fence], now: float, end: float
) -> tuple[str, ...]:
    """Pool tags the job may use: its own active reservations, then general, then the
    future reservations it would leave in time."""
    if not fences:
        return (GENERAL,)
    own = [f.tag for f in fences if f.reservation.active(now) and f.reservation.org == job.org]
    later = [f.tag for f in fences if not f.reservation.active(now) and f.admits(job, now, end)]
    return (*own, GENERAL, *later)


def fenced_positions(fences: Sequence[Fence]) -> Mapping[int, Fence]:
    return {p: f for f in fences for p in f.positions}


def touches(placement: Placement, node: str, mask: int) -> bool:
    """Whether ``placement`` holds any GPU of ``mask`` on ``node`` (whole, or a MIG slice)."""
    for a in placement.allocs:
        if a.node != node:
            continue
        if any(mask >> g & 1 for g in a.gpus) or (a.mig is not None and mask >> a.mig.gpu & 1):
            return True
    return False

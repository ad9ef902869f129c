"""Time-window reservations: which GPUs each one holds, and who may use them when.

A reservation holds the nodes it names or, chosen by the engine from the end of the node
list, as many GPUs as it asks for: whole nodes while at least a node's worth is left, and the
rest as a *part* of one more node (``Part``: its highest GPUs, and for MIG seats that do not
fill a GPU, the memory slots of just those slices on one more GPU). So 14 seats of
``1g.10gb`` (7 per H100) hold two GPUs of a node, not the node, and 3 seats hold three
slices of one GPU, whose other four slices stay everyone's. A pass *fences* the whole nodes
(``res:<id>``) and *withholds* the part (``Cycle.holds``). For both:

- while the reservation is active only its organisation's jobs may use them (its jobs try
  them first); preemptible jobs of others still on them are preempted at its start;
- before it starts, a job may use them only if its time limit ends before the start, or it is
  preemptible, or it belongs to the reservation's organisation.

A node held by several reservations is fenced for the earliest one. Reservations whose windows
overlap never share a GPU or a slice: a node partly held by one may hold parts of others on
its other GPUs and slices (a partly held GPU takes more seats first), never whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aitc.domain.cluster import Cluster
from aitc.domain.gpu import MIG_MEMORY_SLOTS
from aitc.domain.job import JobRequest, MigSlot, Placement, Priority
from aitc.domain.reservation import Reservation
from aitc.engine.pool import GENERAL
from aitc.errors import CatalogError, ConfigError

_SLOTS = (1 << MIG_MEMORY_SLOTS) - 1


@dataclass(frozen=True, slots=True)
class Part:
    """What a reservation holds of one node beside whole nodes: the GPUs ``gpus`` (a bitmask)
    whole, and the MIG memory slots ``slots`` (8 bits per GPU, as the capacity index counts
    them) of the seats that do not fill a GPU."""

    pos: int
    gpus: int
    slots: int = 0

    def gpu_slots(self, gpu: int) -> int:
        """The memory slots held of GPU ``gpu`` (all of them if it is held whole)."""
        if self.gpus >> gpu & 1:
            return _SLOTS
        return self.slots >> (MIG_MEMORY_SLOTS * gpu) & _SLOTS


@dataclass(frozen=True, slots=True)
class Fence:
    """One reservation as a pass sees it: its tag, whole nodes (positions), the part of one
    more node it holds (if any) and its window."""

    tag: str
    reservation: Reservation
    positions: tuple[int, ...]
    part: Part | None = None

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
        self._nodes: dict[Reservation, tuple[tuple[int, ...], Part | None]] = {}

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
            if part is not None and part.pos in claimed:
                part = None  # (the whole node is fenced for an earlier reservation)
            out.append(Fence(f"res:{r.id}", r, mine, part))
        if len(self._nodes) > len(live):
            self._nodes = {r: self._nodes[r] for r in live}
        return out

    def _assign(
        self, cluster: Cluster, r: Reservation, live: Sequence[Reservation]
    ) -> tuple[tuple[int, ...], Part | None]:
        if r in self._nodes:
            return self._nodes[r]
        chosen: tuple[tuple[int, ...], Part | None]
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
    ) -> tuple[tuple[int, ...], Part | None]:
        whole: set[int] = set()  # nodes an overlapping reservation holds whole
        held: dict[int, tuple[int, int]] = {}  # its parts: GPUs and slots per node
        for o in live:
            if o in self._nodes and _overlap(o, r):
                nodes, theirs = self._nodes[o]
                whole.update(nodes)
                if theirs is not None:
                    gpus, slots = held.get(theirs.pos, (0, 0))
                    held[theirs.pos] = (gpus | theirs.gpus, slots | theirs.slots)
        gpus, seats = _demand(cluster, r)
        chosen: list[int] = []
        part: Part | None = None
        left = gpus
        for pos in range(len(cluster.nodes) - 1, -1, -1):
            if left == 0 and (seats == 0 or part is not None):
                break
            if pos in whole:
                continue
            size = cluster.nodes[pos].gpus
            if left >= size and pos not in held:
                chosen.append(pos)
                left -= size
            elif part is None and left < size:  # the rest: GPUs and slices of one more node
                part = _part_on(cluster, pos, left, seats, r.mig_profile, held.get(pos, (0, 0)))
                if part is not None:
                    left = 0
        if left or (seats and part is None):
            if left or not seats:
                why = f"needs {gpus} GPUs but only {gpus - left} are not held"
            else:
                why = f"needs {gpus} GPUs and {seats} {r.mig_profile} slices of one more GPU,"
                why += " which are held"
            raise ConfigError(
                f"reservation {r.id!r} {why} by overlapping reservations", field="reservations"
            )
        return tuple(sorted(chosen)), part


def _overlap(a: Reservation, b: Reservation) -> bool:
    return a.start < b.end and b.start < a.end


def _demand(cluster: Cluster, r: Reservation) -> tuple[int, int]:
    """Whole GPUs ``r`` holds and the MIG seats left over that do not fill a GPU."""
    if not r.mig_seats or r.mig_profile is None:
        return r.gpus, 0
    for node in cluster.nodes:
        try:
            per_gpu = node.model.gpu.mig(r.mig_profile).per_gpu
        except CatalogError:
            continue
        return r.gpus + r.mig_seats // per_gpu, r.mig_seats % per_gpu
    raise ConfigError(
        f"no GPU in the cluster offers MIG profile {r.mig_profile!r}",
        field=f"reservations.{r.id}.mig_profile",
    )


def _part_on(
    cluster: Cluster,
    pos: int,
    gpus: int,
    seats: int,
    profile: str | None,
    taken: tuple[int, int],
) -> Part | None:
    """``gpus`` whole GPUs of node ``pos`` (its highest ones nobody else holds) and ``seats``
    slices of ``profile`` on one more GPU (one already partly held first, to pack them),
    beside what overlapping reservations hold there (``taken``: GPUs, slots); ``None`` if the
    node has not that much left."""
    node = cluster.nodes[pos]
    taken_gpus, taken_slots = taken

    def slots_of(g: int) -> int:
        return taken_slots >> (MIG_MEMORY_SLOTS * g) & _SLOTS

    clean = [g for g in range(node.gpus - 1, -1, -1) if not taken_gpus >> g & 1 and not slots_of(g)]
    if len(clean) < gpus:
        return None
    mask = sum(1 << g for g in clean[:gpus])
    if not seats:
        return Part(pos, mask)
    if profile is None:
        return None
    try:
        mig = node.model.gpu.mig(profile)
    except CatalogError:
        return None
    shared = [g for g in range(node.gpus - 1, -1, -1) if not taken_gpus >> g & 1 and slots_of(g)]
    for g in [*shared, *clean[gpus:]]:
        pick, count = 0, 0
        for start in sorted(mig.placements):
            want = ((1 << mig.size) - 1) << start
            if (slots_of(g) | pick) & want == 0:
                pick, count = pick | want, count + 1
                if count == seats:
                    return Part(pos, mask, pick << (MIG_MEMORY_SLOTS * g))
    return None


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


def touches(
    placement: Placement, node: str, part: Part, slot_bits: Callable[[str, MigSlot], int]
) -> bool:
    """Whether ``placement`` holds any of ``part`` on ``node``: a GPU it holds whole, or a
    slot it holds (``slot_bits``: the memory slots a slice covers, as the capacity index
    counts them)."""
    for a in placement.allocs:
        if a.node != node:
            continue
        if any(part.gpu_slots(g) for g in a.gpus):
            return True
        if a.mig is not None and (
            part.gpus >> a.mig.gpu & 1 or slot_bits(node, a.mig) & part.slots
        ):
            return True
    return False

"""One scheduling pass: the overlay it plans on, the actions it took, and why jobs wait.

The queue disciplines drive a ``Cycle``: ``try_start`` places a job (preempting victims the
policy offers when that is what it takes). Why the jobs left waiting wait is read from the
cycle after the walk (``explain.py``): ``fit_reason`` says what the capacity left lacks.
Failed shapes are remembered for the rest of the pass: capacity only shrinks while a pass
starts jobs, so a job at least as large as one that failed fails too.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, MigSlot, NodeAlloc, Placement, Priority, RunningJob
from aitc.engine import reasons
from aitc.engine.capacity import CapacityIndex, Withheld
from aitc.engine.placement import PlacementPolicy, candidate_pools
from aitc.engine.pool import GENERAL
from aitc.engine.reservations import Fence, Part, allowed_fences, touches
from aitc.engine.shape import shape_of
from aitc.engine.view import Action, Preempt, Reason, Start, View
from aitc.errors import CatalogError

_RUN_ID = operator.attrgetter("request.id")
_STARTED = operator.attrgetter("started")

T = TypeVar("T")


@dataclass(slots=True)
class Hold:
    """The part of ``node`` (GPUs and MIG slots) that a pass withholds for a reservation
    (``fence``): what of it is free is out of every query but the reservation's
    (``Cycle.place``)."""

    fence: Fence
    node: str
    part: Part
    withheld: Withheld

    def again(self, capacity: CapacityIndex) -> None:
        """Withhold what of the part is free now (after a start or a preemption there)."""
        self.withheld = capacity.withhold(self.part.pos, self.part.gpus, self.part.slots)


class Memo(Generic[T]):
    """A typed key for what a policy remembers within one pass (``Cycle.recall``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Memo({self.name!r})"


class VictimFinder(Protocol):
    """Which running jobs a policy would preempt for ``job``, in the order to preempt them.

    ``group`` names the class of jobs that get the same candidates (so a failed attempt is
    not repeated for the rest of the pass).
    """

    def candidates(self, cycle: Cycle, job: JobRequest) -> Sequence[RunningJob]: ...

    def group(self, cycle: Cycle, job: JobRequest) -> Hashable: ...

    def could_preempt(self, cycle: Cycle) -> bool: ...


@dataclass(slots=True)
class Cycle:
    """Mutable state of one pass over an overlay of the driver's capacity index."""

    view: View
    capacity: CapacityIndex
    placer: PlacementPolicy
    default_time_limit: float
    fences: Sequence[Fence] = ()
    actions: list[Action] = field(default_factory=list)
    started: dict[JobId, RunningJob] = field(default_factory=dict)
    preempted: set[JobId] = field(default_factory=set)
    _org_gpus: dict[str, float] | None = None
    org_started: dict[str, float] = field(default_factory=dict)
    _failed: dict[tuple[object, ...], int] = field(default_factory=dict)
    _no_room: dict[tuple[Hashable, ...], int] = field(default_factory=dict)
    _newest: list[RunningJob] | None = None
    _memos: dict[Memo[Any], object] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)  # parts of nodes held for reservations
    now: float = field(init=False)
    phase: int = 0  # which part of a ``Phased`` order the walk is in (policies may read it)
    possible: Callable[[JobRequest], bool] = lambda job: True
    started_names: set[tuple[str, str]] = field(default_factory=set)  # (member, name) started

    @property
    def org_gpus(self) -> dict[str, float]:
        """GPUs each organisation holds now in this pass (computed on first use, from the
        ledger's running totals, which the driver keeps in step with ``view.running``)."""
        if self._org_gpus is None:
            self._org_gpus = self.view.usage.holding()
            for r in self.view.running if self.preempted else ():
                if r.request.id in self.preempted:
                    org = r.request.org
                    self._org_gpus[org] = self._org_gpus.get(org, 0.0) - r.request.gpu_demand
            for org, gpus in self.org_started.items():
                self._org_gpus[org] = self._org_gpus.get(org, 0.0) + gpus
        return self._org_gpus

    def __post_init__(self) -> None:
        self.now = self.view.now

    def limit(self, job: JobRequest) -> float:
        return job.time_limit if job.time_limit is not None else self.default_time_limit

    def fences_for(self, job: JobRequest) -> tuple[str, ...]:
        if not self.fences:
            return (GENERAL,)
        return allowed_fences(job, self.fences, self.now, self.now + self.limit(job))

    def newest_first(self) -> list[RunningJob]:
        """The view's running jobs not yet preempted, most recently started first."""
        if self._newest is None:  # by (-started, id): two stable sorts with keys read in C
            by_id = sorted(self.view.running, key=_RUN_ID)
            self._newest = sorted(by_id, key=_STARTED, reverse=True)  # (ties keep id order)
        if self.preempted:
            return [r for r in self._newest if r.request.id not in self.preempted]
        return self._newest

    def running(self) -> list[RunningJob]:
        """Jobs holding resources now in this pass: the view's, minus preempted, plus started."""
        out = [r for r in self.view.running if r.request.id not in self.preempted]
        return out + list(self.started.values())

    def recall(self, key: Memo[T]) -> T | None:
        """What a policy remembered under ``key`` in this pass (``None``: nothing yet)."""
        return self._memos.get(key)  # type: ignore[return-value]

    def remember(self, key: Memo[T], value: T) -> None:
        self._memos[key] = value

    # ------------------------------------------------------------------ placing
    def place(self, job: JobRequest, fences: Sequence[str] | None = None) -> Placement | None:
        """Where ``job`` fits now (``None`` if nowhere); remembers failures for the pass.

        Where the pass holds part of a node for a reservation the job may use (``holds``):
        the reservation's own jobs try its GPUs first, and any job it admits may take them
        when nothing else fits."""
        fences = tuple(fences if fences is not None else self.fences_for(job))
        key = (job.nodes, job.mig, job.gpu_model, fences)
        if job.submit > self.now or self._failed.get(key, 1 << 30) <= job.gpus:
            return None
        if self.started_names and self.singleton_waits(job):
            return None
        lent = [h for h in self.holds if h.fence.tag in fences] if self.holds else None
        placement = self._on_own_hold(job, lent) if lent else None
        if placement is None:
            placement = self.placer.now(job, self.capacity, fences)
        if placement is None and lent:
            trial = self.capacity.overlay()
            for h in lent:
                trial.give_back(h.withheld)
            placement = self.placer.now(job, trial, fences)
        if placement is None:
            self._failed[key] = min(self._failed.get(key, 1 << 30), job.gpus)
        return placement

    def place_in(self, job: JobRequest, fence: Fence) -> Placement | None:
        """``job`` on ``fence``'s GPUs only: the part of a node it holds, then its whole
        nodes (``None`` if neither has room)."""
        if job.submit > self.now or (self.started_names and self.singleton_waits(job)):
            return None
        held = [h for h in self.holds if h.fence is fence]
        placement = self._on_own_hold(job, held) if held else None
        if placement is None and fence.positions:
            placement = self.placer.now(job, self.capacity, (fence.tag,))
        return placement

    def _on_own_hold(self, job: JobRequest, lent: Sequence[Hold]) -> Placement | None:
        """``job`` on the held GPUs of its own organisation's active reservation: a MIG slice
        on one of them, or whole GPUs of them on one node."""
        for h in lent:
            r = h.fence.reservation
            if r.org != job.org or not r.active(self.now):
                continue
            trial = self.capacity.overlay()
            trial.give_back(h.withheld)
            found = _on_part(job, trial, h.part)
            if found is not None:
                return found
        return None

    def singleton_waits(self, job: JobRequest) -> bool:
        """Whether ``job`` may start only while no other job of its member and name runs
        (``View.singletons``) and this pass started one."""
        return (job.member, job.name) in self.started_names and job.id in self.view.singletons

    def start(self, job: JobRequest, placement: Placement) -> None:
        if self.started_names and self.singleton_waits(job):
            return  # (a walk that placed it on its own overlay): it waits, as Slurm's singleton
        if job.name:
            self.started_names.add((job.member, job.name))
        touched = self._touched_holds(placement)
        for h in touched:
            self.capacity.give_back(h.withheld)
        self.capacity.allocate(placement)
        for h in touched:
            h.again(self.capacity)
        self.actions.append(Start(job.id, placement))
        self.started[job.id] = RunningJob(job, placement, self.now)
        if self._org_gpus is not None:
            self._org_gpus[job.org] = self._org_gpus.get(job.org, 0.0) + job.gpu_demand
        self.org_started[job.org] = self.org_started.get(job.org, 0.0) + job.gpu_demand

    def preempt(self, victim: RunningJob, cause: str) -> None:
        self.capacity.release(victim.placement)
        for h in self._touched_holds(victim.placement):  # what it frees there stays held
            self.capacity.give_back(h.withheld)
            h.again(self.capacity)
        self.actions.append(Preempt(victim.request.id, cause))
        self.preempted.add(victim.request.id)
        org = victim.request.org
        if self._org_gpus is not None:
            self._org_gpus[org] = self._org_gpus.get(org, 0.0) - victim.request.gpu_demand
        self._failed.clear()

    def try_start(self, job: JobRequest, victims: VictimFinder | None = None) -> bool:
        """Start ``job`` now if it fits, preempting victims if needed; False if it waits."""
        if self.started_names and self.singleton_waits(job):
            return False
        placement = self.place(job)
        if placement is None and victims is not None and job.submit <= self.now:
            key = (job.nodes, job.mig, job.gpu_model, victims.group(self, job))
            if self._no_room.get(key, 1 << 30) <= job.gpus:
                return False
            placement = self._make_room(job, victims.candidates(self, job))
            if placement is None:
                self._no_room[key] = job.gpus
        if placement is None:
            return False
        self.start(job, placement)
        return True

    def _make_room(self, job: JobRequest, candidates: Sequence[RunningJob]) -> Placement | None:
        """Preempt the fewest leading ``candidates`` that let ``job`` fit, or none at all."""
        if not candidates:
            return None
        trial = self.capacity.overlay()
        fences = self.fences_for(job)
        for h in self.holds:
            if h.fence.tag in fences:
                trial.give_back(h.withheld)
        for n, victim in enumerate(candidates, 1):
            trial.release(victim.placement)
            for h in self._touched_holds(victim.placement):
                if h.fence.tag not in fences:  # GPUs it frees on a hold stay held for others
                    trial.withhold(h.part.pos, h.part.gpus, h.part.slots)
            placement = self.placer.now(job, trial, fences)
            if placement is not None:
                for v in candidates[:n]:
                    self.preempt(v, f"to start job {job.id}")
                return placement
        return None

    def has_room(self) -> bool:
        """Whether anything could still be placed in this pass (on held GPUs too)."""
        return self.capacity.has_room() or any(
            h.withheld.gpus or h.withheld.slots for h in self.holds
        )

    @property
    def size_filters(self) -> bool:
        """Whether the walks may pass over jobs by the free capacity's size alone: not while
        GPUs are held for a reservation (its jobs may fit there when nothing else is free)."""
        return not self.holds

    def _touched_holds(self, placement: Placement) -> list[Hold]:
        if not self.holds:
            return []
        bits = self.capacity.slot_bits
        return [h for h in self.holds if touches(placement, h.node, h.part, bits)]

    # ------------------------------------------------------------------ reasons
    def fit_reason(self, job: JobRequest) -> Reason | None:
        """Why ``job`` does not fit in the capacity left now (``None`` if it does)."""
        fences = self.fences_for(job)
        if self.placer.now(job, self.capacity, fences) is not None:
            return None
        unheld = self.capacity
        if self.holds:
            unheld = self.capacity.overlay()
            for h in self.holds:
                unheld.give_back(h.withheld)
        if self.fences and self.placer.now(job, unheld, _all_tags(self)) is not None:
            names = ", ".join(
                f.reservation.name or f.reservation.id for f in self.fences if f.tag not in fences
            )
            return reasons.reservation(job, names)
        pools = list(candidate_pools(job, self.capacity, fences))
        free = sum(p.free for p in pools)
        if not pools or job.mig is not None or free < job.gpus or self.placer.gpus_anywhere:
            return reasons.not_enough_gpus(job, free)
        shape = shape_of(job, max(p.node_gpus for p in pools))
        if shape is not None and shape.node_count == 1:
            return reasons.no_contiguous(job, free, max(p.max_node_free() for p in pools))
        return reasons.gang_too_large(job, free, sum(p.idle_nodes for p in pools))


def _on_part(job: JobRequest, capacity: CapacityIndex, part: Part) -> Placement | None:
    """``job`` on ``part`` only: a MIG slice on its GPUs or within its slots (a GPU that
    already carries slices first), or whole GPUs of it for a job on one node."""
    pos = part.pos
    node = capacity.cluster.nodes[pos]
    if job.gpu_model is not None and job.gpu_model != node.gpu_model:
        return None
    gpus = [g for g in range(node.gpus) if part.gpus >> g & 1]
    if job.mig is not None:
        try:
            profile = node.model.gpu.mig(job.mig)
        except CatalogError:
            return None
        seats = [g for g in range(node.gpus) if part.gpu_slots(g)]
        carrying = sorted(seats, key=lambda g: capacity.free_mask(pos) >> g & 1)
        for g in carrying:
            free = capacity.mig_free_slots(pos, g)
            if free is None:
                continue
            free &= part.gpu_slots(g)
            for start in profile.placements:
                want = ((1 << profile.size) - 1) << start
                if free & want == want:
                    return Placement((NodeAlloc(node.name, (), MigSlot(g, job.mig, start)),))
        return None
    if (job.nodes or 1) != 1 or job.gpus == 0:
        return None
    whole = [g for g in gpus if capacity.free_mask(pos) >> g & 1]
    if len(whole) < job.gpus:
        return None
    return Placement((NodeAlloc(node.name, tuple(whole[: job.gpus])),))


def _all_tags(cycle: Cycle) -> tuple[str, ...]:
    return (GENERAL, *(f.tag for f in cycle.fences))


def is_preemptible(job: RunningJob) -> bool:
    return job.request.priority is Priority.PREEMPTIBLE

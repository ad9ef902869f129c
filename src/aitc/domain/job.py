"""Jobs as the engine sees them: what is asked for, and where a job was placed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from aitc.domain.dependency import Dependency
from aitc.domain.frozen import quick_init
from aitc.domain.ids import JobId


class Priority(StrEnum):
    """Priority class of a job. Preemptible jobs may be stopped for others and requeued."""

    GUARANTEED = "guaranteed"
    STANDARD = "standard"
    PREEMPTIBLE = "preemptible"


class JobState(StrEnum):
    """Life cycle of a job. Terminal states: completed, failed, cancelled, timeout."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT})


@quick_init
@dataclass(frozen=True, slots=True)
class MigSlot:
    """One MIG slice: a profile placed at a memory-slot ``start`` on GPU ``gpu`` of a node."""

    gpu: int
    profile: str
    start: int


@quick_init
@dataclass(frozen=True, slots=True)
class NodeAlloc:
    """What a job holds on one node: whole GPUs by index, or one MIG slice."""

    node: str
    gpus: tuple[int, ...] = ()
    mig: MigSlot | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job runs: one ``NodeAlloc`` per node, in rank order."""

    allocs: tuple[NodeAlloc, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(a.node for a in self.allocs)

    @property
    def gpu_count(self) -> int:
        return sum(len(a.gpus) for a in self.allocs)

    @property
    def is_mig(self) -> bool:
        return any(a.mig is not None for a in self.allocs)


@quick_init
@dataclass(frozen=True, slots=True)
class JobRequest:
    """A job as submitted: who asks, for how much, and for how long at most.

    ``gpus`` is the total number of whole GPUs (0 for a MIG job, which asks for ``mig``, a
    profile name such as ``1g.10gb``). ``nodes`` fixes the node count of a multi-node job;
    ``None`` lets placement choose (one node when the job fits on one). ``time_limit`` is in
    seconds (``None``: no limit). ``submit`` is the time the job entered the queue.
    ``runtime`` is known only to the twin (the trace says how long the job ran); the engine never
    reads it, it plans with ``time_limit``. ``dependency``: the jobs it waits for (Slurm's
    ``--dependency``); the books keep it out of the queue until it holds. ``begin``: the
    earliest time it may start (Slurm's ``--begin``; None: at once); the books keep it out of
    the queue until then.
    """

    id: JobId
    org: str
    project: str
    member: str
    gpus: int
    submit: float
    nodes: int | None = None
    mig: str | None = None
    gpu_model: str | None = None
    time_limit: float | None = None
    priority: Priority = Priority.STANDARD
    name: str = ""
    dependency: Dependency | None = None
    begin: float | None = None
    # GPUs held, counting a MIG slice as the fraction of a GPU it uses (for usage); derived
    # once, as every start and stop reads it several times
    gpu_demand: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        demand = float(self.gpus) if self.mig is None else _mig_fraction(self.mig)
        object.__setattr__(self, "gpu_demand", demand)


def _mig_fraction(profile: str) -> float:
    compute = int(profile.split("g", 1)[0]) if profile[:1].isdigit() else 1
    return compute / 7


@quick_init
@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job that holds resources now: its request, where, since when, and attained service."""

    request: JobRequest
    placement: Placement
    started: float
    attained_gpu_seconds: float = 0.0

"""The engine contract: the view a driver hands in, and the actions the engine hands back.

Both drivers (the twin and the control plane) build a ``View`` from their ``Books`` and call
``Scheduler.run(view)``: one pass, whose ``Outcome`` holds the actions and, when asked, why
every pending job waits and when it may start. The engine reads nothing else: no file,
socket, database or clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from aitc.domain.cluster import Cluster
from aitc.domain.frozen import quick_init
from aitc.domain.ids import JobId
from aitc.domain.job import Placement, RunningJob
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation

if TYPE_CHECKING:
    from aitc.engine.capacity import CapacityIndex
    from aitc.engine.ledger import UsageLedger
    from aitc.engine.pending import PendingQueue


@quick_init
@dataclass(frozen=True, slots=True)
class Start:
    """Start ``job_id`` on ``placement``."""

    job_id: JobId
    placement: Placement


@quick_init
@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop ``job_id`` and put it back in the queue (its resources are free after this)."""

    job_id: JobId
    cause: str = ""


Action = Start | Preempt


class ReasonCode(StrEnum):
    QUOTA = "quota"
    FAIR_SHARE = "fair_share"
    PRIORITY = "priority"
    NOT_ENOUGH_GPUS = "not_enough_gpus"
    NO_CONTIGUOUS_PLACEMENT = "no_contiguous_placement"
    RESERVATION = "reservation"
    GANG_TOO_LARGE = "gang_too_large"
    BACKFILL = "backfill"
    DEPENDENCY = "dependency"
    BEGIN_TIME = "begin_time"
    IMPOSSIBLE = "impossible"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a pending job waits, as a code, the numbers behind it and a sentence for people."""

    code: ReasonCode
    message: str
    details: Mapping[str, object] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True, slots=True)
class View:
    """Everything the engine may know at ``now``.

    ``pending`` is in arrival order. ``capacity`` is owned by the driver and reflects
    ``running``; the engine plans on an overlay of it and never mutates it. ``usage`` holds
    decayed usage per organisation/project/member. ``singletons``: the pending jobs that may
    start only while no other job of their member and name runs (Slurm's ``singleton``): a
    pass that starts such a job does not start them after it.
    """

    now: float
    cluster: Cluster
    pending: PendingQueue
    running: Sequence[RunningJob]
    capacity: CapacityIndex
    usage: UsageLedger
    organisations: Sequence[Organisation] = ()
    reservations: Sequence[Reservation] = ()
    singletons: AbstractSet[JobId] = frozenset()

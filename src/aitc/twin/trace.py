"""What every loader hands the twin: job requests with their true runtimes, in submit order.

A *trace* is a stream of ``TraceJob`` values sorted by submit time. The request is exactly
what the engine sees; the runtime (seconds of work on an ideally placed job) is known only to
the twin. Loaders stream: they keep columns as numpy arrays and build Python objects chunk by
chunk, so a million-job trace never sits in memory as a million objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from aitc.domain.job import JobRequest
from aitc.domain.org import Organisation, OrgKind
from aitc.domain.reservation import Reservation

# Standard wall-time requests (seconds): 1 h, 2 h, 4 h, 8 h, 12 h, 1 d, 2 d, 3 d, 7 d, 14 d,
# 30 d, 60 d. People ask for a round number that comfortably covers the run, so a derived time
# limit is the smallest of these at least ``TIME_LIMIT_HEADROOM`` above the runtime.
TIME_LIMIT_LADDER: tuple[float, ...] = tuple(
    h * 3600.0 for h in (1, 2, 4, 8, 12, 24, 48, 72, 168, 336, 720, 1440)
)
TIME_LIMIT_HEADROOM = 1.25
CHUNK_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One job of a trace: what was asked for, and how long it really runs (seconds)."""

    request: JobRequest
    runtime: float


class JobSource(Protocol):
    """A loaded trace: who submits (organisations), held capacity and the job stream.

    ``jobs()`` may be called more than once (each call starts from the first job).
    """

    @property
    def name(self) -> str: ...

    def organisations(self) -> Sequence[Organisation]: ...

    def reservations(self) -> Sequence[Reservation]: ...

    def jobs(self) -> Iterator[TraceJob]: ...


def standard_time_limit(runtime: float) -> float:
    """The smallest standard request covering ``runtime`` with headroom (beyond 60 d: days)."""
    need = runtime * TIME_LIMIT_HEADROOM
    for step in TIME_LIMIT_LADDER:
        if need <= step:
            return step
    return math.ceil(need / 86400.0) * 86400.0


@dataclass(frozen=True)
class ListSource:
    """A small trace held as a list (tests, what-if replays); sorted by submit on creation.

    Organisations default to one per submitting org, each of weight 1.
    """

    items: tuple[TraceJob, ...]
    orgs: tuple[Organisation, ...] = ()
    held: tuple[Reservation, ...] = ()
    name: str = "list"

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.items, key=lambda j: j.request.submit))
        object.__setattr__(self, "items", ordered)

    def organisations(self) -> Sequence[Organisation]:
        if self.orgs:
            return self.orgs
        ids = sorted({j.request.org for j in self.items})
        return tuple(Organisation(i, i, OrgKind.RESEARCH, 1.0) for i in ids)

    def reservations(self) -> Sequence[Reservation]:
        return self.held

    def jobs(self) -> Iterator[TraceJob]:
        return iter(self.items)


class Wrapping:
    """A job source that wraps another (``self.trace``): its name and skipped rows pass through."""

    trace: JobSource

    @property
    def name(self) -> str:
        return self.trace.name

    @property
    def skipped(self) -> int:
        return int(getattr(self.trace, "skipped", 0))


@dataclass(frozen=True)
class Oracle(Wrapping):
    """A trace whose jobs ask for exactly their true runtime as their time limit.

    What ``aitc sim --oracle`` replays: policies that plan with time limits (``sjf``,
    ``backfill``) then see perfect estimates. The twin does not kill these jobs at their
    limit (``TwinConfig.kill_at_time_limit``): a job slowed down by its placement or
    restored after a preemption runs past its runtime through no fault of the estimate.
    """

    trace: JobSource

    @property
    def how_of(self) -> Callable[[int], int] | None:
        """How each job was mapped onto the cluster, when the trace knows (``requestmap``)."""
        return getattr(self.trace, "how_of", None)

    def organisations(self) -> Sequence[Organisation]:
        return self.trace.organisations()

    def reservations(self) -> Sequence[Reservation]:
        return self.trace.reservations()

    def jobs(self) -> Iterator[TraceJob]:
        for job in self.trace.jobs():
            yield TraceJob(replace(job.request, time_limit=job.runtime), job.runtime)

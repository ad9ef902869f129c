"""The walk every queue discipline shares: admission, the "nothing more can start" test, and
the record a walk leaves for the pass's explanation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from aitc.domain.job import JobRequest
from aitc.engine import reasons
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.view import Reason

MANY = 1 << 30  # more GPUs than any job asks for


@dataclass(slots=True)
class Walk:
    """What one walk decided, beyond its actions (on the cycle).

    ``complete``: the walk reached the end of the jobs it was given (quiet passes rely on it);
    ``head``: the first job that could not start, where the discipline gives it a role.
    """

    complete: bool = False
    head: JobRequest | None = None


class Admit(Protocol):
    def __call__(self, cycle: Cycle, job: JobRequest) -> Reason | None: ...


class QueuePolicy(Protocol):
    """Walks the ordered queue of one pass, starting what it may, and says afterwards what
    the walk means for each job left waiting."""

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> Walk: ...

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why: ...


@dataclass(frozen=True, slots=True)
class Why:
    """The discipline's reasons for a waiting job; ``fit``: whether the capacity left after the
    pass explains it too (``Cycle.fit_reason``), ``otherwise``: the sentence of a priority
    reason when nothing else does."""

    found: tuple[Reason, ...] = ()
    fit: bool = True
    otherwise: str = "the jobs before it were tried first; it is tried again in the next pass"


IN_ORDER = Why()


def behind(job: JobRequest, ahead: int, why: str) -> Why:
    """A job that waits for ``ahead`` jobs before it (and for the room they leave)."""
    return Why((reasons.priority(job, ahead, why),))


class Full:
    """Whether nothing more can start in this pass: no GPU is free and nothing may be
    preempted (asked again only after the pass started or preempted something)."""

    __slots__ = ("_cycle", "_state", "_full", "_victims")

    def __init__(self, cycle: Cycle, victims: VictimFinder | None) -> None:
        self._cycle, self._victims = cycle, victims
        self._state: tuple[int, int] | None = None
        self._full = False

    def __call__(self) -> bool:
        cycle = self._cycle
        state = (len(cycle.preempted), len(cycle.started))
        if state != self._state:
            victims = self._victims
            room = cycle.has_room()
            self._full = not room and (victims is None or not victims.could_preempt(cycle))
            self._state = state
        return self._full

    def again(self) -> None:
        """Ask again at the next call (the policy's answer to ``could_preempt`` may change)."""
        self._state = None


def admitted(cycle: Cycle, job: JobRequest, admit: Admit) -> bool:
    return admit(cycle, job) is None

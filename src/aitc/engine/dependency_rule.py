"""The dependency rule (Slurm's ``--dependency``): whether a job may be queued, waits (and
why, in words), or never may.

A condition is judged on what is known of the jobs it names (``Seen``: pending, running since
when, ended how and when, or unknown), as Slurm's ``_test_job_dependency_common`` judges it:

- ``after``: every job named started (or ended without starting), and ``+MIN`` minutes have
  passed since the last of them did;
- ``afterany``: every job ended; ``afterok`` and ``aftercorr``: every job completed (one that
  ended otherwise means never); ``afternotok``: every job ended and one did not complete
  (all completed means never);
- ``singleton``: no other job of the member and name runs or came earlier and still waits.

A dependency with ``,`` holds when every condition holds and never when one never can; with
``?`` it holds when one holds and never when none can. A condition that held once stays held
(``held``), as Slurm marks it fulfilled, except ``singleton``, which is judged every time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from aitc.domain.dependency import Condition, Dependency, DependencyKind
from aitc.domain.ids import JobId
from aitc.domain.job import JobState
from aitc.engine.view import Reason, ReasonCode

NEVER_SATISFIED = "DependencyNeverSatisfied"


class Target(StrEnum):
    """A named job that has not ended (waiting to start, or running), or one that the books
    know nothing of."""

    PENDING = "pending"
    RUNNING = "running"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Seen:
    """What is known of a named job: its state, and when it began (the start of its run, or
    for one that ended without running, its end): ``after`` counts its minutes from there."""

    state: JobState | Target
    begun: float | None = None

    @property
    def ended(self) -> bool:
        return isinstance(self.state, JobState) and self.state.terminal


UNKNOWN = Seen(Target.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Status:
    """One condition's verdict: holds, never (``never``: why), or waits: for ``open`` jobs to
    do what ``wants`` says, or (``phrase``) for something else: ``singleton``'s job, or the
    minutes of ``after:ID+MIN``, until ``until``."""

    holds: bool = False
    never: str = ""
    open: tuple[JobId, ...] = ()
    wants: str = ""
    phrase: str = ""
    until: float | None = None

    @property
    def text(self) -> str:
        return self.phrase or f"{_jobs(self.open)} to {self.wants}"


HOLDS = Status(holds=True)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a job may be queued now (``ready``), waits (``reason``; ``until``: the first
    time a condition may come to hold by the clock alone), or never may (``never``: why).
    ``held``: the conditions other than ``singleton`` known to hold now (they stay held).
    ``settled``: ready without ``singleton``'s say, so never judged again; a job ready only
    while its ``singleton`` holds is judged again when a job of its member and name starts."""

    ready: bool
    reason: Reason | None = None
    never: str = ""
    held: frozenset[int] = frozenset()
    until: float | None = None
    settled: bool = False


_WANTS = {
    DependencyKind.AFTER: "start",
    DependencyKind.AFTER_ANY: "end",
    DependencyKind.AFTER_OK: "complete successfully",
    DependencyKind.AFTER_CORR: "complete successfully",
    DependencyKind.AFTER_NOT_OK: "fail, be cancelled or time out",
}


def judge(
    dep: Dependency,
    seen: Mapping[JobId, Seen],
    *,
    now: float,
    blocker: JobId | None,
    name: str,
    held: frozenset[int] = frozenset(),
) -> Verdict:
    """The rule for ``dep``: ``seen`` gives what is known of each job named, ``blocker`` the
    job that keeps a ``singleton`` waiting (if any), ``held`` the conditions that held before."""
    statuses = [
        HOLDS if i in held else condition(c, seen, now=now, blocker=blocker, name=name)
        for i, c in enumerate(dep.conditions)
    ]
    single = DependencyKind.SINGLETON
    kept = frozenset(
        i for i, s in enumerate(statuses) if s.holds and dep.conditions[i].kind is not single
    )
    if dep.any_of:
        return _any(dep, statuses, kept)
    return _every(dep, statuses, kept)


def _every(dep: Dependency, statuses: Sequence[Status], held: frozenset[int]) -> Verdict:
    for s in statuses:
        if s.never:
            return Verdict(False, never=s.never, held=held)
    waiting = [s for s in statuses if not s.holds]
    if not waiting:
        return Verdict(True, held=held, settled=not dep.singleton)
    message = f"It waits for {'; and for '.join(_together(waiting))}."
    return _waits(dep, waiting, message, held)


def _any(dep: Dependency, statuses: Sequence[Status], held: frozenset[int]) -> Verdict:
    if held:
        return Verdict(True, held=held, settled=True)
    if any(s.holds for s in statuses):  # singleton, for now
        return Verdict(True, held=held)
    waiting = [s for s in statuses if not s.never]
    if not waiting:
        return Verdict(False, never="none can hold: " + "; ".join(s.never for s in statuses))
    if len(waiting) == 1:
        message = f"It waits for {waiting[0].text}."
    else:
        message = f"It waits for any one of: {'; or '.join(s.text for s in waiting)}."
    return _waits(dep, waiting, message, held)


def _waits(
    dep: Dependency, waiting: Sequence[Status], message: str, held: frozenset[int]
) -> Verdict:
    details: dict[str, object] = {
        "dependency": str(dep),
        "waiting_for": list(dict.fromkeys(int(j) for s in waiting for j in s.open)),
    }
    times = [s.until for s in waiting if s.until is not None]
    until = min(times) if times else None
    if until is not None:
        details["until"] = until
    return Verdict(False, Reason(ReasonCode.DEPENDENCY, message, details), held=held, until=until)


def _together(waiting: Sequence[Status]) -> list[str]:
    """What the conditions wait for, in words, the jobs of waits alike together ("jobs 3, 4
    to complete successfully (afterok)"), in order of first appearance."""
    jobs: dict[str, list[JobId]] = {}
    for s in waiting:
        if s.phrase:
            jobs.setdefault(s.phrase, [])
        else:
            jobs.setdefault(s.wants, []).extend(s.open)
    return [f"{_jobs(list(dict.fromkeys(js)))} to {k}" if js else k for k, js in jobs.items()]


def condition(
    cond: Condition, seen: Mapping[JobId, Seen], *, now: float, blocker: JobId | None, name: str
) -> Status:
    """One condition's verdict (see the module docstring)."""
    kind = cond.kind
    if kind is DependencyKind.SINGLETON:
        if blocker is None:
            return HOLDS
        phrase = f"job {blocker} (also named {name!r}) to end (singleton)"
        return Status(open=(blocker,), phrase=phrase)
    states = [(j, seen.get(j, UNKNOWN)) for j in cond.jobs]
    for j, s in states:
        if s.state is Target.UNKNOWN:
            return Status(never=f"job {j} is unknown ({cond})")
    if kind is DependencyKind.AFTER:
        return _after(cond, states, now)
    bad = [(j, s.state) for j, s in states if s.ended and s.state is not JobState.COMPLETED]
    if kind in (DependencyKind.AFTER_OK, DependencyKind.AFTER_CORR) and bad:
        j, state = bad[0]
        return Status(never=f"job {j} ended {state}, and {cond} needs it to complete")
    open_jobs = tuple(j for j, s in states if not s.ended)
    if open_jobs:
        return Status(open=open_jobs, wants=_wants(cond))
    if kind is DependencyKind.AFTER_NOT_OK and not bad:
        return Status(never=_all_completed(cond))
    return HOLDS


def _after(cond: Condition, states: Sequence[tuple[JobId, Seen]], now: float) -> Status:
    open_jobs = tuple(j for j, s in states if s.state is Target.PENDING)
    if open_jobs:
        return Status(open=open_jobs, wants=_wants(cond))
    if not cond.minutes:
        return HOLDS
    begun = max(s.begun or 0.0 for _, s in states)
    until = begun + cond.minutes * 60.0
    if now >= until:
        return HOLDS
    started = _jobs(cond.jobs) + (" started" if len(cond.jobs) == 1 else " all started")
    phrase = f"the {cond.minutes} minutes after {started} to pass ({cond.kind}:{cond.ref})"
    return Status(until=until, phrase=phrase)


def _wants(cond: Condition) -> str:
    """What a condition wants of the jobs it still waits for, in words."""
    kind = cond.kind
    if kind is DependencyKind.AFTER_NOT_OK and len(cond.jobs) > 1:
        return f"end ({kind}: one of {_jobs(cond.jobs)} must fail, be cancelled or time out)"
    if kind is DependencyKind.AFTER and cond.minutes:
        return f"start, and then {cond.minutes} minutes to pass ({kind})"
    return f"{_WANTS[kind]} ({kind})"


def _all_completed(cond: Condition) -> str:
    if len(cond.jobs) == 1:
        return f"job {cond.jobs[0]} completed, and {cond} needs it to end otherwise"
    return f"{_jobs(cond.jobs)} all completed, and {cond} needs one to end otherwise"


def _jobs(ids: Sequence[JobId]) -> str:
    return f"job {ids[0]}" if len(ids) == 1 else "jobs " + ", ".join(str(i) for i in ids)

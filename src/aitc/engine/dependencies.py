"""Job dependencies (Slurm's ``--dependency``): the rule, and the jobs waiting on it.

The books (``aitc.engine.books``) keep a job whose dependency does not hold yet out of the
``PendingQueue``, in ``DependencyBook.waiting``: the policies never see it, and its reason
(``DEPENDENCY``) names the jobs it waits for. Whenever a job it names ends for good
(``Books.ended``; for ``singleton``, a job of the same member and name), it is judged again:

- satisfied: it goes into the queue at its place in arrival order, and stays satisfied (a
  hold and a release later do not judge it again, as Slurm clears a dependency that held);
- never satisfiable (``afterok`` on a job that failed, was cancelled or timed out,
  ``afternotok`` on one that completed, a job the books were never told of): it leaves the
  books, and the driver takes it (``Books.take_never``) and cancels it with the reason
  ``DependencyNeverSatisfied``, as Slurm does with ``kill_invalid_depend``.

What a condition needs of a job it names is one of three things: the job is alive (pending,
held, waiting or running), it ended in a terminal ``JobState``, or it is unknown. The books
know the jobs they hold; a driver tells them of the others (``Books.tell``: a job that ended
before the books were built, or that it holds outside them). Both drivers keep the same books,
so the twin and the control plane decide the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from aitc.domain.dependency import Condition, Dependency, DependencyKind
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, JobState, RunningJob
from aitc.engine.view import Reason, ReasonCode

NEVER_SATISFIED = "DependencyNeverSatisfied"


class Target(StrEnum):
    """A named job that has not ended, or one the books know nothing of."""

    ALIVE = "alive"
    UNKNOWN = "unknown"


TargetState = JobState | Target
NameKey = tuple[str, str]  # (member, job name): what singleton compares


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a job may be queued now (``ready``), waits (``reason``), or never may (``never``:
    why, in words)."""

    ready: bool
    reason: Reason | None = None
    never: str = ""


def judge(job: JobRequest, state_of: Mapping[JobId, TargetState], blocker: JobId | None) -> Verdict:
    """The rule: every condition of ``job.dependency`` must hold. ``state_of`` gives the state
    of each job named; ``blocker`` is the job that keeps a ``singleton`` waiting, if any."""
    dep = job.dependency
    if dep is None:
        return Verdict(True)
    waits: list[str] = []
    waiting_for: list[int] = []
    for cond in dep.conditions:
        if cond.kind is DependencyKind.SINGLETON:
            if blocker is not None:
                waits.append(f"job {blocker} (also named {job.name!r}) to end (singleton)")
                waiting_for.append(int(blocker))
            continue
        open_jobs, never = _condition(cond, state_of)
        if never:
            return Verdict(False, never=never)
        if open_jobs:
            waits.append(f"{_jobs(open_jobs)} to {_WANTS[cond.kind]} ({cond.kind})")
            waiting_for.extend(int(j) for j in open_jobs)
    if not waits:
        return Verdict(True)
    message = f"It waits for {'; and for '.join(waits)}."
    details = {"dependency": str(dep), "waiting_for": waiting_for}
    return Verdict(False, Reason(ReasonCode.DEPENDENCY, message, details))


_WANTS = {
    DependencyKind.AFTER_OK: "complete successfully",
    DependencyKind.AFTER_NOT_OK: "fail, be cancelled or time out",
    DependencyKind.AFTER_ANY: "end",
}


def _condition(cond: Condition, state_of: Mapping[JobId, TargetState]) -> tuple[list[JobId], str]:
    """The jobs ``cond`` still waits for, or why it can never hold."""
    open_jobs = []
    for target in cond.jobs:
        state = state_of[target]
        if state is Target.ALIVE:
            open_jobs.append(target)
        elif state is Target.UNKNOWN:
            return [], f"job {target} is unknown ({cond})"
        elif cond.kind is DependencyKind.AFTER_OK and state is not JobState.COMPLETED:
            return [], f"job {target} ended {state}, and {cond} needs it to complete"
        elif cond.kind is DependencyKind.AFTER_NOT_OK and state is JobState.COMPLETED:
            return [], f"job {target} completed, and {cond} needs it to end otherwise"
    return open_jobs, ""


def _jobs(ids: list[JobId]) -> str:
    return f"job {ids[0]}" if len(ids) == 1 else "jobs " + ", ".join(str(i) for i in ids)


class DependencyBook:
    """The jobs waiting for their dependencies, and what the rule needs to judge them.

    Besides the waiting jobs it keeps: the jobs alive (noted by the books when they enter
    them, told by a driver when it holds one outside them, forgotten when they end), who
    waits for whom, the outcomes of ended jobs that someone waits for (or that a driver told),
    and the alive jobs by (member, name) for ``singleton``. All of it is proportional to the
    jobs alive, not to every job that ever ended.
    """

    def __init__(self, running: Mapping[JobId, RunningJob]) -> None:
        self._running = running
        self.waiting: dict[JobId, JobRequest] = {}
        self._alive: set[JobId] = set()
        self._watchers: dict[JobId, set[JobId]] = {}  # named job -> waiting jobs naming it
        self._outcomes: dict[JobId, JobState] = {}
        self._named: dict[NameKey, set[JobId]] = {}
        self._satisfied: set[JobId] = set()  # alive jobs whose dependency held (as Slurm, it
        # stays satisfied: a job held and released after that is not judged again)
        self._never: list[tuple[JobRequest, str]] = []

    # ------------------------------------------------------------------ what the books tell
    def note(self, job: JobRequest) -> None:
        """``job`` is alive in the books (submitted, restored or running)."""
        self._alive.add(job.id)
        if job.name:
            self._named.setdefault((job.member, job.name), set()).add(job.id)

    def tell(self, job_id: JobId, state: JobState, *, member: str = "", name: str = "") -> None:
        """A job the books do not hold: alive (pending or active) or ended in ``state``."""
        if state.terminal:
            self._outcomes[job_id] = state
        else:
            self._alive.add(job_id)
            if name:
                self._named.setdefault((member, name), set()).add(job_id)

    def knows(self, job_id: JobId) -> bool:
        return job_id in self._alive or job_id in self._outcomes

    def admit(self, job: JobRequest) -> bool:
        """Judge a job entering the queue: True to queue it; else it waits or is never run."""
        if job.id in self._satisfied:
            return True
        verdict = self._judge(job)
        if verdict.reason is not None:
            self.waiting[job.id] = job
            for target in self._watched(job):
                self._watchers.setdefault(target, set()).add(job.id)
            return False
        if verdict.never:
            self._never.append((job, verdict.never))
        else:
            self._satisfied.add(job.id)
        self._forget_outcomes(job)
        return verdict.ready

    def ended(self, job: JobRequest, state: JobState) -> list[JobRequest]:
        """``job`` ended for good in ``state``: the waiting jobs that may be queued now, in id
        order. (On every end of every job in both drivers, so the common case, a job nobody
        waits for, costs a few set operations.)"""
        job_id = job.id
        self._alive.discard(job_id)
        if job.dependency is not None:
            self._satisfied.discard(job_id)
            self.waiting.pop(job_id, None)
            self._unwatch(job)
        watchers = self._watchers.get(job_id)
        alive = self._named.get((job.member, job.name)) if job.name else None
        if not watchers and alive is None:
            return []
        woken = set(watchers or ())
        if watchers:
            self._outcomes[job_id] = state
        if alive is not None:
            alive.discard(job_id)
            woken |= {j for j in alive if j in self.waiting}
            if not alive:
                del self._named[(job.member, job.name)]
        ready = []
        for jid in sorted(woken):
            waiting = self.waiting.get(jid)
            if waiting is not None and self._rejudge(waiting):
                ready.append(waiting)
        return ready

    def withdraw(self, job_id: JobId) -> JobRequest | None:
        """Take a waiting job out (held, or cancelled); None if it was not waiting. It still
        watches the jobs it names until it ends (``ended``), so a held job comes back to
        outcomes that happened meanwhile."""
        return self.waiting.pop(job_id, None)

    def take_never(self) -> list[tuple[JobRequest, str]]:
        """The jobs found never satisfiable since the last call, with why."""
        out, self._never = self._never, []
        return out

    def reasons(self) -> dict[JobId, Reason]:
        """Why each waiting job waits (``DEPENDENCY``)."""
        out = {}
        for jid, job in self.waiting.items():
            reason = self._judge(job).reason
            if reason is not None:
                out[jid] = reason
        return out

    # ------------------------------------------------------------------ the rule's inputs
    def _judge(self, job: JobRequest) -> Verdict:
        dep = job.dependency
        assert dep is not None
        states = {t: self._state(t) for t in dep.targets}
        return judge(job, states, self._blocker(job) if dep.singleton else None)

    def _rejudge(self, job: JobRequest) -> bool:
        verdict = self._judge(job)
        if verdict.reason is not None:
            return False
        self.waiting.pop(job.id)
        self._unwatch(job)
        if verdict.never:
            self._never.append((job, verdict.never))
        else:
            self._satisfied.add(job.id)
        return verdict.ready

    def _state(self, job_id: JobId) -> TargetState:
        outcome = self._outcomes.get(job_id)
        if outcome is not None:
            return outcome
        return Target.ALIVE if job_id in self._alive else Target.UNKNOWN

    def _blocker(self, job: JobRequest) -> JobId | None:
        """As Slurm: a job of the same member and name that runs, or came earlier and has not
        started (pending, held or waiting)."""
        for other in sorted(self._named.get((job.member, job.name), ())):
            if other != job.id and (other in self._running or other < job.id):
                return other
        return None

    @staticmethod
    def _watched(job: JobRequest) -> tuple[JobId, ...]:
        dep: Dependency | None = job.dependency
        return dep.targets if dep is not None else ()

    def _unwatch(self, job: JobRequest) -> None:
        for target in self._watched(job):
            watchers = self._watchers.get(target)
            if watchers is not None:
                watchers.discard(job.id)
                if not watchers:
                    del self._watchers[target]
                    self._outcomes.pop(target, None)

    def _forget_outcomes(self, job: JobRequest) -> None:
        for target in self._watched(job):
            if target not in self._watchers:
                self._outcomes.pop(target, None)

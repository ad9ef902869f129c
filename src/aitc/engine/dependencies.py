"""Job dependencies (Slurm's ``--dependency``): the jobs waiting on them, and what the rule
(``aitc.engine.dependency_rule``) needs to judge them.

The books (``aitc.engine.books``) keep a job whose dependency does not hold yet out of the
``PendingQueue``, in ``DependencyBook.waiting``: the policies never see it, and its reason
(``DEPENDENCY``) names the jobs it waits for. It is judged again when something it may wait
for happens:

- a job it names starts (``started``: ``after``), is requeued (``stopped``) or ends for good
  (``ended``);
- for ``singleton``, a job of the same member and name ends, or is requeued;
- for ``after:ID+MIN``, the clock reaches the time (``wake``; ``next_due`` says when).

Then it is either ready (it goes into the queue at its place in arrival order), or never
satisfiable (``afterok`` on a job that failed, ``afternotok`` on one that completed, a job the
books were never told of): it leaves the books, and the driver takes it (``take_never``) and
cancels it with the reason ``DependencyNeverSatisfied``, as Slurm does with
``kill_invalid_depend``.

A dependency that held stays satisfied (a hold and a release later do not judge it again, as
Slurm clears a dependency that held), except where it held only by its ``singleton``: such a
job (``provisional``) is judged again whenever it enters the queue and whenever another job of
its member and name starts, and leaves the queue for ``waiting`` if that job now blocks it.
Within one pass the engine starts no provisional job after a job of its name
(``View.singletons``), so ``singleton`` means one such job running at a time, as Slurm says.

What a condition needs of a job it names is what ``Seen`` holds: waiting to start, running
since when, ended how and when, or unknown. The books know the jobs they hold; a driver tells
them of the others (``tell``: a job that ended before the books were built, or that it holds
outside them). Both drivers keep the same books, so the twin and the control plane decide the
same way.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, JobState, RunningJob
from aitc.engine.dependency_rule import NEVER_SATISFIED, UNKNOWN, Seen, Target, Verdict, judge
from aitc.engine.view import Reason

__all__ = ["NEVER_SATISFIED", "DependencyBook"]

NameKey = tuple[str, str]  # (member, job name): what singleton compares


class DependencyBook:
    """The jobs waiting for their dependencies, and what the rule needs to judge them.

    Besides the waiting jobs it keeps: the jobs alive (noted by the books when they enter
    them, told by a driver when it holds one outside them, forgotten when they end) and when
    those running began, who waits for whom, the outcomes of ended jobs that someone waits for
    (or that a driver told), the conditions of each waiting job that held already, and the
    alive jobs by (member, name) for ``singleton``. All of it is proportional to the jobs
    alive, not to every job that ever ended.
    """

    def __init__(self, running: Mapping[JobId, RunningJob]) -> None:
        self._running = running
        self.waiting: dict[JobId, JobRequest] = {}
        self._alive: set[JobId] = set()
        self._begun: dict[JobId, float] = {}  # alive jobs that run: since when
        self._watchers: dict[JobId, set[JobId]] = {}  # named job -> waiting jobs naming it
        self._outcomes: dict[JobId, Seen] = {}
        self._named: dict[NameKey, set[JobId]] = {}
        self._held: dict[JobId, frozenset[int]] = {}  # conditions that held, of waiting jobs
        self._settled: set[JobId] = set()  # alive jobs whose dependency held for good
        # alive jobs that hold by their singleton only (they still watch the jobs they name,
        # so that another condition may settle them)
        self.provisional: dict[JobId, JobRequest] = {}
        self._provisional_by: dict[NameKey, set[JobId]] = {}
        self._due: list[tuple[float, JobId]] = []  # (when, waiting job): after:ID+MIN
        self._never: list[tuple[JobRequest, str]] = []
        self._now = float("-inf")  # the latest time the books were told

    # ------------------------------------------------------------------ what the books tell
    def note(self, job: JobRequest) -> None:
        """``job`` is alive in the books (submitted, restored or running)."""
        self._alive.add(job.id)
        self._now = max(self._now, job.submit)
        if job.name:
            self._named.setdefault((job.member, job.name), set()).add(job.id)

    def tell(
        self,
        job_id: JobId,
        state: JobState,
        *,
        member: str = "",
        name: str = "",
        begun: float | None = None,
    ) -> None:
        """A job the books do not hold: alive (pending, or running since ``begun``) or ended
        in ``state`` (``begun``: the start of its last run, or its end if it never ran)."""
        if state.terminal:
            self._outcomes[job_id] = Seen(state, begun)
            return
        self._alive.add(job_id)
        if begun is not None and state is not JobState.PENDING:
            self._begun[job_id] = begun
        if name:
            self._named.setdefault((member, name), set()).add(job_id)

    def knows(self, job_id: JobId) -> bool:
        return job_id in self._alive or job_id in self._outcomes

    def admit(self, job: JobRequest) -> bool:
        """Judge a job entering the queue: True to queue it; else it waits or is never run."""
        if job.id in self._settled:
            return True
        verdict = self._judge(job)
        if verdict.reason is not None:
            self._wait(job, verdict)
            return False
        self._conclude(job, verdict)
        self._forget_outcomes(job)
        return verdict.ready

    def started(self, job: JobRequest, at: float) -> tuple[list[JobRequest], list[JobId]]:
        """``job`` started at ``at``: the waiting jobs that may be queued now (``after``), and
        the queued jobs that must leave the queue (singletons its start now blocks; the
        caller takes them out, ``evict``)."""
        self._begun[job.id] = at
        self._now = max(self._now, at)
        ready = self._rejudge_all(self._watchers.get(job.id, ()))
        key = (job.member, job.name)
        blocked = []
        for jid in sorted(self._provisional_by.get(key, ())) if job.name else ():
            if jid != job.id and jid not in self._begun:
                blocked.append(jid)
        return ready, blocked

    def evict(self, job: JobRequest) -> bool:
        """A provisional job out of the queue: judged again, True if it must wait now (it
        is in ``waiting``, or among the never satisfiable)."""
        verdict = self._judge(job)
        if verdict.ready:
            self._conclude(job, verdict)
            return False
        self._drop_provisional(job)
        if verdict.reason is not None:
            self._wait(job, verdict)
        else:
            self._never.append((job, verdict.never))
        return True

    def stopped(self, job: JobRequest) -> list[JobRequest]:
        """``job`` stopped running and waits again (preempted, or requeued): the waiting jobs
        it no longer blocks (``singleton``) that may be queued now."""
        self._begun.pop(job.id, None)
        named = self._named.get((job.member, job.name), ()) if job.name else ()
        return self._rejudge_all([j for j in named if j in self.waiting])

    def ended(self, job: JobRequest, state: JobState, at: float) -> list[JobRequest]:
        """``job`` ended for good in ``state`` at ``at``: the waiting jobs that may be queued
        now, in id order. (On every end of every job in both drivers, so the common case, a
        job nobody waits for, costs a few set operations.)"""
        job_id = job.id
        self._alive.discard(job_id)
        self._now = max(self._now, at)
        begun = self._begun.pop(job_id, at)
        if job.dependency is not None:
            self._settled.discard(job_id)
            self._held.pop(job_id, None)
            self._drop_provisional(job)
            self.waiting.pop(job_id, None)
            self._unwatch(job)
        watchers = self._watchers.get(job_id)
        alive = self._named.get((job.member, job.name)) if job.name else None
        if not watchers and alive is None:
            return []
        woken = set(watchers or ())
        if watchers:
            self._outcomes[job_id] = Seen(state, begun)
        if alive is not None:
            alive.discard(job_id)
            woken |= {j for j in alive if j in self.waiting}
            if not alive:
                del self._named[(job.member, job.name)]
        return self._rejudge_all(woken)

    def wake(self, now: float) -> list[JobRequest]:
        """The clock reached ``now``: the waiting jobs whose ``after:ID+MIN`` came due and
        that may be queued now."""
        self._now = max(self._now, now)
        due: list[JobId] = []
        while self._due and self._due[0][0] <= now:
            due.append(heapq.heappop(self._due)[1])
        return self._rejudge_all(due)

    def next_due(self) -> float | None:
        """The first time a waiting job's ``after:ID+MIN`` comes due (None: no such job)."""
        while self._due and self._due[0][1] not in self.waiting:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def withdraw(self, job_id: JobId) -> JobRequest | None:
        """Take a waiting job out (held, or cancelled); None if it was not waiting. It still
        watches the jobs it names until it ends (``ended``), so a held job comes back to
        outcomes that happened meanwhile."""
        return self.waiting.pop(job_id, None)

    def amend(self, old: JobRequest, new: JobRequest, *, held: bool = False) -> list[JobRequest]:
        """A pending job's request changes from ``old`` to ``new`` (it is out of the queue and
        of ``waiting``): where its dependency or name changed, forget what was judged of it,
        so that it is judged afresh when it comes back (``admit``); ``held``: it stays out,
        watching the jobs ``new`` names. The outcomes of the jobs ``old`` named stay until
        ``forget_outcomes``. Returns the waiting jobs that its old name blocked
        (``singleton``) and that may be queued now."""
        if old.dependency == new.dependency and old.name == new.name:
            return []
        jid = old.id
        self._settled.discard(jid)
        self._held.pop(jid, None)
        self.waiting.pop(jid, None)
        if self.provisional.pop(jid, None) is not None:
            same = self._provisional_by.get((old.member, old.name), set())
            same.discard(jid)
            if not same:
                self._provisional_by.pop((old.member, old.name), None)
        for target in self._watched(old):  # (outcomes kept: ``admit`` may need them)
            watchers = self._watchers.get(target)
            if watchers is not None:
                watchers.discard(jid)
                if not watchers:
                    del self._watchers[target]
        if held:
            self._watch(new)
            self.note(new)
        if old.name == new.name or not old.name:
            return []
        alive = self._named.get((old.member, old.name), set())
        alive.discard(jid)
        if not alive:
            self._named.pop((old.member, old.name), None)
        return self._rejudge_all(j for j in alive if j in self.waiting)

    def forget_outcomes(self, old: JobRequest) -> None:
        """Forget the outcomes of the jobs ``old`` (a request changed by ``amend``) named
        that nobody watches any more."""
        self._forget_outcomes(old)

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
        seen = {t: self._seen(t) for t in dep.targets}
        blocker = self._blocker(job) if dep.singleton else None
        held = self._held.get(job.id, frozenset())
        return judge(dep, seen, now=self._now, blocker=blocker, name=job.name, held=held)

    def _wait(self, job: JobRequest, verdict: Verdict) -> None:
        self.waiting[job.id] = job
        if verdict.held:
            self._held[job.id] = verdict.held
        self._watch(job)
        if verdict.until is not None:
            heapq.heappush(self._due, (verdict.until, job.id))

    def _conclude(self, job: JobRequest, verdict: Verdict) -> None:
        """A judged job leaves waiting: satisfied (for good, or provisionally) or never."""
        if verdict.never:
            self._never.append((job, verdict.never))
            self._held.pop(job.id, None)
        elif verdict.settled:
            self._settled.add(job.id)
            self._held.pop(job.id, None)
            self._drop_provisional(job)
        else:
            if verdict.held:
                self._held[job.id] = verdict.held
            if job.id not in self.provisional:
                self.provisional[job.id] = job
                self._provisional_by.setdefault((job.member, job.name), set()).add(job.id)
                self._watch(job)

    def _rejudge_all(self, job_ids: Iterable[JobId]) -> list[JobRequest]:
        """Judge again the waiting jobs among ``job_ids`` (the ready ones, to queue) and the
        provisional ones (another condition may settle them)."""
        ready = []
        for jid in sorted(set(job_ids)):
            waiting = self.waiting.get(jid)
            if waiting is not None and self._rejudge(waiting):
                ready.append(waiting)
            provisional = self.provisional.get(jid)
            if provisional is not None:
                verdict = self._judge(provisional)
                if verdict.ready:
                    self._conclude(provisional, verdict)
        return ready

    def _rejudge(self, job: JobRequest) -> bool:
        verdict = self._judge(job)
        if verdict.reason is not None:
            if verdict.held:
                self._held[job.id] = verdict.held
            if verdict.until is not None:
                heapq.heappush(self._due, (verdict.until, job.id))
            return False
        self.waiting.pop(job.id)
        self._unwatch(job)
        self._conclude(job, verdict)
        return verdict.ready

    def _seen(self, job_id: JobId) -> Seen:
        outcome = self._outcomes.get(job_id)
        if outcome is not None:
            return outcome
        begun = self._begun.get(job_id)
        if begun is not None:
            return Seen(Target.RUNNING, begun)
        return Seen(Target.PENDING) if job_id in self._alive else UNKNOWN

    def _blocker(self, job: JobRequest) -> JobId | None:
        """As Slurm: a job of the same member and name that runs, or came earlier and has not
        started (pending, held or waiting)."""
        for other in sorted(self._named.get((job.member, job.name), ())):
            if other != job.id and (other in self._begun or other < job.id):
                return other
        return None

    def _drop_provisional(self, job: JobRequest) -> None:
        if self.provisional.pop(job.id, None) is not None:
            self._unwatch(job)
            key = (job.member, job.name)
            same = self._provisional_by.get(key)
            if same is not None:
                same.discard(job.id)
                if not same:
                    del self._provisional_by[key]

    @staticmethod
    def _watched(job: JobRequest) -> tuple[JobId, ...]:
        dep = job.dependency
        return dep.targets if dep is not None else ()

    def _watch(self, job: JobRequest) -> None:
        for target in self._watched(job):
            self._watchers.setdefault(target, set()).add(job.id)

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

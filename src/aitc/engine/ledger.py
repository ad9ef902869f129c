"""The usage ledger: decayed GPU-seconds per organisation, project and member, fed by drivers.

Usage decays exponentially with a half-life, as in Slurm's ``PriorityDecayHalfLife``: one
GPU-second used ``h`` seconds ago counts one half. The ledger is pure: drivers call
``job_started`` and ``job_stopped`` with their clock, and ask ``usage(now)``.

Per key the ledger keeps the decayed total at its last update and the GPUs held by running
jobs (``rate``); between events the rate is constant, so the total at any later time has a
closed form and an update touches only the keys of one job.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.errors import SchedulingError

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Usage:
    """Decayed GPU-seconds at one instant."""

    orgs: Mapping[str, float] = field(default_factory=dict)
    projects: Mapping[tuple[str, str], float] = field(default_factory=dict)
    members: Mapping[tuple[str, str, str], float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PastRun:
    """One stretch of GPU use from before the books were built, replayed into the ledger."""

    request: JobRequest
    started: float
    ended: float | None


@dataclass(slots=True)
class _Account:
    total: float = 0.0
    rate: float = 0.0
    at: float = 0.0


class UsageLedger:
    """Decayed usage per (org), (org, project), (org, project, member); attained per job."""

    def __init__(self, half_life_s: float = 7 * 86400.0) -> None:
        if half_life_s <= 0:
            raise SchedulingError(f"half_life_s must be positive, got {half_life_s}")
        self.half_life_s = half_life_s
        self._decay = math.log(2) / half_life_s if math.isfinite(half_life_s) else 0.0
        self._accounts: dict[Key, _Account] = {}
        self._org_accounts: dict[str, _Account] = {}  # the organisations' accounts again
        # (organisation, project, member) -> their three accounts, looked up once
        self._of: dict[tuple[str, str, str], tuple[_Account, ...]] = {}
        self._running: dict[JobId, tuple[JobRequest, float]] = {}
        self._attained: dict[JobId, float] = {}
        self._last_stop: dict[JobId, float] = {}
        self._ran_before = MappingProxyType(self._attained)
        self._preemptible = 0

    def job_started(self, job: JobRequest, now: float) -> None:
        if job.id in self._running:
            raise SchedulingError(f"job {job.id} is already running in the usage ledger")
        self._running[job.id] = (job, now)
        if job.priority is Priority.PREEMPTIBLE:
            self._preemptible += 1
        self._shift(job, now, job.gpu_demand)

    def job_stopped(self, job_id: JobId, now: float) -> None:
        try:
            job, started = self._running.pop(job_id)
        except KeyError:
            raise SchedulingError(f"job {job_id} is not running in the usage ledger") from None
        if job.priority is Priority.PREEMPTIBLE:
            self._preemptible -= 1
        demand = job.gpu_demand
        self._shift(job, now, -demand)
        self._attained[job_id] = self._attained.get(job_id, 0.0) + demand * (now - started)
        self._last_stop[job_id] = now

    def usage(self, now: float) -> Usage:
        orgs: dict[str, float] = {}
        projects: dict[tuple[str, str], float] = {}
        members: dict[tuple[str, str, str], float] = {}
        decay, exp = self._decay, math.exp
        for key, acc in self._accounts.items():
            # the closed form of ``_shift``: this loop runs over every account at each ranking
            dt = now - acc.at
            if decay == 0.0:
                value = acc.total + acc.rate * dt
            else:
                kept = exp(-decay * dt)
                value = acc.total * kept + acc.rate * ((1.0 - kept) / decay)
            if len(key) == 1:
                orgs[key[0]] = value
            elif len(key) == 2:
                projects[key] = value
            else:
                members[key] = value  # type: ignore[index]
        return Usage(orgs, projects, members)

    def replay(self, runs: Iterable[PastRun]) -> None:
        """Feed past and current runs in time order (into a ledger fed nothing else yet)."""
        events: list[tuple[float, int, PastRun]] = []
        for run in runs:
            events.append((run.started, 1, run))
            if run.ended is not None:
                events.append((max(run.ended, run.started), 0, run))
        for at, is_start, run in sorted(events, key=lambda e: (e[0], e[1], e[2].request.id)):
            if is_start:
                self.job_started(run.request, at)
            elif self.is_running(run.request.id):
                self.job_stopped(run.request.id, at)

    def attained(self, job_id: JobId, now: float) -> float:
        """Undecayed GPU-seconds job ``job_id`` received so far, across preemptions."""
        done = self._attained.get(job_id, 0.0)
        if job_id in self._running:
            job, started = self._running[job_id]
            done += job.gpu_demand * max(0.0, now - started)
        return done

    def ran_before(self) -> Mapping[JobId, float]:
        """A live read-only view: GPU-seconds of every job that has run and stopped at least
        once (a cheap membership test for policies that treat fresh jobs alike)."""
        return self._ran_before

    def last_stopped(self, job_id: JobId) -> float | None:
        """When the job last stopped running (preempted), or ``None`` if it never ran."""
        return self._last_stop.get(job_id)

    def forget(self, job_id: JobId) -> None:
        """Drop a finished job's attained service (its usage stays in the decayed totals);
        the books call it when a job ends for good (``Books.ended``), so long replays keep
        memory flat and ``ran_before`` holds only jobs still queued or running."""
        if job_id in self._running:
            raise SchedulingError(f"job {job_id} is still running; stop it before forgetting it")
        self._attained.pop(job_id, None)
        self._last_stop.pop(job_id, None)

    def holding(self) -> dict[str, float]:
        """GPUs each organisation's running jobs hold now (a MIG slice counts its fraction)."""
        return {org: acc.rate for org, acc in self._org_accounts.items() if acc.rate > 1e-9}

    def preemptible_running(self) -> int:
        """How many running jobs are preemptible (lets a pass skip looking for victims)."""
        return self._preemptible

    def is_running(self, job_id: JobId) -> bool:
        return job_id in self._running

    def _shift(self, job: JobRequest, now: float, delta: float) -> None:
        """The GPUs held by the job's organisation, project and member change by ``delta`` at
        ``now`` (events may come late)."""
        who = (job.org, job.project, job.member)
        accounts = self._of.get(who)
        if accounts is None:
            accounts = self._of[who] = tuple(self._account(k, now) for k in _keys(job))
        decay = self._decay
        for acc in accounts:
            dt = now - acc.at
            if dt >= 0.0:  # ``_value`` written out: this runs for every start and stop
                if decay == 0.0:
                    acc.total += acc.rate * dt
                else:
                    kept = math.exp(-decay * dt)
                    acc.total = acc.total * kept + acc.rate * ((1.0 - kept) / decay)
                acc.at = now
            else:  # a late event: add what ``delta`` accrued between ``now`` and the last update
                acc.total += delta * self._accrued(-dt)
            acc.rate += delta

    def _account(self, key: Key, now: float) -> _Account:
        acc = self._accounts.get(key)
        if acc is None:
            acc = self._accounts[key] = _Account(at=now)
            if len(key) == 1:
                self._org_accounts[key[0]] = acc
        return acc

    def _accrued(self, dt: float) -> float:
        """Decayed GPU-seconds one GPU held for the last ``dt`` seconds counts now."""
        if self._decay == 0.0:
            return dt
        return (1.0 - math.exp(-self._decay * dt)) / self._decay


def _keys(job: JobRequest) -> tuple[Key, ...]:
    return ((job.org,), (job.org, job.project), (job.org, job.project, job.member))

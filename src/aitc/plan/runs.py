"""One run of a sweep, in a worker process: a workload, one configuration and size, one policy.

The workload is either one seed of the lab's generated jobs or the recorded history. The
generated jobs are drawn once per seed from the lab *as written* (its own cluster sets the load
of organisations without a workload), so every size and configuration sees the same jobs; only
the course seats take the configuration's MIG layout and the runtimes its GPU's speed
(``aitc.plan.configs``). The recorded history is handed to each worker once
(``install_history``, the pool's initializer), never with every task.

The worker hands back a ``RunRecord``: a few numpy columns per job, enough for every target
figure, so that thousands of jobs cross the process boundary in one small pickle.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from aitc.domain.cluster import Cluster
from aitc.domain.lab import Lab
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.engine.reservations import ReservationBook
from aitc.errors import ConfigError
from aitc.plan.configs import Config, cluster_gpu, design_of, laid_out, speed, translate
from aitc.plan.history import History
from aitc.plan.lab import load_lab
from aitc.plan.replay import EVERY_POLICY, trace
from aitc.twin.columns import standard_time_limits
from aitc.twin.generator import DAY, SEAT, LabSource, generate
from aitc.twin.load import settings
from aitc.twin.locality import LocalityModel
from aitc.twin.runner import simulate
from aitc.twin.trace import JobSource, ListSource, TraceJob, Wrapping

HISTORY = -1  # the seed of a run of the recorded history

_history: History | None = None


@dataclass(frozen=True)
class RunTask:
    """What one worker needs (picklable): where the lab is, the configuration, size, policy
    and workload (a seed of the generator, or ``HISTORY``)."""

    lab: Path
    config: Config
    nodes: int
    policy: str
    seed: int
    days: float


@dataclass(frozen=True)
class RunRecord:
    """What one run produced, per job and in total.

    ``wait`` is ``inf`` for a job that never started (rejected on this size, or unfinished);
    ``seat`` marks course seats; ``utilisation`` is GPU time held over GPU time offered while
    jobs arrive (the first ``window_s`` seconds: the generated days, or the recorded span);
    ``gpu_hours`` per organisation over the whole run.
    """

    task: RunTask
    tenants: tuple[str, ...]
    tenant: np.ndarray
    submit: np.ndarray
    start: np.ndarray
    end: np.ndarray
    wait: np.ndarray
    gpus: np.ndarray
    seat: np.ndarray
    utilisation: float
    gpu_hours: dict[str, float]
    window_s: float
    wall_s: float


def install_history(history: History | None) -> None:
    """Make ``history`` the workload of ``HISTORY`` runs in this process."""
    global _history
    _history = history
    _history_source.cache_clear()


def run(task: RunTask) -> RunRecord:
    """Simulate ``task`` and reduce the result to a ``RunRecord``."""
    began = time.perf_counter()
    lab = _lab(task.lab)
    cluster = _cluster(task.config.ra, task.nodes)
    params, config = settings(dict(lab.policy.params))
    if task.policy != lab.policy.name:  # the lab's parameters are for its own policy
        params = {k: v for k, v in params.items() if k in EVERY_POLICY}
    source: JobSource
    unplaced: tuple[Reservation, ...] = ()
    if task.seed == HISTORY:
        source, window = _history_source(task.lab, task.config)
        # recorded runtimes already are what the jobs ran where they were placed
        config = replace(config, locality=LocalityModel(0.0, 0.0))
    else:
        generated = _workload(task.lab, task.config, task.seed, task.days)
        source, unplaced = without_unplaceable(generated, cluster)
        window = task.days * DAY
    result = simulate(cluster, source, task.policy, params=params, config=config)
    jobs = result.jobs
    lost = _lost_seats(unplaced)
    tenant_names = np.concatenate([jobs["tenant"].astype(str).to_numpy(), lost["tenant"]])
    tenants, codes = np.unique(tenant_names, return_inverse=True)
    wait = jobs["wait"].to_numpy(dtype=np.float64, na_value=np.nan)
    time_, busy, _ = result.timeline

    def column(name: str, dtype: Any) -> np.ndarray:
        return np.concatenate([jobs[name].to_numpy(dtype=dtype, na_value=np.nan), lost[name]])

    return RunRecord(
        task=task,
        tenants=tuple(str(t) for t in tenants),
        tenant=codes.astype(np.int32),
        submit=column("submit", np.float64),
        start=column("start", np.float64),
        end=column("end", np.float64),
        wait=np.concatenate([np.where(np.isnan(wait), np.inf, wait), lost["wait"]]),
        gpus=np.concatenate([jobs["gpus"].to_numpy(dtype=np.int64), lost["gpus"]]),
        seat=np.concatenate(
            [jobs["member"].astype(str).str.contains(SEAT, regex=False).to_numpy(), lost["seat"]]
        ),
        utilisation=window_utilisation(time_, busy, cluster.total_gpus, window),
        gpu_hours={t: float(v["gpu_hours"]) for t, v in result.summary["per_tenant"].items()},
        window_s=window,
        wall_s=time.perf_counter() - began,
    )


def without_unplaceable(
    source: LabSource, cluster: Cluster
) -> tuple[JobSource, tuple[Reservation, ...]]:
    """``source`` without the course sessions whose seats ``cluster`` cannot hold beside the
    sessions before them (the engine's own placement rule), nor their seats' jobs; and those
    sessions. On a cluster too small for a session, each of its seats is a seat that never
    started, rather than a run that fails."""
    kept: list[Reservation] = []
    unplaced: list[Reservation] = []
    for r in sorted(source.held, key=lambda r: (r.start, r.id)):
        try:
            ReservationBook().fences(cluster, [*kept, r], r.start - 1.0)
            kept.append(r)
        except ConfigError:
            unplaced.append(r)
    if not unplaced:
        return source, ()
    gone = tuple(f"{r.id}{SEAT}" for r in unplaced)
    return WithoutSessions(source, tuple(kept), gone), tuple(unplaced)


@dataclass(frozen=True)
class WithoutSessions(Wrapping):
    """A generated workload less the sessions that could not be reserved and their seats."""

    trace: LabSource
    held: tuple[Reservation, ...]
    gone: tuple[str, ...]  # member name prefixes of the seats left out

    def organisations(self) -> Sequence[Organisation]:
        return self.trace.organisations()

    def reservations(self) -> Sequence[Reservation]:
        return self.held

    def jobs(self) -> Iterator[TraceJob]:
        return (j for j in self.trace.jobs() if not j.request.member.startswith(self.gone))


def _lost_seats(unplaced: tuple[Reservation, ...]) -> dict[str, np.ndarray]:
    """One row per seat of each session that could not be reserved: it never started."""
    seats = [(r, r.gpus or r.mig_seats) for r in unplaced]
    n = sum(k for _, k in seats)
    return {
        "tenant": np.array([r.org for r, k in seats for _ in range(k)], dtype=str),
        "submit": np.array([r.start for r, k in seats for _ in range(k)], dtype=np.float64),
        "start": np.full(n, np.nan),
        "end": np.full(n, np.nan),
        "wait": np.full(n, np.inf),
        "gpus": np.array([0 if r.mig_profile else 1 for r, k in seats for _ in range(k)], int),
        "seat": np.ones(n, dtype=bool),
    }


def window_utilisation(time_: np.ndarray, busy: np.ndarray, gpus: int, window: float) -> float:
    """GPU-seconds busy in [0, window) over ``gpus`` x ``window`` (busy is a step function
    that takes ``busy[i]`` from ``time_[i]`` on)."""
    if gpus <= 0 or window <= 0 or time_.size == 0:
        return 0.0
    edges = np.clip(np.append(time_, window), 0.0, window)
    held = float((busy * np.diff(edges)).sum())
    return held / (gpus * window)


@lru_cache(maxsize=4)
def _lab(path: Path) -> Lab:
    return load_lab(path)


@lru_cache(maxsize=16)
def _cluster(ra: str, nodes: int) -> Cluster:
    return design_of(ra, nodes).cluster


@lru_cache(maxsize=16)
def _workload(path: Path, config: Config, seed: int, days: float) -> LabSource:
    """One seed of the lab's jobs, seats in ``config``'s layout, runtimes at its GPU's speed."""
    lab = _lab(path)
    source = generate(laid_out(lab, config), days=days, seed=seed)
    factor = speed(cluster_gpu(lab.cluster), config.gpu)
    if factor == 1.0:
        return source
    cols = source.columns
    seat = np.array([SEAT in m for m in cols.members], dtype=bool)[cols.member]
    runtime = np.where(seat, cols.runtime, np.maximum(np.round(cols.runtime / factor), 1.0))
    limit = np.where(seat, cols.time_limit, standard_time_limits(runtime))
    return replace(source, columns=replace(cols, runtime=runtime, time_limit=limit))


@lru_cache(maxsize=2)
def _history_source(path: Path, config: Config) -> tuple[ListSource, float]:
    """The recorded jobs for ``config`` (and the seconds from the first submission to the end
    of the history): runtimes at its GPU's speed, MIG profiles in its generation, any GPU
    model (the cluster has one); organisations that lab.yaml does not name are left out."""
    if _history is None:
        raise RuntimeError("no recorded history was installed in this process")
    lab, history = _lab(path), _history
    source = history_trace(history, lab)
    recorded = cluster_gpu(history.cluster) if history.cluster else cluster_gpu(lab.cluster)
    target, factor = config.gpu, speed(recorded, config.gpu)
    items = tuple(
        TraceJob(
            replace(j.request, mig=translate(j.request.mig, recorded, target), gpu_model=None),
            max(j.runtime / factor, 1.0),
        )
        for j in source.items
    )
    t0 = history.jobs[0].submit if history.jobs else history.since
    return replace(source, items=items), max(history.until - t0, 1.0)


def history_trace(history: History, lab: Lab) -> ListSource:
    """The recorded jobs of the lab's organisations as a trace, with the lab's organisations."""
    known = {o.id for o in lab.organisations}
    source = trace(history)
    kept = tuple(j for j in source.items if j.request.org in known)
    return ListSource(kept, orgs=lab.organisations, name="recorded history")

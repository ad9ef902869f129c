"""One run of a sweep, in a worker process: a lab's workload, one size, one policy, one seed.

The workload is drawn once per seed from the lab *as written* (its own cluster sets the load
of organisations without a workload), so every size sees the same jobs. The worker hands back
a ``RunRecord``: a few numpy columns per job, enough for every target figure, so that
thousands of jobs cross the process boundary in one small pickle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from aitc.arch.builder import build
from aitc.arch.labfile import load_lab
from aitc.domain.cluster import Cluster
from aitc.domain.lab import Lab
from aitc.twin.generator import DAY, LabSource, generate
from aitc.twin.load import settings
from aitc.twin.runner import simulate

# Lab policy parameters that hold for every policy simulated, not only the lab's own (as
# ``aitc sim --lab`` applies them).
EVERY_POLICY = ("preempt_overhead_s", "placement")
SEAT = "-seat"  # the generator names a course seat's member RESERVATION-seatK


@dataclass(frozen=True)
class RunTask:
    """What one worker needs (picklable): where the lab is, the size, policy and seed."""

    lab: Path
    ra: str
    nodes: int
    policy: str
    seed: int
    days: float


@dataclass(frozen=True)
class RunRecord:
    """What one run produced, per job and in total.

    ``wait`` is ``inf`` for a job that never started (rejected on this size, or unfinished);
    ``seat`` marks course seats; ``utilisation`` is GPU time held over GPU time offered while
    jobs arrive (the first ``days``); ``gpu_hours`` per organisation over the whole run.
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
    wall_s: float


def run(task: RunTask) -> RunRecord:
    """Simulate ``task`` and reduce the result to a ``RunRecord``."""
    began = time.perf_counter()
    lab = _lab(task.lab)
    cluster = _cluster(task.ra, task.nodes)
    source = _workload(task.lab, task.seed, task.days)
    params, config = settings(dict(lab.policy.params))
    if task.policy != lab.policy.name:  # the lab's parameters are for its own policy
        params = {k: v for k, v in params.items() if k in EVERY_POLICY}
    result = simulate(cluster, source, task.policy, params=params, config=config)
    jobs = result.jobs
    tenant_names = jobs["tenant"].astype(str).to_numpy()
    tenants, codes = np.unique(tenant_names, return_inverse=True)
    wait = jobs["wait"].to_numpy(dtype=np.float64, na_value=np.nan)
    time_, busy, _ = result.timeline
    return RunRecord(
        task=task,
        tenants=tuple(str(t) for t in tenants),
        tenant=codes.astype(np.int32),
        submit=jobs["submit"].to_numpy(dtype=np.float64),
        start=jobs["start"].to_numpy(dtype=np.float64, na_value=np.nan),
        end=jobs["end"].to_numpy(dtype=np.float64, na_value=np.nan),
        wait=np.where(np.isnan(wait), np.inf, wait),
        gpus=jobs["gpus"].to_numpy(dtype=np.int64),
        seat=jobs["member"].astype(str).str.contains(SEAT, regex=False).to_numpy(),
        utilisation=window_utilisation(time_, busy, cluster.total_gpus, task.days * DAY),
        gpu_hours={t: float(v["gpu_hours"]) for t, v in result.summary["per_tenant"].items()},
        wall_s=time.perf_counter() - began,
    )


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
    return build(ra, nodes=nodes).cluster


@lru_cache(maxsize=16)
def _workload(path: Path, seed: int, days: float) -> LabSource:
    return generate(_lab(path), days=days, seed=seed)

"""What-if replay: the recorded jobs again in the twin, under the live policy and another.

The recorded jobs keep their submit times, requests and runtimes (what they really ran, so
the twin adds no locality slowdown of its own). The replay under the live policy on the
recorded nodes is a fidelity check, measured as Brown et al. (2022) measure queue
predictions: the median and 90th percentile of |twin start - recorded start| and the share of
jobs within 1 and 10 minutes, over the jobs that started in both. The replay under the other
policy (optionally on another cluster) is the what-if; the two are compared per organisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from aitc.domain.cluster import Cluster
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.domain.org import Organisation
from aitc.plan.history import History, RecordedJob
from aitc.twin.load import settings
from aitc.twin.locality import LocalityModel
from aitc.twin.runner import simulate
from aitc.twin.trace import ListSource, TraceJob

# Lab policy parameters that hold for every policy simulated, not only the lab's own (as
# ``aitc sim --lab`` applies them); the others are for the lab's own policy only.
EVERY_POLICY = ("preempt_overhead_s", "placement")


@dataclass(frozen=True)
class Fidelity:
    """How far the twin's starts are from the recorded ones (seconds; shares 0-1)."""

    jobs: int
    median_abs_error_s: float | None
    p90_abs_error_s: float | None
    within_1_min: float | None
    within_10_min: float | None
    same_start_order: bool


@dataclass(frozen=True)
class Replay:
    live_policy: str
    policy: str
    live: pd.DataFrame  # twin jobs under the live policy, times as recorded (epoch seconds)
    whatif: pd.DataFrame  # twin jobs under ``policy``
    recorded: pd.DataFrame  # job_id, tenant, submit, start as recorded
    fidelity: Fidelity
    per_org: list[dict[str, Any]]
    live_nodes: int
    whatif_nodes: int


def trace(history: History) -> ListSource:
    """The recorded jobs as a twin trace, times relative to the first submission."""
    t0 = history.jobs[0].submit if history.jobs else 0.0
    items = tuple(TraceJob(_request(j, t0), j.runtime) for j in history.jobs)
    return ListSource(items, orgs=history.organisations, name="recorded history")


def _request(j: RecordedJob, t0: float) -> JobRequest:
    return JobRequest(
        id=JobId(j.id),
        org=j.org,
        project=j.project,
        member=j.member,
        gpus=j.gpus,
        submit=j.submit - t0,
        nodes=j.nodes,
        mig=j.mig,
        gpu_model=j.gpu_model,
        time_limit=j.time_limit,
        priority=Priority(j.priority),
    )


def replay(
    history: History,
    *,
    policy: str,
    live_policy: str,
    cluster: Cluster,
    whatif_cluster: Cluster | None = None,
    params: Mapping[str, Any] | None = None,
    organisations: Sequence[Organisation] | None = None,
) -> Replay:
    """Replay ``history`` under ``live_policy`` on ``cluster`` and under ``policy`` on
    ``whatif_cluster`` (default: the same); ``params`` are the live policy's parameters."""
    source = trace(history)
    if organisations:
        source = replace(source, orgs=tuple(organisations))
    t0 = history.jobs[0].submit if history.jobs else 0.0
    live = run(source, cluster, live_policy, live_policy, params, t0)
    whatif = run(source, whatif_cluster or cluster, policy, live_policy, params, t0)
    recorded = pd.DataFrame(
        {
            "job_id": [j.id for j in history.jobs],
            "tenant": [j.org for j in history.jobs],
            "submit": [j.submit for j in history.jobs],
            "start": [np.nan if j.start is None else j.start for j in history.jobs],
        }
    )
    return Replay(
        live_policy,
        policy,
        live,
        whatif,
        recorded,
        fidelity(recorded, live),
        compare(recorded, live, whatif),
        len(cluster),
        len(whatif_cluster or cluster),
    )


def run(
    source: ListSource,
    cluster: Cluster,
    policy: str,
    live_policy: str,
    params: Mapping[str, Any] | None,
    t0: float,
) -> pd.DataFrame:
    """``source`` in the twin under ``policy`` (the live policy's ``params`` when it is the
    live one), without locality slowdown, times back on the recorded clock (``t0``)."""
    engine, config = settings(dict(params or {}))
    if policy != live_policy:
        engine = {k: v for k, v in engine.items() if k in EVERY_POLICY}
    # recorded runtimes already are what the jobs ran where they were placed
    config = replace(config, locality=LocalityModel(0.0, 0.0))
    jobs = simulate(cluster, source, policy, params=engine, config=config).jobs.copy()
    for column in ("submit", "start", "end"):
        jobs[column] = jobs[column] + t0
    return jobs


def fidelity(recorded: pd.DataFrame, live: pd.DataFrame) -> Fidelity:
    both = recorded.merge(live[["job_id", "start"]], on="job_id", suffixes=("_rec", "_twin"))
    both = both[both["start_rec"].notna() & both["start_twin"].notna()]
    err = (both["start_twin"] - both["start_rec"]).abs().to_numpy()
    order_rec = both.sort_values(["start_rec", "job_id"])["job_id"].tolist()
    order_twin = both.sort_values(["start_twin", "job_id"])["job_id"].tolist()
    if not err.size:
        return Fidelity(0, None, None, None, None, True)
    return Fidelity(
        jobs=int(err.size),
        median_abs_error_s=float(np.median(err)),
        p90_abs_error_s=float(np.percentile(err, 90)),
        within_1_min=float((err <= 60.0).mean()),
        within_10_min=float((err <= 600.0).mean()),
        same_start_order=order_rec == order_twin,
    )


def compare(
    recorded: pd.DataFrame, live: pd.DataFrame, whatif: pd.DataFrame
) -> list[dict[str, Any]]:
    """Per organisation: jobs, mean and p90 wait (recorded, twin live, twin what-if), and
    GPU-hours in each twin run."""
    out = []
    for org in sorted(set(recorded["tenant"])):
        rec = recorded[recorded["tenant"] == org]
        a, b = live[live["tenant"] == org], whatif[whatif["tenant"] == org]
        row: dict[str, Any] = {"organisation": org, "jobs": len(rec)}
        for name, waits in (
            ("recorded", (rec["start"] - rec["submit"]).to_numpy()),
            ("live", a["wait"].to_numpy(dtype=float, na_value=np.nan)),
            ("whatif", b["wait"].to_numpy(dtype=float, na_value=np.nan)),
        ):
            row[f"{name}_mean_wait_s"] = stat(waits, np.mean)
            row[f"{name}_p90_wait_s"] = stat(waits, lambda w: np.percentile(w, 90))
        row["live_gpu_hours"] = _gpu_hours(a)
        row["whatif_gpu_hours"] = _gpu_hours(b)
        row["mean_wait_change_s"] = (
            None
            if row["whatif_mean_wait_s"] is None or row["live_mean_wait_s"] is None
            else row["whatif_mean_wait_s"] - row["live_mean_wait_s"]
        )
        out.append(row)
    return out


def stat(values: np.ndarray, fn: Any) -> float | None:
    """``fn`` of the finite ``values`` (None when there are none)."""
    values = values[np.isfinite(values)]
    return float(fn(values)) if values.size else None


def _gpu_hours(jobs: pd.DataFrame) -> float:
    ran = jobs[jobs["start"].notna()]
    return float(((ran["end"] - ran["start"]) * ran["gpus"]).sum() / 3600.0)

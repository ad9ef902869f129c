"""The summary of one run: JCT and waiting percentiles, utilisation, fairness, shares.

Definitions (docs/twin.md repeats them):

- JCT (job completion time) = end - submit, over jobs that ran to their end (completed or
  killed at their time limit); wait = first start - submit, over jobs that started.
- makespan = last end - first submission; utilisation = GPU-seconds held / (GPUs x makespan).
- reservations: the jobs their organisation submitted inside a window, how many of those
  started on arrival, and their average wait;
- research: the wait of every job but the course seats (the generator's learner jobs), the
  figure a course programme costs the lab's research (``aitc sim --courses compare``);
- per tenant: ``share`` of all GPU-seconds held, ``entitlement`` = its weight over the weights
  of tenants that submitted jobs; Jain's index over share / entitlement of those tenants
  (1 = every tenant got exactly its entitlement's proportion).

Floats are rounded (seconds to 3 decimals, fractions to 6) so that equal runs write equal bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.twin.generator import SEAT
from aitc.twin.outcomes import STATES, JobOutcomes


def summarise(
    jobs: JobOutcomes,
    *,
    policy: str,
    total_gpus: int,
    busy_gpu_seconds: float,
    tenant_gpu_seconds: Mapping[str, float],
    organisations: tuple[Organisation, ...],
    events: int,
    passes: int,
    reservations: Sequence[Reservation] = (),
) -> dict[str, Any]:
    """All figures of ``summary.json`` except ``wall_s`` (the caller measures that)."""
    state = jobs["state"]
    count = np.bincount(state, minlength=len(STATES))
    ran = state <= STATES.index("timeout")  # completed or killed at its time limit
    started = ~np.isnan(jobs["start"])
    makespan = float(jobs["end"][ran].max() - jobs["submit"].min()) if ran.any() else 0.0
    out: dict[str, Any] = {
        "policy": policy,
        "jobs_total": len(jobs),
        "jobs_completed": int(count[STATES.index("completed")]),
        "jobs_timed_out": int(count[STATES.index("timeout")]),
        "rejected_jobs": int(count[STATES.index("rejected")]),
        "unfinished_jobs": int(count[STATES.index("unfinished")]),
        "preemptions": int(jobs["preemptions"].sum()),
        "makespan_s": makespan,
        "utilization": busy_gpu_seconds / (total_gpus * makespan) if makespan > 0 else 0.0,
        "events": events,
        "engine_passes": passes,
        "gpus": total_gpus,
        "multi_leaf_jobs": int((jobs["leaves"][started] > 1).sum()),
        "multi_su_jobs": int((jobs["sus"][started] > 1).sum()),
    }
    out |= _stats("jct", jobs["jct"][ran])
    out |= _stats("wait", jobs["wait"][started])
    out |= _tenants(jobs, tenant_gpu_seconds, organisations)
    out["reservations"] = _reservations(jobs, reservations)
    out["research"] = _research(jobs, started)
    return out


def _research(jobs: JobOutcomes, started: np.ndarray) -> dict[str, Any]:
    """Waits of the jobs that started, course seats left out."""
    seat_member = np.array([SEAT in m for m in jobs.names["member"]], dtype=bool)
    seat = seat_member[jobs["member"][started]]
    waits = jobs["wait"][started][~seat]
    if not waits.size:
        return {"jobs": 0, "avg_wait_s": None, "median_wait_s": None, "p90_wait_s": None}
    p50, p90 = np.percentile(waits, [50, 90])
    return {
        "jobs": int(waits.size),
        "avg_wait_s": float(waits.mean()),
        "median_wait_s": float(p50),
        "p90_wait_s": float(p90),
    }


def _reservations(jobs: JobOutcomes, held: Sequence[Reservation]) -> dict[str, Any]:
    """How well reservations served their organisation: its jobs submitted inside a window,
    how many of them started on arrival, and their average wait."""
    inside = np.zeros(len(jobs), dtype=bool)
    submit, tenant = jobs["submit"], jobs["tenant"]
    for r in held:
        code = jobs.code_of("tenant", r.org)
        inside |= (tenant == code) & (submit >= r.start) & (submit < r.end)
    waits = jobs["wait"][inside]
    return {
        "count": len(held),
        "jobs": int(inside.sum()),
        "started_on_arrival": int((waits == 0).sum()),
        "avg_wait_s": float(np.nanmean(waits)) if np.isfinite(waits).any() else None,
    }


def _stats(name: str, values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {
            f"avg_{name}_s": None,
            f"median_{name}_s": None,
            f"p95_{name}_s": None,
            f"p99_{name}_s": None,
        }
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        f"avg_{name}_s": float(values.mean()),
        f"median_{name}_s": float(p50),
        f"p95_{name}_s": float(p95),
        f"p99_{name}_s": float(p99),
    }


def _tenants(
    jobs: JobOutcomes, held: Mapping[str, float], organisations: tuple[Organisation, ...]
) -> dict[str, Any]:
    weights = {o.id: o.share for o in organisations}
    present = jobs.present("tenant")
    weight_sum = sum(weights.get(t, 1.0) for t in present) or 1.0
    total = sum(held.values()) or 1.0
    per: dict[str, dict[str, float]] = {}
    for t in present:
        per[t] = {
            "gpu_hours": held.get(t, 0.0) / 3600.0,
            "share": held.get(t, 0.0) / total,
            "entitlement": weights.get(t, 1.0) / weight_sum,
        }
    ratios = np.array([p["share"] / p["entitlement"] for p in per.values() if p["entitlement"]])
    jain = float(ratios.sum() ** 2 / (ratios.size * (ratios**2).sum())) if ratios.any() else 0.0
    return {"per_tenant": per, "jain_fairness": jain}


def canonical(summary: Mapping[str, Any]) -> str:
    """The summary as JSON text: sorted keys, rounded floats, NaN as null."""
    return json.dumps(_round(summary), sort_keys=True, indent=2) + "\n"


def _round(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {str(k): _round(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v, key) for v in value]
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            return None
        return round(f, 3 if key.endswith("_s") or key == "gpu_hours" else 6)
    if isinstance(value, np.integer):
        return int(value)
    return value

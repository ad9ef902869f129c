"""Run the twin for one policy and write its results; compare several policies.

``simulate`` builds the scheduler by name, runs the loop and summarises; ``write_run`` writes
``jobs.parquet``, ``summary.json`` and the plots into a folder; ``write_comparison`` writes the
combined ``comparison.json`` and JCT CDF of several runs. Nothing here reads the wall clock:
callers measure ``wall_s`` and pass it in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aitc.domain.cluster import Cluster
from aitc.domain.job import JobRequest
from aitc.domain.org import Organisation
from aitc.engine.registry import make_scheduler
from aitc.twin import plots
from aitc.twin.admission import Admission
from aitc.twin.loop import Progress, Twin, TwinConfig
from aitc.twin.outcomes import JobOutcomes
from aitc.twin.summary import canonical, summarise
from aitc.twin.trace import JobSource

if TYPE_CHECKING:
    import pandas as pd

    from aitc.twin.painter import Painter

# Policies whose decisions change while nothing arrives or ends (attained service grows).
TICK_S: Mapping[str, float] = {"tiresias": 300.0}


@dataclass
class SimResult:
    """What one run produced: the summary (without ``wall_s``), the job table, the timeline."""

    summary: dict[str, Any]
    outcomes: JobOutcomes
    timeline: tuple[np.ndarray, np.ndarray, np.ndarray]
    total_gpus: int
    events: list[tuple[float, str, int | str]] | None = field(default=None)

    @cached_property
    def jobs(self) -> pd.DataFrame:
        """The job table as a DataFrame (built, and pandas imported, on first use)."""
        return self.outcomes.to_pandas()


def simulate(
    cluster: Cluster,
    source: JobSource,
    policy: str,
    *,
    params: Mapping[str, Any] | None = None,
    config: TwinConfig | None = None,
    record: bool = False,
    progress: Progress | None = None,
) -> SimResult:
    """Replay ``source`` on ``cluster`` under the policy called ``policy``."""
    cfg = config or TwinConfig()
    if cfg.tick_s is None and policy in TICK_S:
        cfg = replace(cfg, tick_s=TICK_S[policy])
    orgs = organisations_for(policy, source.organisations(), cluster.total_gpus)
    scheduler = make_scheduler(policy, organisations=orgs, **dict(params or {}))
    admission = Admission(cluster, getattr(source, "how_of", None))
    twin = Twin(
        cluster,
        scheduler,
        source.jobs(),
        organisations=orgs,
        reservations=source.reservations(),
        config=cfg,
        can_ever_run=admission,
        record=record,
        progress=progress,
    )
    twin.run()
    jobs = twin.table.outcomes()
    summary = summarise(
        jobs,
        policy=policy,
        total_gpus=cluster.total_gpus,
        busy_gpu_seconds=twin.timeline.busy_gpu_seconds,
        tenant_gpu_seconds=twin.tenant_gpu_seconds,
        organisations=orgs,
        events=twin.handled,
        passes=twin.passes,
        reservations=twin.reservations,
    )
    summary["skipped_rows"] = int(getattr(source, "skipped", 0))
    summary["mapping"] = admission.summary()
    summary["trace"] = source.name
    summary["cluster"] = {"name": cluster.name, "nodes": len(cluster), "gpus": cluster.total_gpus}
    return SimResult(summary, jobs, twin.timeline.arrays(), cluster.total_gpus, twin.events)


def _possible_on(cluster: Cluster) -> Callable[[JobRequest], bool]:
    """Whether a job could ever run on ``cluster``, cached per job shape."""
    return Admission(cluster)


def organisations_for(
    policy: str, orgs: Sequence[Organisation], total_gpus: int
) -> tuple[Organisation, ...]:
    """For ``quota`` without any quota given: each organisation is guaranteed its weighted
    part of the cluster (rounded down), so the policy has something to enforce."""
    if policy != "quota" or any(o.quota is not None for o in orgs):
        return tuple(orgs)
    weight = sum(o.share for o in orgs) or 1.0
    return tuple(replace(o, quota=math.floor(total_gpus * o.share / weight)) for o in orgs)


def write_run(
    result: SimResult, out: Path, *, wall_s: float, painter: Painter | None = None
) -> dict[str, Any]:
    """Write jobs.parquet, summary.json and the plots of one run into ``out`` (the plots by
    ``painter`` while the tables are written, if one is given)."""
    out.mkdir(parents=True, exist_ok=True)
    summary = dict(result.summary, wall_s=wall_s)
    policy = summary["policy"]
    time, busy, queue = result.timeline
    figures = [
        plots.timeline(
            out / "timeline.png",
            time,
            busy,
            queue,
            total_gpus=result.total_gpus,
            title=f"{summary['trace']} under {policy}",
        ),
        plots.jct_cdf(
            out / "jct_cdf.png", {policy: result.outcomes["jct"]}, title=f"JCT under {policy}"
        ),
        plots.shares(
            out / "shares.png", summary["per_tenant"], title=f"share vs entitlement under {policy}"
        ),
    ]
    if painter is not None:
        painter.paint(figures)
    result.outcomes.write_parquet(out / "jobs.parquet")
    (out / "summary.json").write_text(canonical(summary))
    if painter is not None:
        painter.wait()
    else:
        for figure in figures:
            plots.draw(figure)
    return summary


COMPARED = (
    "jobs_completed",
    "avg_jct_s",
    "median_jct_s",
    "p95_jct_s",
    "p99_jct_s",
    "avg_wait_s",
    "p99_wait_s",
    "makespan_s",
    "utilization",
    "jain_fairness",
    "preemptions",
    "rejected_jobs",
    "events",
    "wall_s",
)


def write_comparison(summaries: Sequence[Mapping[str, Any]], out: Path) -> dict[str, Any]:
    """comparison.json (each policy's figures, and avg JCT relative to the first policy)
    and jct_cdf.png with one line per policy, read back from each policy's jobs.parquet."""
    base = summaries[0].get("avg_jct_s") or 0.0
    table = {s["policy"]: {k: s.get(k) for k in COMPARED} for s in summaries}
    for s in summaries:
        avg = s.get("avg_jct_s")
        table[s["policy"]]["avg_jct_vs_first"] = avg / base if avg and base else None
    doc = {"baseline": summaries[0]["policy"], "policies": table}
    (out / "comparison.json").write_text(canonical(doc))
    import pyarrow.parquet as pq

    from aitc.twin.arrowcols import to_numpy

    jcts = {
        s["policy"]: to_numpy(
            pq.read_table(out / s["policy"] / "jobs.parquet", columns=["jct"])["jct"], np.float64
        )
        for s in summaries
    }
    plots.draw(plots.jct_cdf(out / "jct_cdf.png", jcts, title="JCT per policy"))
    return doc

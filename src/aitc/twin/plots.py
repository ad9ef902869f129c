"""PNG plots of a run (matplotlib, Agg backend): timeline, JCT CDF, share vs entitlement."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

POINTS = 2000


def timeline(
    path: Path,
    time: np.ndarray,
    busy: np.ndarray,
    queue: np.ndarray,
    *,
    total_gpus: int,
    title: str,
) -> None:
    """Queue length and GPU utilisation over simulated days (step values, resampled)."""
    if time.size == 0:
        time, busy, queue = np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int64)
    grid = np.linspace(time[0], time[-1], POINTS)
    idx = np.clip(np.searchsorted(time, grid, side="right") - 1, 0, time.size - 1)
    days = grid / 86400.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.plot(days, 100.0 * busy[idx] / max(total_gpus, 1), color="tab:green", lw=0.8)
    top.set_ylabel("GPUs busy (%)")
    top.set_ylim(0, 105)
    bottom.plot(days, queue[idx], color="tab:red", lw=0.8)
    bottom.set_ylabel("jobs waiting")
    bottom.set_xlabel("simulated time (days)")
    fig.suptitle(title)
    _save(fig, path)


def jct_cdf(path: Path, jcts: Mapping[str, np.ndarray], *, title: str) -> None:
    """Cumulative distribution of job completion time, one line per policy (log scale)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, values in jcts.items():
        v = np.sort(values[np.isfinite(values)])
        if v.size:
            ax.plot(np.maximum(v, 1.0) / 3600.0, np.arange(1, v.size + 1) / v.size, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours, log scale)")
    ax.set_ylabel("fraction of jobs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(title)
    _save(fig, path)


def shares(path: Path, per_tenant: Mapping[str, Mapping[str, Any]], *, title: str) -> None:
    """Share of GPU time each organisation received beside its entitlement."""
    names = sorted(per_tenant)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.5))
    got = [100 * per_tenant[n]["share"] for n in names]
    owed = [100 * per_tenant[n]["entitlement"] for n in names]
    ax.bar(x - 0.2, got, 0.4, label="share received")
    ax.bar(x + 0.2, owed, 0.4, label="entitlement")
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("% of GPU time")
    ax.legend()
    ax.set_title(title)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    # a fixed date in the metadata keeps the files identical between equal runs
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)

"""PNG plots of a sweep, returned as bytes for the self-contained report.

Drawn with matplotlib's object API on the Agg canvas (no pyplot), imported when the first
plot is drawn. Each figure is made at the resolution it is saved at, so the layout pass
(``tight_layout``: these panels' titles and legends vary) measures its text once for both.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from aitc.domain.lab import Lab
from aitc.plan.search import Point, SweepResult
from aitc.twin.plots import quantile_ranks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110


def _subplots(*grid: int, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """A figure on its own Agg canvas and its axes (as ``pyplot.subplots`` returns them)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(*grid, **kwargs)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def series(result: SweepResult) -> list[tuple[str, list[Point]]]:
    """One line per search, smallest size first: named by its policy, and by its GPU and seat
    layout too when the sweep compared configurations."""
    out = []
    many = len(result.configs) > 1
    for config in result.configs:
        for policy in result.policies:
            pts = [p for p in result.points if p.config == config and p.policy == policy]
            if pts:
                name = f"{config.gpu.name} {config.mig} {policy}" if many else policy
                out.append((name, pts))
    return out


def targets_vs_size(result: SweepResult) -> bytes:
    """One panel per target: the figure (with its 95 % interval) per search against nodes,
    and the limit as a dashed line."""
    keys = list(dict.fromkeys(f.key for p in result.points for f in p.figures))
    cols = min(3, max(len(keys), 1))
    rows = max(1, -(-len(keys) // cols))
    fig, axes = _subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        limit = None
        for name, points in series(result):
            pts = [(p, f) for p in points if (f := p.figure(key)) is not None]
            if not pts:
                continue
            x = np.array([p.nodes for p, _ in pts], dtype=float)
            y = np.array([_cap(f.value) for _, f in pts])
            lo = np.array([_cap(f.low) for _, f in pts])
            hi = np.array([_cap(f.high) for _, f in pts])
            ax.errorbar(
                x,
                y,
                yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)],
                marker="o",
                ms=4,
                capsize=3,
                lw=1,
                label=name,
            )
            limit = pts[0][1].limit
            label = pts[0][1].label
        if limit is not None:
            ax.axhline(limit, color="grey", ls="--", lw=1)
            ax.set_title(label, fontsize=9)
        if key.startswith("wait"):
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(bottom=0)
        ax.set_xlabel("nodes", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    return _png(fig)


def _cap(x: float) -> float:
    return x if np.isfinite(x) else np.nan


def utilisation(result: SweepResult) -> bytes:
    fig, ax = _subplots(figsize=(6, 3.4))
    for name, pts in series(result):
        ax.plot([p.nodes for p in pts], [100 * p.utilisation for p in pts], marker="o", label=name)
    floor = result.lab.targets.min_utilisation
    if floor is not None:
        ax.axhline(100 * floor, color="grey", ls="--", lw=1, label="floor")
    ax.set_xlabel("nodes")
    ax.set_ylabel("GPU utilisation (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    return _png(fig)


def waits(points: Sequence[Point], kinds: dict[str, str]) -> bytes:
    """Wait CDFs per organisation kind at the given points (the choice, the size below)."""
    fig, ax = _subplots(figsize=(7, 4))
    styles = ["-", "--", ":"]
    for point, style in zip(points, styles, strict=False):
        for i, kind in enumerate(sorted(set(kinds.values()))):
            w = np.concatenate(
                [
                    r.wait[
                        np.isin(
                            np.asarray(r.tenants)[r.tenant],
                            [t for t, k in kinds.items() if k == kind],
                        )
                    ]
                    for r in point.records
                ]
            )
            if not w.size:
                continue
            w = np.sort(np.where(np.isfinite(w), w, np.inf)) / 60.0
            rank = quantile_ranks(w.size)  # a few thousand points, however many jobs
            ax.step(
                np.maximum(w[rank], 0.01),
                (rank + 1) / w.size,
                where="post",
                ls=style,
                color=f"C{i}",
                label=f"{kind}, {point.policy} {point.nodes} nodes",
            )
    ax.set_xscale("log")
    ax.set_xlabel("wait (minutes; under 0.01 shown at 0.01)")
    ax.set_ylabel("share of jobs")
    ax.legend(fontsize=7)
    return _png(fig)


def shares(point: Point, lab: Lab) -> bytes:
    """Share of the GPU-hours each organisation received at ``point`` against its entitlement
    (its share of the lab's weights)."""
    orgs = sorted(lab.organisations, key=lambda o: -o.share)
    weight = sum(o.share for o in orgs) or 1.0
    used: dict[str, float] = {}
    for record in point.records:
        for tenant, hours in record.gpu_hours.items():
            used[tenant] = used.get(tenant, 0.0) + hours
    total = sum(used.values()) or 1.0
    x = np.arange(len(orgs))
    fig, ax = _subplots(figsize=(7, 3.6))
    ax.bar(x - 0.2, [100 * o.share / weight for o in orgs], 0.4, label="entitlement")
    ax.bar(x + 0.2, [100 * used.get(o.id, 0.0) / total for o in orgs], 0.4, label="received")
    ax.set_xticks(x, [o.id for o in orgs], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("% of GPU-hours")
    ax.legend(fontsize=8)
    return _png(fig)

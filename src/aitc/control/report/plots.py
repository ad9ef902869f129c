"""The report's plots, drawn with matplotlib (Agg) into PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aitc.control.report.build import Report  # noqa: E402


def figures(report: Report) -> list[tuple[str, Figure]]:
    """(title, figure) for each plot of the report."""
    return [
        ("GPU-hours by organisation", _usage(report)),
        ("Share received vs entitlement vs demand", _shares(report)),
        ("Wait to first start (p50 and p95)", _waits(report)),
    ]


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _bars(labels: list[str], series: dict[str, list[float]], ylabel: str) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=name)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels)
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _usage(report: Report) -> Figure:
    rows = report.table("usage_by_organisation").rows
    return _bars(
        [str(r[0]) for r in rows], {"GPU-hours": [float(r[3] or 0) for r in rows]}, "GPU-hours"
    )


def _shares(report: Report) -> Figure:
    rows = report.table("fairness").rows
    total_demand = sum(float(r[2] or 0) for r in rows) or 1.0
    return _bars(
        [str(r[0]) for r in rows],
        {
            "entitlement": [float(r[1] or 0) for r in rows],
            "demand": [100 * float(r[2] or 0) / total_demand for r in rows],
            "received": [float(r[4] or 0) for r in rows],
        },
        "% of the total",
    )


def _waits(report: Report) -> Figure:
    rows = report.table("waits_by_organisation").rows
    return _bars(
        [str(r[0]) for r in rows],
        {"p50": [float(r[3] or 0) for r in rows], "p95": [float(r[4] or 0) for r in rows]},
        "minutes",
    )

"""PNG plots of a run: timeline, JCT CDF, share vs entitlement.

``timeline``, ``jct_cdf`` and ``shares`` reduce a run's arrays to what a figure shows (a
timeline resampled to ``POINTS`` samples, a CDF through at most ``CDF_POINTS`` quantiles,
however many jobs ran) and return it as a ``Plot``, small enough to hand to another process
(``painter``); ``draw`` draws one. Figures use matplotlib's object API on the Agg canvas (no
pyplot, no global figure state), and matplotlib is imported when the first figure is drawn, not
with the twin. Margins are set once per figure from the few labels whose size varies (tick
labels, organisation names), measured with the renderer; the rest of the layout is fixed, so
no layout pass runs per figure. Equal runs write equal bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

POINTS = 2000  # timeline samples
CDF_POINTS = 2000  # quantiles drawn per CDF line (far finer than the plot's pixels)
DPI = 110
FONT_PT = 10.0  # matplotlib's default font size: labels and tick labels
_PT = 1 / 72  # inches per point
EDGE = 1.08 * FONT_PT * _PT  # blank border around everything (tight_layout's default pad)
TICK = (3.5 + 3.5) * _PT  # tick length + gap to its label
LABEL = (FONT_PT + 4.0) * _PT  # an axis label's line + its gap to the tick labels
TITLE = 0.36  # inches above the axes for a title (12 pt)


@dataclass(frozen=True)
class Plot:
    """One PNG to draw: its figure (by name), its file and the data it shows."""

    figure: str
    path: Path
    data: dict[str, Any]


def draw(plot: Plot) -> None:
    """Draw ``plot`` and write its file."""
    _FIGURES[plot.figure](plot.path, **plot.data)


def warm() -> None:
    """Import matplotlib and load its font (what the first figure would otherwise pay)."""
    _extent(_figure(1, 1), ["lp"])


def timeline(
    path: Path,
    time: np.ndarray,
    busy: np.ndarray,
    queue: np.ndarray,
    *,
    total_gpus: int,
    title: str,
) -> Plot:
    """Queue length and GPU utilisation over simulated days (step values, resampled)."""
    if time.size == 0:
        time, busy, queue = np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int64)
    grid = np.linspace(time[0], time[-1], POINTS)
    idx = np.clip(np.searchsorted(time, grid, side="right") - 1, 0, time.size - 1)
    busy_pct = 100.0 * busy[idx] / max(total_gpus, 1)
    return Plot(
        "timeline",
        path,
        {"days": grid / 86400.0, "busy_pct": busy_pct, "queue": queue[idx], "title": title},
    )


def _draw_timeline(
    path: Path, *, days: np.ndarray, busy_pct: np.ndarray, queue: np.ndarray, title: str
) -> None:
    fig = _figure(9, 5.5)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(days, busy_pct, color="tab:green", lw=0.8)
    top.set_ylabel("GPUs busy (%)")
    top.set_ylim(0, 105)
    bottom.plot(days, queue, color="tab:red", lw=0.8)
    bottom.set_ylabel("jobs waiting")
    bottom.set_xlabel("simulated time (days)")
    fig.suptitle(title)
    left = EDGE + LABEL + TICK + _widest(fig, _ytick_labels(top) + _ytick_labels(bottom))
    _margins(fig, left=left, right=0.2, top=0.47, bottom=_under_axis(fig), hspace=0.112)
    _save(fig, path)


def jct_cdf(path: Path, jcts: Mapping[str, np.ndarray], *, title: str) -> Plot:
    """Cumulative distribution of job completion time, one line per policy (log scale)."""
    lines = {name: cdf_points(values) for name, values in jcts.items()}
    return Plot("jct_cdf", path, {"lines": lines, "title": title})


def _draw_jct_cdf(
    path: Path, *, lines: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str
) -> None:
    fig = _figure(7.5, 4.5)
    ax = fig.subplots()
    for name, (x, y) in lines.items():
        if x.size:
            ax.plot(np.maximum(x, 1.0) / 3600.0, y, label=name)
    ax.set_xscale("log")
    _log_grid(ax)
    ax.set_xlabel("job completion time (hours, log scale)")
    ax.set_ylabel("fraction of jobs")
    ax.legend()
    ax.set_title(title)
    left = EDGE + LABEL + TICK + _widest(fig, ["0.0"])  # fractions 0.0 to 1.0
    _margins(fig, left=left, right=0.25, top=TITLE, bottom=_under_axis(fig))
    _save(fig, path)


def _log_grid(ax: Axes) -> None:
    """Powers of ten labelled as plain numbers, and a faint grid at every power and at 2 to 9
    times it: the minor grid is one collection of lines, not a tick (six artists) per line."""
    from matplotlib import rcParams
    from matplotlib.ticker import FuncFormatter, NullLocator

    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(True, which="major", alpha=0.3)
    decades = 10.0 ** np.arange(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    minor = (decades[:, None] * np.arange(2, 10)).ravel()
    minor = minor[(minor > lo) & (minor < hi)]
    grid = {"color": rcParams["grid.color"], "lw": rcParams["grid.linewidth"], "alpha": 0.3}
    ax.vlines(minor, 0, 1, transform=ax.get_xaxis_transform(), zorder=1.5, **grid)
    ax.set_xlim(lo, hi)  # the lines must not widen the limits


def cdf_points(values: np.ndarray, most: int = CDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of the finite ``values`` as (value, fraction at or below it), at most
    ``most`` points: every value when there are few, else evenly spaced quantiles, the
    smallest and the largest value included."""
    v = np.sort(values[np.isfinite(values)])
    rank = quantile_ranks(v.size, most)
    return v[rank], (rank + 1) / max(v.size, 1)


def quantile_ranks(n: int, most: int = CDF_POINTS) -> np.ndarray:
    """At most ``most`` ranks out of ``n`` sorted values, evenly spaced, first and last
    included (all of them when there are few): where a CDF is drawn through."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def shares(path: Path, per_tenant: Mapping[str, Mapping[str, Any]], *, title: str) -> Plot:
    """Share of GPU time each organisation received beside its entitlement."""
    names = sorted(per_tenant)
    got = [100 * per_tenant[n]["share"] for n in names]
    owed = [100 * per_tenant[n]["entitlement"] for n in names]
    return Plot("shares", path, {"names": names, "got": got, "owed": owed, "title": title})


def _draw_shares(
    path: Path, *, names: list[str], got: list[float], owed: list[float], title: str
) -> None:
    x = np.arange(len(names))
    width = max(6.0, 0.6 * len(names) + 2)
    fig = _figure(width, 4.5)
    ax = fig.subplots()
    ax.bar(x - 0.2, got, 0.4, label="share received")
    ax.bar(x + 0.2, owed, 0.4, label="entitlement")
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("% of GPU time")
    ax.legend()
    ax.set_title(title)
    _margins(fig, **_below_names(fig, ax, names, width), top=TITLE)
    _save(fig, path)


def _below_names(fig: Figure, ax: Axes, names: list[str], width: float) -> dict[str, float]:
    """Left, right and bottom margins (inches) that fit the y tick labels and the organisation
    names under the bars, turned 45 degrees and right-aligned on their ticks."""
    line = _extent(fig, ["lp"])[1]  # a line's height, as matplotlib lays text out
    span = (_widest(fig, names) + line) / math.sqrt(2)  # a turned name's width and height
    first = (_widest(fig, names[:1]) + line) / math.sqrt(2)
    lo, hi = ax.get_xlim()
    before = (0.0 - lo) / (hi - lo) if names else 0.0  # the first tick, as a fraction of the axes
    right = 0.15
    left = EDGE + LABEL + TICK + _widest(fig, _ytick_labels(ax))
    # the first name must stay inside the figure, and it reaches ``first`` left of its tick
    left = max(left, (EDGE + first - before * (width - right)) / (1 - before))
    return {"left": left, "right": right, "bottom": min(EDGE + TICK + span, 0.45 * 4.5)}


def _figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (imported here: only a run that plots pays for it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _ytick_labels(ax: Axes) -> list[str]:
    """The y tick labels the axes will draw (its locator and formatter, inside its limits)."""
    lo, hi = sorted(ax.get_ylim())
    locs = [v for v in ax.yaxis.get_majorticklocs() if lo <= v <= hi]
    return [str(s) for s in ax.yaxis.get_major_formatter().format_ticks(locs)]


def _extent(fig: Figure, texts: Iterable[str]) -> tuple[float, float]:
    """The largest width and height (inches, descent included) of ``texts`` at ``FONT_PT``."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    prop = FontProperties(size=FONT_PT)
    w = h = 0.0
    for text in texts:
        tw, th, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
        w, h = max(w, tw), max(h, th)
    return w / fig.dpi, h / fig.dpi


def _under_axis(fig: Figure) -> float:
    """The bottom margin (inches) for a row of tick labels and an axis label under them."""
    return EDGE + TICK + _extent(fig, ["lp"])[1] + LABEL


def _widest(fig: Figure, texts: Iterable[str]) -> float:
    return _extent(fig, texts)[0]


def _margins(
    fig: Figure, *, left: float, right: float, top: float, bottom: float, hspace: float = 0.2
) -> None:
    """Place the axes with margins given in inches."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, hspace=hspace
    )


def _save(fig: Figure, path: Path) -> None:
    # no Software entry (it names the matplotlib version) keeps equal runs' files identical
    fig.savefig(path, dpi=DPI, metadata={"Software": None})


_FIGURES: dict[str, Callable[..., None]] = {
    "timeline": _draw_timeline,
    "jct_cdf": _draw_jct_cdf,
    "shares": _draw_shares,
}

"""The overview's figures of the last 14 days: GPUs busy per organisation and day (a stacked
bar chart drawn as inline SVG, with a table of the same numbers), and share received vs
entitlement.

Every figure comes from the report package: a day's GPU-seconds per organisation are
``report.queries.org_gpu_seconds`` (allocation, as the report counts it), and share vs
entitlement is the ``fairness`` table of ``build_report`` over the 14 days. Both are kept in
the app's ``Figures``: a day that has ended is computed once, today and the fortnight's report
again at most once a minute, off the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from aitc.control.report import Period, build_report
from aitc.control.report.build import Table
from aitc.control.report.queries import org_gpu_seconds
from aitc.control.web.figures import Computed, Figures

DAY = 86400.0
DAYS = 14
REFRESH_S = 60.0
WIDTH, HEIGHT, LEFT, BOTTOM = 640, 220, 44, 28  # the chart's box and margins, in SVG units


@dataclass(frozen=True, slots=True)
class DayUse:
    start: float
    seconds: float  # how much of the day the figures cover (all of it but for today)
    gpu_s: dict[str, float]

    def gpus(self, org: str) -> float:
        """Mean GPUs the organisation held over the day."""
        return self.gpu_s.get(org, 0.0) / self.seconds if self.seconds > 0 else 0.0

    @property
    def label(self) -> str:
        return datetime.fromtimestamp(self.start, UTC).strftime("%d %b")


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: int
    title: str


@dataclass(frozen=True, slots=True)
class UsageChart:
    days: tuple[DayUse, ...]
    orgs: tuple[str, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # (y, label) of the GPU axis
    width: int = WIDTH
    height: int = HEIGHT


def day_periods(now: float) -> list[Period]:
    """The last ``DAYS`` days in UTC, today (to ``now``) last."""
    today = now - now % DAY
    return [Period(today - (DAYS - 1 - i) * DAY, today - (DAYS - 2 - i) * DAY) for i in range(DAYS)]


def _day(start: float, end: float | None) -> Callable[[Session, float], DayUse]:
    def compute(session: Session, now: float) -> DayUse:
        stop = now if end is None else end
        used = org_gpu_seconds(session=session, period=Period(start, stop), now=now)
        return DayUse(start, stop - start, used)

    return compute


def usage_days(figures: Figures, now: float) -> list[DayUse] | None:
    """Each of the last 14 days' use, or None while some are still being computed."""
    periods = day_periods(now)
    # a day that has ended is another figure than the same day in progress: computed anew
    # once it has ended, then kept
    kept: list[Computed | None] = [
        figures.get(("day", p.start, "ended"), _day(p.start, p.end), None) for p in periods[:-1]
    ]
    today = periods[-1].start
    kept.append(figures.get(("day", today, "so far"), _day(today, None), REFRESH_S))
    if any(k is None or k.value is None for k in kept):
        return None
    return [k.value for k in kept if k is not None]


def chart(days: list[DayUse], colours: dict[str, int], names: dict[str, str]) -> UsageChart:
    """A stacked bar per day (one segment per organisation, in the map's colours)."""
    orgs = tuple(sorted({o for d in days for o in d.gpu_s}))
    top = max([sum(d.gpus(o) for o in orgs) for d in days] + [1.0])
    scale = 10 ** len(str(int(top))) / 10
    top = scale * (int(top / scale) + 1)
    plot_h, slot = HEIGHT - BOTTOM - 8, (WIDTH - LEFT) / max(1, len(days))
    bars = []
    for i, d in enumerate(days):
        y = float(HEIGHT - BOTTOM)
        for org in orgs:
            h = plot_h * d.gpus(org) / top
            if h <= 0:
                continue
            y -= h
            title = f"{d.label}: {names.get(org, org)} {d.gpus(org):.1f} GPUs"
            bars.append(Bar(LEFT + i * slot + 3, y, slot - 6, h, colours.get(org, 0), title))
    ticks = tuple(
        (HEIGHT - BOTTOM - plot_h * k / 4, f"{top * k / 4:g}") for k in range(5)
    )  # five lines: 0 to the top
    return UsageChart(tuple(days), orgs, tuple(bars), ticks)


def _fortnight(session: Session, now: float) -> Table:
    report = build_report(session=session, period=Period(now - DAYS * DAY, now), now=now)
    return report.table("fairness")


def share_vs_entitlement(figures: Figures) -> Computed | None:
    """The fairness table of the report over the last 14 days (None while computed)."""
    return figures.get("fortnight-fairness", _fortnight, REFRESH_S)

"""Reports (admins, as ``GET /api/v1/report``): the biweekly usage and chargeback report of a
fortnight, each of its tables page by page, and the invoices.

The figures are ``aitc.control.report``'s (``build_report``, its plots and ``headline``), never
computed here. A report takes seconds on a large store, so it is built off the request
(``figures.Figures``): a fortnight that has ended once, the one in progress again at most
once a minute; until then the page says it is being prepared and refreshes itself.

Fortnights start on Mondays at 00:00 UTC, every other week (from Monday 5 January 1970), so
that the same two weeks are reviewed whoever looks and whenever.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from aitc.control.report import Period, RateCard, Report, build_report
from aitc.control.report.render import fmt, headline
from aitc.control.store.access import require_admin
from aitc.control.web.figures import Computed, figures_of
from aitc.control.web.paging import PageNumber, Paging
from aitc.control.web.render import Visit, WebRoute, now, visit
from aitc.errors import NotFoundError

router = APIRouter(route_class=WebRoute, include_in_schema=False)
DAY = 86400.0
FORTNIGHT = 14 * DAY
EPOCH_MONDAY = 4 * DAY  # 1970-01-05, a Monday
SHOWN = 7  # fortnights offered: the one in progress and the six before it
PREVIEW_ROWS = 20
REFRESH_S = 60  # the report in progress is built again at most this often; its pages refresh
Back = Annotated[int, Query(ge=0, lt=SHOWN)]


@dataclass(frozen=True, slots=True)
class ReportView:
    report: Report
    plots: tuple[tuple[str, str], ...]  # (title, PNG as a data URI)


def fortnight(now: float, back: int) -> Period:
    """The fortnight ``back`` fortnights before the one in progress (0: that one, to now)."""
    start = now - (now - EPOCH_MONDAY) % FORTNIGHT - back * FORTNIGHT
    return Period(start, now if back == 0 else start + FORTNIGHT)


def _build(
    period: Period, in_progress: bool, rates: RateCard
) -> Callable[[Session, float], ReportView]:
    def compute(session: Session, at: float) -> ReportView:
        from aitc.control.report.plots import figures, png  # matplotlib: only when needed

        chosen = Period(period.start, at) if in_progress else period
        report = build_report(session=session, period=chosen, now=at, rates=rates)
        plots = tuple(
            (title, "data:image/png;base64," + base64.b64encode(png(fig)).decode())
            for title, fig in figures(report)
        )
        return ReportView(report, plots)

    return compute


def report_of(request: Request, back: int) -> tuple[Period, Computed | None]:
    """The fortnight and its report as far as computed (None: being prepared)."""
    t = now(request)
    period = fortnight(t, back)
    rates: RateCard = getattr(request.app.state, "rate_card", None) or RateCard()
    figures = figures_of(request.app)
    key = ("report", period.start, back == 0)
    computed = figures.get(key, _build(period, back == 0, rates), REFRESH_S if back == 0 else None)
    return period, computed


def _page(v: Visit, template: str, back: int, **extra: Any) -> Response:
    require_admin(v.me)
    period, computed = report_of(v.request, back)
    view = computed.value if computed is not None else None
    choices = [(i, fortnight(now(v.request), i)) for i in range(SHOWN)]
    return v.render(
        template, view=view, back=back, period=period, choices=choices, computed=computed,
        error=computed.error if computed is not None else "", fmt=fmt,
        facts=headline(view.report) if view else [], refresh=REFRESH_S if view else 2, **extra,
    )  # fmt: skip


@router.get("/reports")
def report_page(request: Request, back: Back = 0) -> Response:
    with visit(request) as v:
        return _page(v, "report.html", back, preview=PREVIEW_ROWS)


@router.get("/reports/invoices")
def invoices_page(request: Request, back: Back = 0) -> Response:
    with visit(request) as v:
        return _page(v, "invoices.html", back)


@router.get("/reports/tables/{name}")
def table_page(request: Request, name: str, back: Back = 0, page: PageNumber = 1) -> Response:
    with visit(request) as v:
        require_admin(v.me)
        _, computed = report_of(request, back)
        table = None
        if computed is not None and computed.value is not None:
            found = [t for t in computed.value.report.tables if t.name == name]
            if not found:
                raise NotFoundError(f"no table {name!r}")
            table = found[0]
        paging = Paging(page, len(table.rows) if table else 0, query=(("back", str(back)),))
        rows = table.rows[paging.offset : paging.offset + paging.size] if table else ()
        return _page(v, "report_table.html", back, table=table, rows=rows, paging=paging)

"""``GET /api/v1/report``: the usage and chargeback report's figures as JSON (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep
from aitc.control.report import RateCard, build_report, resolve_period
from aitc.control.report.render import headline
from aitc.control.store.access import require_admin

router = APIRouter(tags=["report"])


class TablePublic(BaseModel):
    name: str
    title: str
    columns: list[str]
    rows: list[list[str | int | float | None]]
    note: str = ""


class ReportPublic(BaseModel):
    period_from: float
    period_to: float
    generated_at: float
    capacity_gpu_hours: float
    allocated_gpu_hours: float
    fairness_index: float | None
    currency: str
    headline: dict[str, str]
    tables: list[TablePublic]


@router.get("/report", response_model=ReportPublic)
def read_report(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    period: Annotated[str | None, Query(max_length=16, description="e.g. 2w, 14d, 36h")] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> ReportPublic:
    """The figures of `aitc report`: GPU-hours by organisation, project and member; share
    received vs entitlement vs demand; waits; idle GPU-hours; reservations; invoices."""
    require_admin(caller)
    now = settings.clock.now()
    chosen = resolve_period(now=now, period=period, start=start, end=end)
    rates: RateCard = getattr(request.app.state, "rate_card", None) or RateCard()
    report = build_report(session=session, period=chosen, now=now, rates=rates)
    return ReportPublic(
        period_from=chosen.start,
        period_to=chosen.end,
        generated_at=now,
        capacity_gpu_hours=report.capacity_gpu_hours,
        allocated_gpu_hours=report.used_gpu_hours,
        fairness_index=report.fairness_index,
        currency=report.currency,
        headline=dict(headline(report)),
        tables=[
            TablePublic(
                name=t.name,
                title=t.title,
                columns=list(t.columns),
                rows=[list(r) for r in t.rows],
                note=t.note,
            )
            for t in report.tables
        ],
    )

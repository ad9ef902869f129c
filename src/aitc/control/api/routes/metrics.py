"""``GET /metrics``: the control plane's Prometheus metrics (an admin token; see metrics.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from aitc.control.api.deps import CallerDep
from aitc.control.metrics import CONTENT_TYPE, ControlMetrics
from aitc.control.store.access import require_admin

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def read_metrics(request: Request, caller: CallerDep) -> Response:
    """Prometheus text exposition format; scrape with an admin token (`authorization`)."""
    require_admin(caller)
    metrics: ControlMetrics = request.app.state.metrics
    return Response(content=metrics.render(), media_type=CONTENT_TYPE)

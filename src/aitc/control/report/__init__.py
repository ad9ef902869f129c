"""Usage and chargeback reports (``aitc report``, ``GET /api/v1/report``) from the store.

``build_report`` runs the SQL aggregates (``queries``) for a ``Period`` and returns a
``Report`` of named tables; ``render`` writes it as HTML, CSV and PDF. Invoices follow
``rates`` (lab.yaml's ``costs.rate_card``).
"""

from __future__ import annotations

from typing import Any

from aitc.control.report.build import Report, Table, build_report
from aitc.control.report.period import Period, resolve_period
from aitc.control.report.rates import Invoice, InvoiceLine, RateCard


def rate_card_of(lab: Any) -> RateCard:
    """The rate card of a lab (``costs.rate_card`` and ``costs.currency``); empty without one."""
    costs = getattr(lab, "costs", None)
    if costs is None:
        return RateCard()
    return RateCard(str(costs.currency), dict(costs.rate_card))


__all__ = [
    "Invoice",
    "InvoiceLine",
    "Period",
    "RateCard",
    "Report",
    "Table",
    "build_report",
    "rate_card_of",
    "resolve_period",
]

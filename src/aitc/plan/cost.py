"""What the chosen cluster is and costs: its bill of materials, power, peak PFLOPS and money.

Capex is nodes, switches (of all four fabrics) and racks at the prices of lab.yaml's
``costs``; a year costs the capex written off over ``years`` plus energy at full IT load
times the PUE. A GPU-hour costs that year over the GPU-hours the cluster delivered in the
simulation (GPUs x 8,760 h x utilisation). The rate card prices the GPU-hours each
organisation kind used in the simulation, scaled to a year.
Each generation's node costs ``costs.node``: lab.yaml has one node price.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aitc.arch.builder import Design
from aitc.domain.lab import Lab
from aitc.domain.targets import Costs
from aitc.plan.search import Point

HOURS_PER_YEAR = 8760.0
YEAR_S = HOURS_PER_YEAR * 3600.0


def switches(design: Design) -> int:
    fabric = design.compute.to_dict()
    compute = fabric["leaf_switches"] + fabric["spine_switches"] + fabric["core_switches"]
    return compute + design.storage_switches + design.inband_switches + design.oob_switches


def price(design: Design, costs: Costs | None, utilisation: float) -> dict[str, Any] | None:
    """Capex, yearly cost and cost per delivered GPU-hour (``None`` without ``costs``)."""
    if costs is None:
        return None
    capex = design.nodes * costs.node + switches(design) * costs.switch + design.racks * costs.rack
    energy = design.power_kw * costs.pue * HOURS_PER_YEAR * costs.energy_per_kwh
    yearly = capex / costs.years + energy
    delivered = design.gpus * HOURS_PER_YEAR * utilisation
    return {
        "currency": costs.currency,
        "capex": capex,
        "energy_per_year": energy,
        "cost_per_year": yearly,
        "cost_per_gpu_hour": yearly / delivered if delivered > 0 else None,
    }


def charges(point: Point, lab: Lab, costs: Costs | None) -> dict[str, Any] | None:
    """GPU-hours per organisation kind (each run's window scaled to a year, averaged over the
    runs) at the rate card."""
    if costs is None or not costs.rate_card:
        return None
    kinds = {o.id: o.kind.value for o in lab.organisations}
    per_year: dict[str, float] = {}
    for record in point.records:
        scale = YEAR_S / record.window_s / len(point.records)
        for tenant, gpu_hours in record.gpu_hours.items():
            kind = kinds.get(tenant, "")
            per_year[kind] = per_year.get(kind, 0.0) + gpu_hours * scale
    per_kind = {
        kind: {
            "gpu_hours_per_year": h,
            "rate": _rate(costs.rate_card, kind),
            "charge_per_year": h * _rate(costs.rate_card, kind),
        }
        for kind, h in sorted(per_year.items())
    }
    return {
        "per_kind": per_kind,
        "total_per_year": sum(v["charge_per_year"] for v in per_kind.values()),
    }


def _rate(card: Mapping[str, float], kind: str) -> float:
    return float(card.get(kind, 0.0))

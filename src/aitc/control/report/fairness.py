"""A demand-aware fairness figure: what each organisation received against what a weighted
max-min fair split of the period's capacity would have given it, given what it asked for.

Jain's index over the whole run reads the same under every policy when every organisation
wants more than it gets. Here each organisation's **fair allocation** is found by water-filling
(weighted max-min fairness): capacity is shared in proportion to the shares, no organisation is
given more than its demand (what it used plus what waited), and what one cannot use is shared
among the others. ``received / fair`` is 1 for an organisation treated fairly, below 1 for one
that got less than its fair allocation; the summary is Jain's index over those ratios.
"""

from __future__ import annotations

from collections.abc import Mapping


def fair_allocation(
    capacity: float, shares: Mapping[str, float], demand: Mapping[str, float]
) -> dict[str, float]:
    """Weighted max-min fair split of ``capacity``, each organisation capped at its demand."""
    fair = {org: 0.0 for org in shares}
    open_orgs = {o for o in shares if demand.get(o, 0.0) > 0 and shares[o] > 0}
    left = capacity
    while open_orgs and left > 1e-9:
        weight = sum(shares[o] for o in open_orgs)
        level = left / weight  # capacity per unit of share this round
        capped = {o for o in open_orgs if demand[o] - fair[o] <= level * shares[o]}
        if not capped:
            for o in open_orgs:
                fair[o] += level * shares[o]
            break
        for o in capped:
            left -= demand[o] - fair[o]
            fair[o] = demand[o]
        open_orgs -= capped
    return fair


def jain(values: list[float]) -> float | None:
    """Jain's fairness index of ``values`` (1: all equal); ``None`` for no values."""
    if not values or not any(values):
        return None
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))

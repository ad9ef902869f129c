"""What the lab promises and what its cluster costs: service targets, costs, sweep settings.

lab.yaml's ``targets``, ``costs`` and ``plan`` sections, as plain data. ``aitc plan`` searches
for the smallest cluster whose simulated service meets every ``Targets`` figure, and prices
it with ``Costs``; ``PlanSpec`` holds the sweep's defaults (the command's flags override).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class PartnerContract:
    """Each partner's contracted GPUs (its ``quota``) are honoured within ``within_min``
    minutes: of its jobs that fit inside the quota when submitted, at least ``share`` start
    within that time."""

    within_min: float = 15.0
    share: float = 0.95


@dataclass(frozen=True, slots=True)
class Targets:
    """Service targets (lab.yaml ``targets``); ``None`` or empty: no such target.

    ``max_wait_min``: per organisation kind, the ``wait_percentile`` of waits (minutes) may
    not exceed this; ``workshop_seats``: every course seat starts when its session starts;
    ``partner_contract``: see ``PartnerContract``; ``min_utilisation``: a floor on the share
    of GPU time in use while jobs arrive.
    """

    max_wait_min: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    wait_percentile: float = 90.0
    workshop_seats: bool = False
    partner_contract: PartnerContract | None = None
    min_utilisation: float | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.max_wait_min
            or self.workshop_seats
            or self.partner_contract
            or self.min_utilisation is not None
        )


@dataclass(frozen=True, slots=True)
class Costs:
    """Capital and running costs (lab.yaml ``costs``), in ``currency``.

    Capex: ``node`` per node, ``switch`` per switch of any fabric, ``rack`` per rack; written
    off over ``years``. Energy: ``energy_per_kwh`` for the IT load times ``pue``.
    ``rate_card``: the price of one GPU-hour per organisation kind (what each kind is charged).
    """

    currency: str = "EUR"
    node: float = 0.0
    switch: float = 0.0
    rack: float = 0.0
    years: float = 5.0
    energy_per_kwh: float = 0.0
    pue: float = 1.0
    rate_card: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """Defaults of ``aitc plan`` (lab.yaml ``plan``): which policies to sweep, over how many
    seeds and simulated days, and the range and step of cluster sizes (``step``: ``su`` for
    whole scalable units, or a number of nodes). ``None``: the command's own default."""

    policies: tuple[str, ...] = ()
    seeds: int = 3
    days: float = 3.0
    min_nodes: int | None = None
    max_nodes: int | None = None
    step: str = "su"

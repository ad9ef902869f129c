"""Chargeback: invoices from a rate card, one line per project.

The formula (docs/reports.md): an organisation of kind K is charged, for each of its projects,

    charge = GPU-hours x rate[K]

where GPU-hours are the GPUs its jobs **held** in the period (allocation, started to ended,
clipped to the period, a MIG slice as its fraction of a GPU; idle GPUs are charged too, as
they were held), and ``rate[K]`` is lab.yaml's ``costs.rate_card`` price of a GPU-hour for kind
K. An invoice's total is the sum of its lines, and each line the sum of its jobs' charges:
``aitc.control.report.queries.job_gpu_seconds`` lists them. Kinds without a rate get no invoice.
Amounts are rounded to cents only when shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aitc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RateCard:
    """The price of one GPU-hour per organisation kind, in ``currency``."""

    currency: str = "EUR"
    gpu_hour: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for kind, rate in self.gpu_hour.items():
            if not rate >= 0:
                raise ConfigError(f"{kind}: a rate is 0 or more, got {rate}", field="rate_card")

    def rate(self, kind: str) -> float | None:
        return self.gpu_hour.get(kind)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    project: str
    jobs: int
    gpu_hours: float
    rate: float

    @property
    def charge(self) -> float:
        return self.gpu_hours * self.rate


@dataclass(frozen=True, slots=True)
class Invoice:
    org: str
    name: str
    kind: str
    currency: str
    lines: tuple[InvoiceLine, ...]

    @property
    def gpu_hours(self) -> float:
        return sum(line.gpu_hours for line in self.lines)

    @property
    def total(self) -> float:
        return sum(line.charge for line in self.lines)

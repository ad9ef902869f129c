"""GPU samples and their aggregate per attempt: mean, p95, idle share.

A ``GpuSample`` is what NVML says about one device at one moment: utilisation (percent of the
sample period a kernel ran, ``nvmlDeviceGetUtilizationRates().gpu``, DCGM's
``DCGM_FI_DEV_GPU_UTIL``), framebuffer memory used in MiB (``DCGM_FI_DEV_FB_USED``) and power in
watts (``DCGM_FI_DEV_POWER_USAGE``). A MIG slice has no utilisation or power of its own in NVML:
those are ``None`` and the aggregate leaves them out rather than counting zeros.

``UsageAccumulator`` keeps a histogram of utilisation in whole percent (101 bins), so its p95 is
exact to one percent in constant memory however long the job runs. A device is *idle* in a
sample when its utilisation is below ``IDLE_BELOW_PCT`` (Run:ai's "idle allocated GPU": no
kernel ran in the sample period).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

IDLE_BELOW_PCT = 1.0


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One device at one moment (``None``: the device does not report that figure)."""

    uuid: str
    util_pct: float | None
    memory_used_mib: float
    power_w: float | None = None


@dataclass(frozen=True, slots=True)
class UsageAggregate:
    """What an attempt's GPUs did while it ran, over every sample of every device."""

    samples: int
    devices: int
    util_mean_pct: float | None
    util_p95_pct: float | None
    idle_share: float | None
    memory_mean_mib: float
    memory_max_mib: float
    power_mean_w: float | None


@dataclass
class UsageAccumulator:
    """Running sums of one attempt's samples (pure: no NVML, no clock)."""

    samples: int = 0
    devices: set[str] = field(default_factory=set)
    util_hist: list[int] = field(default_factory=lambda: [0] * 101)
    util_sum: float = 0.0
    util_n: int = 0
    idle_n: int = 0
    memory_sum: float = 0.0
    memory_max: float = 0.0
    power_sum: float = 0.0
    power_n: int = 0

    def add(self, sample: GpuSample) -> None:
        self.samples += 1
        self.devices.add(sample.uuid)
        self.memory_sum += sample.memory_used_mib
        self.memory_max = max(self.memory_max, sample.memory_used_mib)
        if sample.util_pct is not None:
            util = min(100.0, max(0.0, sample.util_pct))
            self.util_hist[int(round(util))] += 1
            self.util_sum += util
            self.util_n += 1
            self.idle_n += util < IDLE_BELOW_PCT
        if sample.power_w is not None:
            self.power_sum += sample.power_w
            self.power_n += 1

    def aggregate(self) -> UsageAggregate | None:
        """The aggregate so far; ``None`` before the first sample (nothing is not zero)."""
        if self.samples == 0:
            return None
        return UsageAggregate(
            samples=self.samples,
            devices=len(self.devices),
            util_mean_pct=self.util_sum / self.util_n if self.util_n else None,
            util_p95_pct=self._util_quantile(0.95),
            idle_share=self.idle_n / self.util_n if self.util_n else None,
            memory_mean_mib=self.memory_sum / self.samples,
            memory_max_mib=self.memory_max,
            power_mean_w=self.power_sum / self.power_n if self.power_n else None,
        )

    def _util_quantile(self, q: float) -> float | None:
        """The nearest-rank quantile of the utilisation samples (whole percent)."""
        if not self.util_n:
            return None
        rank = max(1, math.ceil(q * self.util_n))
        seen = 0
        for pct, count in enumerate(self.util_hist):
            seen += count
            if seen >= rank:
                return float(pct)
        return 100.0  # unreachable: the bins hold util_n samples

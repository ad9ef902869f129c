"""Workload profiles fitted from the Philly trace's virtual clusters (the generator's defaults).

Each profile is ``fit_workload`` applied to one virtual cluster of
``../shared/traces/philly/philly_jobs.csv.gz`` (108.9 days): jobs per day, the share of jobs per
GPU count, the median runtime and the standard deviation of log-runtime. The hourly arrival
weights are those of the whole trace. ``tests/twin/test_profiles.py`` refits them from the trace.
"""

from __future__ import annotations

import numpy as np

from aitc.domain.org import WorkloadSpec
from aitc.twin.columns import JobColumns

PHILLY_HOURS: tuple[float, ...] = (
    1.27,
    0.98,
    1.12,
    1.1,
    0.7,
    1.15,
    1.67,
    2.09,
    1.11,
    1.01,
    1.02,
    0.87,
    0.75,
    0.7,
    0.64,
    0.65,
    0.88,
    0.67,
    0.8,
    0.73,
    1.02,
    0.92,
    1.13,
    1.01,
)


def _spec(rate: float, mix: dict[int, float], median: float, sigma: float) -> WorkloadSpec:
    return WorkloadSpec(rate, tuple(mix.items()), median, sigma, PHILLY_HOURS)


# The eleven virtual clusters the Helios study sizes, largest first.
PHILLY_PROFILES: dict[str, WorkloadSpec] = {
    "6214e9": _spec(378.6, {1: 0.9907, 2: 0.0012, 4: 0.0035, 8: 0.0046}, 1902, 1.72),
    "b436b2": _spec(
        68.2, {1: 0.9749, 2: 0.0004, 4: 0.0097, 8: 0.0069, 16: 0.0078, 24: 0.0003}, 1388, 1.03
    ),
    "ee9e8c": _spec(
        13.9,
        {
            1: 0.3951,
            2: 0.0721,
            4: 0.176,
            8: 0.278,
            16: 0.0635,
            24: 0.0007,
            32: 0.0086,
            64: 0.004,
            128: 0.002,
        },
        33376,
        2.94,
    ),
    "7f04ca": _spec(6.6, {1: 0.2822, 4: 0.455, 8: 0.2476, 16: 0.0152}, 17359, 2.66),
    "6c71a0": _spec(91.4, {1: 0.9097, 2: 0.0037, 4: 0.0398, 8: 0.0457, 16: 0.0011}, 1267, 1.94),
    "0e4a51": _spec(13.2, {1: 0.7596, 2: 0.1143, 4: 0.1261}, 242, 3.28),
    "11cb48": _spec(147.8, {1: 0.9078, 2: 0.0879, 4: 0.0025, 8: 0.0006, 16: 0.0012}, 69, 1.66),
    "e13805": _spec(
        3.4,
        {1: 0.5749, 2: 0.008, 4: 0.2727, 8: 0.0963, 12: 0.0187, 16: 0.0107, 24: 0.0107, 32: 0.008},
        13021,
        2.16,
    ),
    "2869ce": _spec(3.9, {1: 0.1517, 2: 0.0095, 4: 0.0237, 8: 0.6943, 32: 0.1209}, 11111, 2.39),
    "ed69ec": _spec(10.4, {1: 1.0}, 3223, 2.16),
    "103959": _spec(17.8, {1: 0.8123, 2: 0.0171, 4: 0.1706}, 474, 2.69),
}


def fit_workload(cols: JobColumns, tenant: str, *, span_days: float) -> WorkloadSpec:
    """Fit a profile to one tenant's jobs: rate, GPU mix, median and sigma of log-runtime."""
    mask = cols.tenant == cols.tenants.index(tenant)
    gpus, runtime = cols.gpus[mask], cols.runtime[mask]
    sizes, counts = np.unique(gpus, return_counts=True)
    mix = {int(s): round(float(c) / gpus.size, 4) for s, c in zip(sizes, counts, strict=True)}
    logs = np.log(np.maximum(runtime, 1.0))
    median = round(float(np.exp(np.median(logs))))
    return _spec(round(gpus.size / span_days, 1), mix, median, round(float(logs.std()), 2))

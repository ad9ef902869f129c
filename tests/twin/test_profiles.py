"""The generator's default profiles are what fitting the Philly trace gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitc.twin.profiles import PHILLY_PROFILES, fit_workload
from aitc.twin.sources import load_philly

TRACE = Path(__file__).resolve().parents[2] / "../shared/traces/philly/philly_jobs.csv.gz"
SPAN_DAYS = 108.896875  # first to last submission of the trace


@pytest.mark.skipif(not TRACE.is_file(), reason="the Philly trace is not here")
def test_every_profile_refits_from_its_virtual_cluster() -> None:
    cols = load_philly(TRACE).columns
    for tenant, spec in PHILLY_PROFILES.items():
        assert fit_workload(cols, tenant, span_days=SPAN_DAYS) == spec, tenant

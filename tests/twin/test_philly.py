"""The Philly loader on the real trace, and scaled replicas of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aitc.twin.sources import HELIOS_VC_NODES, PHILLY_JOBS, load_philly, replicate

TRACE = Path(__file__).resolve().parents[2] / "../shared/traces/philly/philly_jobs.csv.gz"
pytestmark = pytest.mark.skipif(not TRACE.is_file(), reason="the Philly trace is not here")


def test_the_whole_trace_loads_sorted_by_submit_time() -> None:
    cols = load_philly(TRACE).columns
    assert len(cols) == PHILLY_JOBS
    assert cols.submit[0] == 0.0 and bool(np.all(np.diff(cols.submit) >= 0))
    assert len(cols.tenants) == 15
    assert int(cols.gpus.max()) == 128 and float(cols.runtime.min()) == 1.0


def test_first_jobs_are_the_earliest_submissions_in_file_order_for_ties() -> None:
    first = [j.request for j in load_philly(TRACE, limit=3).jobs()]
    # 2017-09-04 10:30:41 is the earliest timestamp of the trace
    assert [r.id for r in first] == [1, 2, 3]
    assert first[0].submit == 0.0 and all(r.submit >= 0 for r in first)


def test_tenants_weigh_their_virtual_cluster_size() -> None:
    orgs = {o.id: o.share for o in load_philly(TRACE).organisations()}
    assert orgs["6214e9"] == HELIOS_VC_NODES["6214e9"] == 64
    assert orgs["23dbec"] == 8.0  # not sized by Helios


def test_time_limits_cover_runtime_with_headroom() -> None:
    cols = load_philly(TRACE).columns
    assert bool(np.all(cols.time_limit >= cols.runtime * 1.25))


def test_replicas_keep_exactly_the_asked_number_of_jobs_in_order() -> None:
    base = load_philly(TRACE, limit=1000)
    big = replicate(base, 2500, seed=1)
    cols = big.columns
    assert len(cols) == 2500 and bool(np.all(np.diff(cols.submit) >= 0))
    assert len(replicate(base, 2500, seed=1).columns.submit) == 2500
    assert np.array_equal(cols.submit, replicate(base, 2500, seed=1).columns.submit)

"""summary.json: figures computed by hand on tiny runs, and byte-identical output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from twin_builders import cluster, job, run

from aitc.domain.org import Organisation, OrgKind
from aitc.twin.runner import write_run
from aitc.twin.summary import canonical

ORGS = (
    Organisation("a", "A", OrgKind.RESEARCH, 3.0),
    Organisation("b", "B", OrgKind.RESEARCH, 1.0),
)


def test_jct_wait_makespan_and_utilisation_by_hand() -> None:
    # 16 GPUs; a: 16 GPUs for 100 s from 0; b: 8 GPUs for 50 s, submitted at 20, starts at 100
    s = run([job(1, gpus=16, runs=100), job(2, gpus=8, at=20, runs=50, org="b")], orgs=ORGS).summary
    assert (s["avg_jct_s"], s["median_jct_s"]) == (115.0, 115.0)  # JCTs 100 and 130
    assert (s["avg_wait_s"], s["p99_wait_s"]) == (40.0, pytest.approx(79.2))
    assert s["makespan_s"] == 150.0
    assert s["utilization"] == pytest.approx((16 * 100 + 8 * 50) / (16 * 150))


def test_shares_entitlements_and_jain_by_hand() -> None:
    s = run([job(1, gpus=16, runs=100), job(2, gpus=8, at=20, runs=50, org="b")], orgs=ORGS).summary
    a, b = s["per_tenant"]["a"], s["per_tenant"]["b"]
    assert (a["share"], b["share"]) == (pytest.approx(0.8), pytest.approx(0.2))
    assert (a["entitlement"], b["entitlement"]) == (0.75, 0.25)
    assert a["gpu_hours"] == pytest.approx(1600 / 3600)
    ratios = [0.8 / 0.75, 0.2 / 0.25]
    jain = sum(ratios) ** 2 / (2 * sum(r * r for r in ratios))
    assert s["jain_fairness"] == pytest.approx(jain)


def test_a_run_with_only_rejected_jobs_has_empty_statistics() -> None:
    s = run([job(1, gpus=64)], on=cluster(2)).summary
    assert (s["jobs_completed"], s["rejected_jobs"], s["avg_jct_s"]) == (0, 1, None)


def test_canonical_json_sorts_keys_rounds_floats_and_writes_nan_as_null() -> None:
    text = canonical({"b": 1 / 3, "a": {"wait_s": 2 / 3, "x": float("nan")}})
    assert json.loads(text) == {"a": {"wait_s": 0.667, "x": None}, "b": 0.333333}
    assert text.index('"a"') < text.index('"b"')


def test_write_run_puts_every_output_in_the_folder(tmp_path: Path) -> None:
    result = run([job(1, runs=100), job(2, gpus=4, at=3, runs=7, org="b")], orgs=ORGS)
    summary = write_run(result, tmp_path, wall_s=0.25)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "jct_cdf.png",
        "jobs.parquet",
        "shares.png",
        "summary.json",
        "timeline.png",
    ]
    assert json.loads((tmp_path / "summary.json").read_text())["wall_s"] == 0.25
    assert summary["policy"] == "fifo"
    import pandas as pd

    jobs = pd.read_parquet(tmp_path / "jobs.parquet")
    assert list(jobs.columns) == [
        "job_id",
        "tenant",
        "project",
        "member",
        "gpus",
        "submit",
        "start",
        "end",
        "wait",
        "jct",
        "runtime",
        "preemptions",
        "nodes",
        "leaves",
        "sus",
        "slowdown",
        "state",
    ]
    assert jobs["jct"].tolist() == [100.0, 7.0]


def test_research_wait_leaves_the_course_seats_out() -> None:
    from dataclasses import replace

    from aitc.domain.reservation import Reservation
    from aitc.twin.generator import seat_jobs

    session = Reservation("s", "a", start=10.0, end=1000.0, gpus=8)
    seats = [replace(j, runtime=50.0) for j in seat_jobs(session, first_id=10)]
    research = [job(1, gpus=16, runs=100), job(2, gpus=8, at=20, runs=50, org="b")]
    result = run([*research, *seats], orgs=ORGS)
    waits = result.jobs.set_index("job_id")["wait"]
    s = result.summary
    assert len(seats) == 8 and s["jobs_total"] == 10
    assert s["research"]["jobs"] == 2  # the seats started too, but are not research
    assert s["research"]["avg_wait_s"] == pytest.approx((waits[1] + waits[2]) / 2)
    assert s["research"]["avg_wait_s"] != pytest.approx(waits.mean())

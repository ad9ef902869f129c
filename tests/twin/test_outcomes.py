"""The job table of a run: numpy columns, written to jobs.parquet with pyarrow, read back by
pandas as the run's DataFrame; equal runs write equal bytes; a CDF plot draws quantiles; plots
drawn by a painter process are those drawn in the run's own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from twin_builders import job, run

from aitc.domain.org import Organisation, OrgKind
from aitc.twin import painter as painter_module
from aitc.twin.outcomes import COLUMNS
from aitc.twin.painter import Painter
from aitc.twin.plots import CDF_POINTS, cdf_points
from aitc.twin.runner import write_run

ORGS = (
    Organisation("a", "A", OrgKind.RESEARCH, 3.0),
    Organisation("b", "B", OrgKind.RESEARCH, 1.0),
)
JOBS = [
    job(3, gpus=16, runs=100),
    job(1, gpus=64, org="b"),  # never fits: rejected
    job(2, gpus=8, at=20, runs=50, org="b"),
]


def test_jobs_parquet_reads_back_as_the_runs_frame(tmp_path: Path) -> None:
    result = run(JOBS, orgs=ORGS)
    write_run(result, tmp_path, wall_s=0.5)
    back = pd.read_parquet(tmp_path / "jobs.parquet")
    pd.testing.assert_frame_equal(back, result.jobs, check_exact=True)
    assert list(back.columns) == list(COLUMNS)
    assert back["job_id"].tolist() == [1, 2, 3]  # sorted by job id
    assert back["state"].tolist() == ["rejected", "completed", "completed"]
    for label in ("tenant", "project", "member", "state"):
        assert isinstance(back[label].dtype, pd.CategoricalDtype)
        assert back[label].cat.codes.dtype == np.int8
    assert back["wait"].tolist()[1:] == [80.0, 0.0] and np.isnan(back["wait"][0])


def test_the_frame_is_built_on_first_use_and_kept() -> None:
    result = run(JOBS, orgs=ORGS)
    assert "jobs" not in vars(result)
    assert result.jobs is result.jobs
    assert result.jobs["jct"].tolist()[1:] == [130.0, 100.0]


def test_equal_runs_write_equal_bytes(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        write_run(run(JOBS, orgs=ORGS), tmp_path / folder, wall_s=0.5)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["jct_cdf.png", "jobs.parquet", "shares.png", "summary.json", "timeline.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_a_run_imports_neither_pandas_nor_pyplot(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from twin_builders import job, run\n"
        "from aitc.twin.runner import write_run\n"
        "write_run(run([job(1), job(2, at=5)]), Path(sys.argv[2]), wall_s=0.0)\n"
        "print(sorted(m for m in ('pandas', 'matplotlib.pyplot') if m in sys.modules))\n"
    )
    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", code, here, str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "jct_cdf.png").is_file()


def test_a_cdf_is_drawn_through_at_most_a_few_thousand_quantiles() -> None:
    values = np.random.default_rng(0).exponential(3600.0, 100_000)
    x, y = cdf_points(np.append(values, np.nan))  # NaN: a job that never finished
    assert x.size <= CDF_POINTS and y.size == x.size
    assert (x[0], x[-1]) == (values.min(), values.max())
    assert y[-1] == 1.0 and bool(np.all(np.diff(x) >= 0)) and bool(np.all(np.diff(y) > 0))
    ranks = np.searchsorted(np.sort(values), x, side="right")
    assert np.allclose(y, ranks / values.size)  # each point lies on the exact CDF


def test_a_few_values_are_drawn_every_one() -> None:
    x, y = cdf_points(np.array([3.0, 1.0, 2.0]))
    assert x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [1 / 3, 2 / 3, 1.0]


def test_plots_drawn_by_a_painter_are_the_plots_drawn_here(tmp_path: Path) -> None:
    result = run(JOBS, orgs=ORGS)
    write_run(result, tmp_path / "here", wall_s=0.5)
    with Painter() as painter:
        write_run(result, tmp_path / "there", wall_s=0.5, painter=painter)
    for name in ("jct_cdf.png", "shares.png", "timeline.png", "jobs.parquet", "summary.json"):
        here, there = (tmp_path / d / name for d in ("here", "there"))
        assert here.read_bytes() == there.read_bytes(), name


def test_plots_are_drawn_here_when_the_painter_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(painter_module, "_CHILD", "import sys; sys.exit(3)")
    with Painter() as painter:
        write_run(run(JOBS, orgs=ORGS), tmp_path, wall_s=0.5, painter=painter)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "jct_cdf.png",
        "shares.png",
        "timeline.png",
    ]


def test_a_painter_given_nothing_ends_with_its_block() -> None:
    with Painter() as painter:
        proc = painter._proc
    assert proc is not None and proc.returncode == 0


def test_joining_a_process_waits_for_its_exit_or_gives_up_after_the_timeout() -> None:
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert painter_module._join(slow, 0.05) is None  # still running: given up
        assert slow.poll() is None
    finally:
        slow.kill()
    assert painter_module._join(slow, 10.0) == -9  # killed: its status, once reaped
    quick = subprocess.Popen([sys.executable, "-c", "raise SystemExit(4)"])
    assert painter_module._join(quick, 10.0) == 4
    assert quick.returncode == 4


def test_the_job_table_holds_every_row_across_its_chunks() -> None:
    from aitc.twin.metrics import JobRow, JobTable

    table = JobTable()
    table.CHUNK = 3  # (moved into the columns every three rows)
    nan = float("nan")
    rows: list[JobRow] = [
        (i, f"t{i % 2}", "p", f"m{i % 3}", 1.0 * i, 10.0 * i, 10.0 * i + 1, 10.0 * i + 5, 4.0)
        + (i % 2, 1, 1, 1, 1.0, "completed")
        for i in (5, 3, 7, 1, 2, 6, 4)
    ]
    rows.append((8, "t0", "p", "m0", 2.0, 80.0, nan, nan, 3.0, 0, 0, 0, 0, nan, "rejected"))
    for n, row in enumerate(rows, 1):
        table.add(row)
        assert len(table) == n
    out = table.outcomes()
    assert len(out) == 8 and out["job_id"].tolist() == list(range(1, 9))
    assert out["submit"].tolist() == [10.0 * i for i in range(1, 9)]
    assert out["wait"].tolist()[:7] == [1.0] * 7 and out["jct"][0] == 5.0
    assert np.isnan(out["wait"][7]) and np.isnan(out["jct"][7])
    assert out.names["tenant"] == ("t1", "t0")  # interned in order of first appearance
    tenants = [out.names["tenant"][c] for c in out["tenant"]]
    assert tenants == [f"t{i % 2}" for i in range(1, 9)]
    assert [out.names["state"][c] for c in out["state"]] == ["completed"] * 7 + ["rejected"]
    assert out["preemptions"].tolist() == [i % 2 for i in range(1, 8)] + [0]

"""`aitc sim`: a real run on the first 2,000 Philly jobs, determinism, and bad flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
TRACE = ROOT / "../shared/traces/philly/philly_jobs.csv.gz"
needs_trace = pytest.mark.skipif(not TRACE.is_file(), reason="the Philly trace is not here")


def aitc_sim(out: Path, *flags: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    args = [
        str(Path(sys.executable).parent / "aitc"),
        "sim",
        "--ra",
        "dgx-h100-superpod",
        "--nodes",
        "64",
        "--trace",
        str(TRACE),
        "--limit",
        "2000",
        "--out",
        str(out),
        *flags,
    ]
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, COLUMNS="160")
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)


def summary_without_wall(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    data.pop("wall_s")
    return data


@needs_trace
def test_two_policies_on_2000_philly_jobs_write_results_and_compare(tmp_path: Path) -> None:
    done = aitc_sim(tmp_path / "a", "--policy", "fifo,backfill")
    assert done.returncode == 0, done.stderr
    assert "policies compared" in done.stdout and "backfill" in done.stdout
    for policy in ("fifo", "backfill"):
        folder = tmp_path / "a" / policy
        assert {p.name for p in folder.iterdir()} >= {
            "jobs.parquet",
            "summary.json",
            "timeline.png",
            "jct_cdf.png",
        }
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["policy"] == policy and summary["jobs_completed"] == 2000
        assert len(pd.read_parquet(folder / "jobs.parquet")) == 2000
    comparison = json.loads((tmp_path / "a" / "comparison.json").read_text())
    assert comparison["baseline"] == "fifo"
    assert comparison["policies"]["fifo"]["avg_jct_vs_first"] == 1.0
    assert (tmp_path / "a" / "jct_cdf.png").stat().st_size > 10_000

    # the same run in another process, with another string hash seed: identical summaries
    again = aitc_sim(tmp_path / "b", "--policy", "fifo,backfill", hash_seed="12345")
    assert again.returncode == 0, again.stderr
    for policy in ("fifo", "backfill"):
        first = tmp_path / "a" / policy / "summary.json"
        second = tmp_path / "b" / policy / "summary.json"
        assert summary_without_wall(first) == summary_without_wall(second)
        text = [p.read_text().splitlines() for p in (first, second)]
        assert [ln for ln in text[0] if "wall_s" not in ln] == [
            ln for ln in text[1] if "wall_s" not in ln
        ]


runner = CliRunner()


def sim(*flags: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sim", *flags])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("flags", "flag", "message"),
    [
        (["--trace", "t.csv"], "--lab", "exactly one of --lab FILE, --cluster FILE or --ra"),
        (["--ra", "dgx-h100-superpod", "--trace", "t.csv"], "--nodes", "--ra needs --nodes"),
        (
            ["--ra", "x", "--nodes", "2", "--trace", "t.csv", "--format", "csv"],
            "--map",
            "needs --map",
        ),
        (
            ["--ra", "x", "--nodes", "2", "--trace", "t.csv", "--map", "submit=a"],
            "--map",
            "needs gpus=COLUMN",
        ),
        (
            ["--ra", "x", "--nodes", "2", "--trace", "t.csv", "--format", "yaml"],
            "--format",
            "'yaml' is not one of",
        ),
        (
            ["--ra", "x", "--nodes", "2", "--trace", "t.csv", "--policy", "fifo,lottery"],
            "--policy",
            "unknown policy 'lottery'",
        ),
        (
            ["--ra", "x", "--nodes", "2", "--trace", "t.csv", "--limit", "0"],
            "--limit",
            "must be positive",
        ),
        (["--ra", "x", "--nodes", "2"], "--trace", "give --trace FILE"),
        (
            ["--ra", "x", "--nodes", "2", "--trace", "t.csv", "--placement", "random"],
            "--placement",
            "unknown placement 'random' (known: topology, first_fit, pool)",
        ),
        (["--cluster", "nowhere.yaml", "--trace", "t.csv"], "--cluster", "no such file"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    tmp_path: Path, flags: list[str], flag: str, message: str
) -> None:
    code, output = sim(*flags, "--out", str(tmp_path))
    assert code == 2
    flat = " ".join(output.replace("│", " ").split())
    assert flag in flat and message in flat


def test_a_missing_trace_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    code, output = sim(
        "--ra",
        "dgx-h100-superpod",
        "--nodes",
        "4",
        "--trace",
        str(tmp_path / "gone.csv.gz"),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 1
    assert "gone.csv.gz: no such trace file" in " ".join(output.split())


def test_an_unknown_reference_architecture_is_an_error(tmp_path: Path) -> None:
    code, output = sim(
        "--ra", "dgx-z9000", "--nodes", "4", "--trace", str(TRACE), "--out", str(tmp_path / "o")
    )
    assert code == 1 and "dgx-z9000" in output


TINY_LAB = """\
name: tiny-lab
cluster: {reference_architecture: dgx-h100-superpod, nodes: 4}
policy: {name: quota, params: {preempt_overhead_s: 30}}
organisations:
  - id: uni
    name: University
    kind: research
    share: 3
    quota: 16
    workload:
      jobs_per_day: 300
      gpu_mix: {1: 6, 2: 2, 8: 1}
      median_runtime_s: 1800
      runtime_sigma: 1.0
  - {id: school, name: School, kind: education, share: 1, quota: 8}
  - id: academy
    name: Workshop academy
    kind: education
    share: 1
    workload: {jobs_per_day: 0.001, gpu_mix: {1: 1}, median_runtime_s: 60}
courses:
  - {id: intro, name: Intro to GPUs, org: academy, seats: 8, mig_profile: 1g.10gb}
"""


def test_a_lab_generates_its_workload_with_reservations_and_its_policy(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(TINY_LAB)
    code, output = sim(
        "--lab", str(lab), "--days", "2", "--seed", "3", "--out", str(tmp_path / "o")
    )
    assert code == 0, output
    summary = json.loads((tmp_path / "o" / "quota" / "summary.json").read_text())
    assert summary["trace"] == "tiny-lab" and summary["jobs_completed"] > 300
    assert set(summary["per_tenant"]) == {"uni", "school", "academy"}
    jobs = pd.read_parquet(tmp_path / "o" / "quota" / "jobs.parquet")
    learners = jobs[jobs["member"].astype(str).str.startswith("intro-d0-seat")]
    # the session's seats are held for the academy: its learners start on arrival at 09:00
    assert len(learners) == 8 and (learners["wait"] == 0).all()
    assert (learners["start"] == 9 * 3600).all()


@needs_trace
def test_a_cluster_file_gives_the_cluster(tmp_path: Path) -> None:
    from aitc.arch.builder import build
    from aitc.arch.clusterfile import dump_cluster

    dump_cluster(build("dgx-h100-superpod", nodes=4).cluster, tmp_path / "rig.yaml")
    code, output = sim(
        "--cluster",
        str(tmp_path / "rig.yaml"),
        "--trace",
        str(TRACE),
        "--limit",
        "300",
        "--policy",
        "backfill",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0, output
    summary = json.loads((tmp_path / "o" / "backfill" / "summary.json").read_text())
    assert summary["cluster"]["gpus"] == 32
    assert summary["jobs_completed"] + summary["rejected_jobs"] == 300


def small_run(out: Path, *flags: str, cluster: tuple[str, ...] = ()) -> pd.DataFrame:
    """300 Philly jobs on 4 nodes (32 GPUs, 2 leaves; or ``cluster``): busy, so fragmented."""
    where = cluster or ("--ra", "dgx-h100-superpod", "--nodes", "4")
    code, output = sim(*where, "--trace", str(TRACE), "--limit", "300", "--out", str(out), *flags)
    assert code == 0, output
    return pd.read_parquet(next(out.glob("*/jobs.parquet")))


def spread_small_jobs(jobs: pd.DataFrame) -> int:
    """Jobs of at most one node's GPUs that ran on more than one node."""
    return int(((jobs["gpus"] <= 8) & (jobs["nodes"] > 1)).sum())


@needs_trace
def test_placement_pool_spreads_small_jobs_over_nodes_and_first_fit_never_does(
    tmp_path: Path,
) -> None:
    assert spread_small_jobs(small_run(tmp_path / "t", "--policy", "fifo")) == 0
    assert spread_small_jobs(small_run(tmp_path / "f", "--placement", "first_fit")) == 0
    assert spread_small_jobs(small_run(tmp_path / "p", "--placement", "pool")) > 0


@needs_trace
def test_a_labs_placement_holds_for_every_policy_the_twin_runs(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(TINY_LAB.replace("preempt_overhead_s: 30", "placement: pool"))
    flags = ("--format", "philly", "--policy", "fifo")  # the lab's policy is quota
    jobs = small_run(tmp_path / "o", *flags, cluster=("--lab", str(lab)))
    assert spread_small_jobs(jobs) > 0


@needs_trace
def test_oracle_limits_let_sjf_order_by_true_runtime_and_kill_nobody(tmp_path: Path) -> None:
    asked = small_run(tmp_path / "a", "--policy", "sjf")
    oracle = small_run(tmp_path / "o", "--policy", "sjf", "--oracle")
    assert (oracle["state"] == "completed").all()
    assert oracle["jct"].mean() < asked["jct"].mean()

"""The recorded history as a sweep workload: one more run of every point beside the seeds;
on the recorded size and policy it is the replay of what happened; alone (no seeds) it
sizes the cluster; ``aitc plan LAB --history DIR`` reads it from the store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from labs import HISTORY_LAB, write_lab
from recorded import JOBS, record
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.control.history import open_engine, read_history
from aitc.plan import sweep
from aitc.plan.configs import Config
from aitc.plan.history import History
from aitc.plan.replay import replay
from aitc.plan.runs import HISTORY

H100 = Config("dgx-h100-superpod")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    folder = tmp_path_factory.mktemp("recorded")
    _, t0 = record(folder, "fifo")
    return folder, t0


@pytest.fixture(scope="module")
def history(store: tuple[Path, float]) -> History:
    folder, t0 = store
    return read_history(open_engine(f"sqlite:///{folder / 'aitc.db'}"), since=t0, until=t0 + 600)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lab(tmp_path_factory.mktemp("lab"), HISTORY_LAB)


def test_the_history_is_one_more_run_of_every_point(lab: Path, history: History) -> None:
    result = sweep(
        lab, ladders={H100: (1, 2)}, policies=["fifo"], seeds=1, days=1, history=history, workers=1
    )
    assert result.points
    for point in result.points:
        assert [r.task.seed for r in point.records] == [0, HISTORY]
        recorded = point.records[-1]
        assert recorded.submit.size == len(JOBS) and recorded.window_s == pytest.approx(600.0)
        assert set(recorded.tenants) == {"uni", "acme", "globex"}


def test_on_the_recorded_size_the_history_run_is_the_replay(lab: Path, history: History) -> None:
    result = sweep(
        lab, ladders={H100: (1,)}, policies=["fifo"], seeds=0, days=1, history=history, workers=1
    )
    assert history.cluster is not None
    live = replay(history, policy="fifo", live_policy="fifo", cluster=history.cluster).live
    point = result.point("fifo", 1)
    assert point is not None
    twin_waits = np.sort(point.records[0].wait)
    assert np.allclose(twin_waits, np.sort(live["wait"].to_numpy(dtype=float)))


def test_the_history_alone_sizes_the_cluster(lab: Path, history: History) -> None:
    result = sweep(
        lab,
        ladders={H100: (1, 2, 3, 4)},
        policies=["fifo"],
        seeds=0,
        days=1,
        history=history,
        workers=2,  # the history reaches the worker processes
        grid=True,
    )
    passed = [p.service_met for p in result.points]
    assert passed == sorted(passed) and not passed[0] and passed[-1]
    assert result.choice is not None and result.choice.nodes > 1


def test_aitc_plan_reads_the_history_from_the_store(
    lab: Path, store: tuple[Path, float], tmp_path: Path
) -> None:
    folder, _ = store
    out = tmp_path / "out"
    args = ["plan", str(lab), "--history", str(folder), "--since", "3650d", "--seeds", "0"]
    args += ["--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"the recorded history ({len(JOBS)} jobs)" in result.output
    doc = json.loads((out / "plan.json").read_text())
    assert doc["history"]["jobs"] == len(JOBS) and doc["history"]["left_out"] == 0
    assert doc["seeds"] == 0 and doc["choice"]["nodes"] >= 1


def test_no_seeds_without_a_history_is_refused(lab: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(lab), "--seeds", "0"])
    assert result.exit_code == 2
    assert "aitc: --seeds: must be at least 1 (0 only with --history), got 0" in result.output


def test_a_history_that_is_not_a_store_names_the_flag(lab: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(lab), "--history", str(tmp_path)])
    assert result.exit_code == 2
    assert "aitc: --history: no aitc.db in" in result.output

"""What-if replay: a history recorded by the controller (FakeExecutor, simulated clock)
replays in the twin with the same start order under the same policy, within a minute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorded import JOBS, record
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.control.history import open_engine, read_history
from aitc.plan.history import History
from aitc.plan.replay import replay


@pytest.fixture(scope="module", params=["fifo", "fairshare"])
def recorded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> History:
    url, t0 = record(tmp_path_factory.mktemp(request.param), request.param)
    return read_history(open_engine(url), since=t0 - 1, until=t0 + 86400)


def test_the_history_names_the_live_policy_and_every_job(recorded: History) -> None:
    assert len(recorded.jobs) == len(JOBS)
    assert recorded.live_policy in ("fifo", "fairshare")
    assert recorded.cluster is not None and recorded.cluster.total_gpus == 8
    assert all(j.start is not None and j.runtime >= 1 for j in recorded.jobs)


def test_the_replay_under_the_live_policy_keeps_the_start_order(recorded: History) -> None:
    assert recorded.cluster is not None and recorded.live_policy is not None
    r = replay(
        recorded, policy="backfill", live_policy=recorded.live_policy, cluster=recorded.cluster
    )
    f = r.fidelity
    assert f.jobs == len(JOBS)
    assert f.same_start_order
    assert f.within_1_min == 1.0 and f.median_abs_error_s is not None
    assert f.median_abs_error_s <= 5.0


def test_the_what_if_compares_every_organisation(recorded: History) -> None:
    assert recorded.cluster is not None
    r = replay(recorded, policy="backfill", live_policy="fifo", cluster=recorded.cluster)
    assert [row["organisation"] for row in r.per_org] == ["acme", "globex", "uni"]
    assert sum(row["jobs"] for row in r.per_org) == len(JOBS)


def test_aitc_plan_replay_prints_the_fidelity(tmp_path: Path) -> None:
    url, t0 = record(tmp_path, "fifo")
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "replay",
            "--db",
            url,
            "--since",
            "3650d",
            "--policy",
            "backfill",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fidelity of the live replay" in result.output and "the same" in result.output
    doc = json.loads((tmp_path / "out" / "replay.json").read_text())
    assert doc["live_policy"] == "fifo" and doc["fidelity"]["same_start_order"] is True

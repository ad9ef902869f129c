"""What-if replay of a short history run on real processes: ``aitc serve`` (local executor,
8 virtual GPUs, wall clock) runs jobs that queue behind each other; ``aitc plan replay``
replays them from its state directory with the fidelity figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.append(str(Path(__file__).resolve().parents[1] / "control"))

from server_proc import LAB, ServerProcess, wait_until  # noqa: E402

from aitc.cli.main import app  # noqa: E402

# (GPUs, seconds): each 8-GPU job holds the node, so the next one waits for it
JOBS = [(8, 2), (8, 1), (4, 1), (4, 2), (8, 1)]


def test_a_history_run_on_real_processes_replays_with_its_fidelity(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "var", gpus=8)
    server.start()
    try:
        with server.client() as c:
            ids = []
            for gpus, seconds in JOBS:
                body = {"command": ["sleep", str(seconds)], "gpus": gpus, "project": "vision"}
                r = c.post("/jobs", json=body)
                assert r.status_code == 201, r.text
                ids.append(int(r.json()["id"]))
            for job_id in ids:
                wait_until(
                    lambda j=job_id: c.get(f"/jobs/{j}").json()["state"],
                    lambda state: state == "completed",
                    timeout=60,
                )
    finally:
        server.kill()
    out = tmp_path / "out"
    args = ["plan", "replay", "--state-dir", str(tmp_path / "var"), "--since", "1h"]
    args += ["--policy", "backfill", "--lab", str(LAB), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"fidelity of the live replay over {len(JOBS)} started jobs" in result.output
    doc = json.loads((out / "replay.json").read_text())
    fidelity = doc["fidelity"]
    assert doc["live_policy"] == "fairshare" and fidelity["jobs"] == len(JOBS)
    assert fidelity["same_start_order"] is True
    assert fidelity["within_10_min"] == 1.0 and fidelity["median_abs_error_s"] < 60

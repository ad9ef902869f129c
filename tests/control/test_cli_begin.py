"""A begin time against a real `aitc serve` (8 virtual GPUs), as a Slurm user gives it:
`aitc submit --begin`, `#SBATCH --begin=`, `aitc update --begin` and `StartTime=`; the job
waits with the reason BeginTime while GPUs are free, `aitc show` has its begin row, and a
bad time exits 2 naming the flag, the word or the script's line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from server_proc import ServerProcess, wait_until
from test_cli_slurm_habits import aitc, ended, job, submitted


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("begin") / "var")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def begin_at(server: ServerProcess, job_id: int) -> float:
    return datetime.fromisoformat(job(server, job_id)["begin_at"]).timestamp()


def test_a_job_submitted_to_begin_later_waits_saying_why(server: ServerProcess) -> None:
    before = time.time()
    code, out, err = aitc(server, "submit", "--begin", "now+1hour", "--", "true")
    assert code == 0, err
    j = submitted(out)
    assert before + 3600 <= begin_at(server, j) <= time.time() + 3600
    shown = wait_until(lambda: job(server, j), lambda x: x["pending_reasons"], 10)
    assert shown["state"] == "pending"
    assert [r["code"] for r in shown["pending_reasons"]] == ["begin_time"]
    code, out, _ = aitc(server, "queue", "--state", "pending")
    assert code == 0 and "may not start before its begin time" in out
    code, out, _ = aitc(server, "show", str(j))
    assert code == 0 and "begin" in out.split("signal", 1)[0]
    code, out, _ = aitc(server, "cancel", str(j))
    assert code == 0


def test_a_scripts_begin_line_sets_it_and_a_bad_one_names_its_line(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "later.sh"
    good.write_text("#!/bin/sh\n#SBATCH --begin=2099-01-01T09:00\n#SBATCH -H\ntrue\n")
    code, out, err = aitc(server, "submit", "later.sh")
    assert code == 0, err
    assert begin_at(server, submitted(out)) == datetime(2099, 1, 1, 9, 0).timestamp()
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\n#SBATCH -b soon\ntrue\n")
    code, _, err = aitc(server, "submit", "bad.sh")
    assert code == 2 and err.startswith("aitc: bad.sh line 2: 'soon' is not a begin time")
    code, _, err = aitc(server, "submit", "--begin", "25:00", "--", "true")
    assert code == 2 and err.startswith("aitc: --begin: '25:00' is not a begin time")


def test_update_moves_the_begin_time_and_starttime_now_starts_the_job(
    server: ServerProcess,
) -> None:
    code, out, err = aitc(server, "submit", "--begin", "tomorrow", "--", "true")
    assert code == 0, err
    j = submitted(out)
    code, out, err = aitc(server, "update", str(j), "--begin", "2099-01-01")
    assert code == 0, err
    assert out.startswith(f"job {j}: begin ") and out.strip().endswith("-> 2099-01-01 00:00:00")
    code, _, err = aitc(server, "update", str(j), "StartTime=nonsense")
    assert code == 2 and err.startswith("aitc: StartTime: 'nonsense' is not a begin time")
    code, out, err = aitc(server, "update", f"JobId={j}", "StartTime=now")
    assert code == 0, err
    assert ended(server, j)["state"] == "completed"

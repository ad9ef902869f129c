"""`aitc serve --executor slurm` as a real process against the Slurm test cluster."""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slurm_helpers import SlurmCluster

pytestmark = pytest.mark.slurm  # runs on the Slurm test cluster of conftest.py

ROOT = Path(__file__).resolve().parents[2]
AITC = Path(sys.executable).parent / "aitc"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(slurm: SlurmCluster, tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    """The server's HTTP client (admin token set) and its output so far.

    The admin's jobs run as the server's own user (root), as ``aitc serve`` sets up; members'
    jobs through Slurm are tested in test_slurm_controller.py and
    tests/security/test_slurm_isolation.py.
    """
    port = _free_port()
    log = tmp_path / "serve.out"
    state = tmp_path / "var"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(AITC),
                "serve",
                "--lab",
                str(ROOT / "examples/joint-lab.yaml"),
                "--executor",
                "slurm",
                "--executor-option",
                f"slurm_conf={slurm.env['SLURM_CONF']}",
                "--state-dir",
                str(state),
                "--port",
                str(port),
                "--tick",
                "0.2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**slurm.env, "HOME": str(tmp_path)},
        )
    try:
        token = _token(log, proc)
        with sqlite3.connect(state / "aitc.db") as db:
            admin = db.execute("SELECT unix_user FROM members WHERE id = 'admin'").fetchone()
        assert admin == ("root",)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield client, log.read_text()
    finally:
        proc.terminate()
        proc.wait(15)


def _token(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = re.search(r"admin token \(shown once, keep it\): (\S+)", log.read_text())
        if m:
            return m.group(1)
        assert proc.poll() is None, f"aitc serve exited: {log.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"aitc serve printed no token: {log.read_text()}")


def _wait_job(client: httpx.Client, job_id: int, state: str) -> dict[str, object]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}")
        if job.status_code == 200 and job.json()["state"] == state:
            return dict(job.json())
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} not {state}: {client.get(f'/jobs/{job_id}').text[-600:]}")


def test_aitc_serve_runs_a_gang_job_on_one_leaf_through_slurm(
    served: tuple[httpx.Client, str],
) -> None:
    client, banner = served
    assert "executor: slurm; nodes: node01 (8x H100-80GB)" in banner
    made = client.post(
        "/jobs",
        json={
            "command": ["bash", "-c", 'echo "$SLURMD_NODENAME $CUDA_VISIBLE_DEVICES"'],
            "project": "frontier-llm",
            "gpus": 16,
            "nodes": 2,
        },
    )
    assert made.status_code in (200, 201), made.text
    job = _wait_job(client, made.json()["id"], "completed")
    nodes = {a["node"] for a in job["placement"]}  # type: ignore[union-attr]
    assert nodes in ({"node01", "node02"}, {"node03", "node04"})
    logs = client.get(f"/jobs/{job['id']}/logs").text
    assert sorted(logs.splitlines()) == [f"{n} 0,1,2,3,4,5,6,7" for n in sorted(nodes)]


def test_aitc_serve_keeps_serving_while_slurmctld_is_down(
    served: tuple[httpx.Client, str], slurm: SlurmCluster, tmp_path: Path
) -> None:
    client, _ = served
    slurm.rig.stop_controller()
    made = client.post("/jobs", json={"command": ["true"], "project": "frontier-llm", "gpus": 8})
    assert made.status_code in (200, 201), made.text
    log = tmp_path / "serve.out"
    deadline = time.monotonic() + 30
    while "scontrol ping" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "SlurmError" in log.read_text() and "scontrol ping" in log.read_text()
    assert client.get("/jobs").status_code == 200
    assert client.get(f"/jobs/{made.json()['id']}").json()["state"] == "pending"
    slurm.rig.start_controller()
    _wait_job(client, made.json()["id"], "completed")  # LOGCHECK


def test_the_engine_holds_an_array_for_its_dependency_and_slurm_runs_each_task(
    served: tuple[httpx.Client, str],
) -> None:
    """The engine decides when a dependent job may start (Slurm's own --dependency is not
    used): the array's tasks reach Slurm only once their job completed, and a job whose
    dependency can never hold is cancelled without ever reaching Slurm."""
    client, _ = served
    body = {"project": "frontier-llm", "gpus": 8}
    first = client.post("/jobs", json={**body, "command": ["bash", "-c", "sleep 2"]}).json()
    failing = client.post("/jobs", json={**body, "command": ["bash", "-c", "exit 4"]}).json()
    array = client.post(
        "/jobs",
        json={
            **body,
            "command": ["bash", "-c", 'echo "task $SLURM_ARRAY_TASK_ID on $SLURMD_NODENAME"'],
            "array": "0-2",
            "dependency": f"afterok:{first['id']}",
        },
    ).json()
    never = client.post(
        "/jobs", json={**body, "command": ["true"], "dependency": f"afterok:{failing['id']}"}
    ).json()
    done = _wait_job(client, first["id"], "completed")
    tasks = [_wait_job(client, array["id"] + t, "completed") for t in range(3)]
    assert all(str(t["started_at"]) >= str(done["ended_at"]) for t in tasks)
    logs = [client.get(f"/jobs/{t['id']}/logs").text.split() for t in tasks]
    assert sorted(line[:3] for line in logs) == [["task", str(t), "on"] for t in range(3)]
    assert all(line[3].startswith("node0") for line in logs)  # SLURMD_NODENAME: Slurm ran it
    cancelled = _wait_job(client, never["id"], "cancelled")
    assert str(cancelled["cause"]).startswith("DependencyNeverSatisfied: ")
    assert cancelled["started_at"] is None and cancelled["attempt"] == 0


def test_aitc_run_through_slurm_follows_the_output_and_passes_the_exit_code_on(
    served: tuple[httpx.Client, str],
) -> None:
    """The Slurm executor relays no terminal: `aitc run` waits, follows the job's output as
    `aitc logs -f` does (no input), and exits with the job's code."""
    client, _ = served
    url = str(client.base_url).removesuffix("/").removesuffix("/api/v1")
    token = client.headers["Authorization"].split()[1]
    # long enough that the client sees it running (a job that ended first is only printed)
    script = 'sleep 5; echo "on $SLURMD_NODENAME"; echo to-err >&2; exit 5'
    done = subprocess.run(
        [str(AITC), "run", "--project", "frontier-llm", "--", "bash", "-c", script],
        capture_output=True,
        timeout=90,
        env={
            "AITC_URL": url,
            "AITC_TOKEN": token,
            "XDG_CONFIG_HOME": "/-",
            "PATH": "/usr/bin:/bin",
        },
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 5, done.stderr
    assert done.stdout.decode().startswith("on node0")
    err = done.stderr.decode()
    assert "relays no terminal: following its output" in err and "to-err" in err

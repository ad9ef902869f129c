"""End to end: the API, the controller and real processes on 8 virtual GPUs, on SQLite and on
PostgreSQL. Jobs print the CUDA_VISIBLE_DEVICES they got; the test checks the placement from
inside them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_until


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "var", db_url=db_url)
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()
        _kill_leftovers(tmp_path / "var")


def _kill_leftovers(state: Path) -> None:
    """Stop any job a failed test left running (by the pids in its attempt records)."""
    import json
    import os
    import signal

    for child in state.glob("local/attempts/*/child.json"):
        with contextlib.suppress(ProcessLookupError, ValueError, KeyError):
            os.killpg(json.loads(child.read_text())["pid"], signal.SIGKILL)


def waiting_on(flag: Path, code: int = 0) -> list[str]:
    """A job that prints its GPUs, then waits until ``flag`` exists and exits with ``code``."""
    script = (
        f'echo "gpus=$CUDA_VISIBLE_DEVICES"; '
        f"while [ ! -e {flag} ]; do sleep 0.02; done; exit {code}"
    )
    return ["sh", "-c", script]


def submit(c: httpx.Client, command: list[str], gpus: int, **extra: Any) -> int:
    r = c.post("/jobs", json={"command": command, "gpus": gpus, "project": "vision", **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def job(c: httpx.Client, job_id: int) -> dict[str, Any]:
    return dict(c.get(f"/jobs/{job_id}").json())


def wait_state(c: httpx.Client, job_id: int, *states: str, timeout: float = 30) -> dict[str, Any]:
    return dict(wait_until(lambda: job(c, job_id), lambda j: j["state"] in states, timeout))


def gpus_seen(c: httpx.Client, job_id: int) -> set[int]:
    out = wait_until(lambda: c.get(f"/jobs/{job_id}/logs").text, lambda t: "gpus=" in t)
    return {int(g) for g in out.split("gpus=", 1)[1].split()[0].split(",")}


def test_jobs_of_8_4_and_4_gpus_run_in_turn_on_disjoint_gpus(
    server: ServerProcess, tmp_path: Path
) -> None:
    flags = [tmp_path / f"release{i}" for i in range(3)]
    with server.client() as c:
        big = submit(c, waiting_on(flags[0]), 8)
        wait_state(c, big, "running")
        a, b = submit(c, waiting_on(flags[1]), 4), submit(c, waiting_on(flags[2], code=3), 4)
        for waiting in (a, b):
            shown = wait_until(lambda w=waiting: job(c, w), lambda j: j["pending_reasons"])
            assert shown["state"] == "pending"
            assert any(r["code"] == "not_enough_gpus" for r in shown["pending_reasons"])
        assert gpus_seen(c, big) == set(range(8))
        flags[0].touch()
        done = wait_state(c, big, "completed")
        assert done["exit_code"] == 0
        wait_state(c, a, "running")
        wait_state(c, b, "running")
        seen_a, seen_b = gpus_seen(c, a), gpus_seen(c, b)
        assert len(seen_a) == len(seen_b) == 4 and not seen_a & seen_b
        flags[1].touch()
        flags[2].touch()
        assert wait_state(c, a, "completed")["exit_code"] == 0
        failed = wait_state(c, b, "failed")
        assert (failed["exit_code"], failed["cause"]) == (3, "exited with code 3")
        events = [e["to_state"] for e in c.get(f"/jobs/{b}/events").json()["data"]]
        assert events == ["pending", "starting", "running", "failed"]


def test_a_job_over_its_time_limit_is_killed_and_marked_timeout(server: ServerProcess) -> None:
    with server.client() as c:
        slow = submit(c, ["sh", "-c", "echo started; sleep 60"], 1, time_limit=1)
        ended = wait_state(c, slow, "timeout", "failed", "completed")
        assert ended["state"] == "timeout"
        assert "time limit of 1 s" in ended["cause"]
        assert c.get(f"/jobs/{slow}/logs").text == "started\n"


def test_cancel_works_on_running_and_on_pending_jobs(server: ServerProcess, tmp_path: Path) -> None:
    marker = tmp_path / "pending-ran"
    with server.client() as c:
        running = submit(c, ["sh", "-c", "sleep 60"], 8)
        wait_state(c, running, "running")
        pending = submit(c, ["sh", "-c", f"touch {marker}"], 8)
        assert c.post(f"/jobs/{pending}/cancel").status_code == 200
        assert job(c, pending)["state"] == "cancelled"
        assert c.post(f"/jobs/{running}/cancel").status_code == 200
        stopped = wait_state(c, running, "cancelled", "failed", "completed")
        assert stopped["state"] == "cancelled"
        assert stopped["cause"].startswith("cancel requested by admin")
        assert not marker.exists()


def test_sigterm_stops_the_server_not_its_jobs_which_the_next_start_adopts(
    server: ServerProcess, tmp_path: Path
) -> None:
    import signal

    flag = tmp_path / "go"
    with server.client() as c:
        job_id = submit(c, waiting_on(flag, code=5), 2)
        wait_state(c, job_id, "running")
    server.kill(signal.SIGTERM)
    flag.touch()
    server.start()
    with server.client() as c:
        ended = wait_state(c, job_id, "failed", "completed")
        assert (ended["exit_code"], ended["cause"]) == (5, "exited with code 5")
        events = [e["to_state"] for e in c.get(f"/jobs/{job_id}/events").json()["data"]]
        assert events == ["pending", "starting", "running", "failed"]


def test_the_client_config_is_written_once_and_only_for_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat
    import tomllib

    from aitc.control.serve import write_client_config

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = write_client_config("http://127.0.0.1:8600", "aitc_secret")
    assert path == tmp_path / "aitc" / "config.toml"
    assert tomllib.loads(path.read_text()) == {
        "url": "http://127.0.0.1:8600",
        "token": "aitc_secret",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert write_client_config("http://elsewhere", "other") is None
    assert "aitc_secret" in path.read_text()


def test_a_mig_job_sees_the_uuid_of_its_slice(server: ServerProcess) -> None:
    with server.client() as c:
        r = c.post(
            "/jobs",
            json={
                "command": ["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"],
                "mig": "1g.10gb",
                "project": "vision",
            },
        )
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        done = wait_state(c, job_id, "completed", "failed")
        assert done["state"] == "completed", done["cause"]
        (alloc,) = done["placement"]
        assert alloc["mig"].split(":")[1] == "1g.10gb"  # "gpu:profile:start"
        assert c.get(f"/jobs/{job_id}/logs").text.startswith("MIG-virtual-")

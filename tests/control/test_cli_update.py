"""`aitc update` against a real `aitc serve` (8 virtual GPUs on one node): aitc's flags and
Slurm's `scontrol update` words change a pending job, arrays change task by task, and errors
name the flag or the word that was wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from server_proc import ServerProcess, wait_until
from typer.testing import CliRunner

from aitc.cli.main import app

RUNNING = ("starting", "running")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("update") / "var")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def aitc(server: ServerProcess, *args: str) -> tuple[int, str, str]:
    env = {"AITC_URL": server.url, "AITC_TOKEN": server.token or "", "XDG_CONFIG_HOME": "/-"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def held(server: ServerProcess, *flags: str) -> int:
    code, out, err = aitc(server, "submit", "--hold", *flags, "--", "true")
    assert code == 0, err
    return int(out.split("job ", 1)[1].split()[0].rstrip(":"))


def job(server: ServerProcess, job_id: int) -> dict[str, Any]:
    code, out, err = aitc(server, "show", "--json", str(job_id))
    assert code == 0, err
    return dict(json.loads(out))


def test_flags_change_a_pending_job_and_say_what_changed(server: ServerProcess) -> None:
    j = held(server, "--time", "2:00:00", "--name", "long")
    code, out, err = aitc(server, "update", str(j), "--time", "1:00:00", "-J", "short", "-g", "2")
    assert code == 0, err
    assert out.strip() == (
        f"job {j}: time limit 02:00:00 -> 01:00:00; name long -> short; gpus 1 -> 2"
    )
    shown = job(server, j)
    assert (shown["time_limit"], shown["name"], shown["gpus"], shown["held"]) == (
        3600.0,
        "short",
        2,
        True,
    )


def test_slurms_words_change_the_same_fields(server: ServerProcess) -> None:
    j = held(server, "--time", "10")
    code, out, err = aitc(server, "update", f"JobId={j}", "timelimit=5", "JobName=x", "Gres=gpu:4")
    assert code == 0, err
    assert out.strip() == f"job {j}: time limit 00:10:00 -> 00:05:00; name true -> x; gpus 1 -> 4"
    first = held(server)
    code, out, err = aitc(server, "update", str(j), f"Dependency=afterok:{first}")
    assert code == 0, err
    assert out.strip() == f"job {j}: dependency none -> afterok:{first}"
    code, out, _ = aitc(server, "update", str(j), "--dependency", "")
    assert code == 0 and f"dependency afterok:{first} -> none" in out


def test_an_unknown_word_exits_2_naming_it_and_the_known_ones(server: ServerProcess) -> None:
    code, _, err = aitc(server, "update", "1", "Colour=blue")
    assert code == 2
    assert err.startswith("aitc: Colour: unknown key;") and "TimeLimit" in err and "NumNodes" in err
    code, _, err = aitc(server, "update", "1", "Priority=5")
    assert code == 2 and "keep the priority they were submitted with" in err
    code, _, err = aitc(server, "update", "1")
    assert code == 2 and "give something to change" in err


def test_a_refused_change_names_the_flag_or_word_and_changes_nothing(
    server: ServerProcess,
) -> None:
    j = held(server, "--time", "10")
    code, _, err = aitc(server, "update", str(j), "--time", "5", "--gpus", "9")
    assert code == 2 and err.startswith("aitc: --gpus: ")
    code, _, err = aitc(server, "update", str(j), "Gres=gpu:9")
    assert code == 2 and err.startswith("aitc: Gres: ")
    code, _, err = aitc(server, "update", str(j), "TimeLimit=nonsense")
    assert code == 2 and err.startswith("aitc: TimeLimit: ")
    assert job(server, j)["time_limit"] == 600.0


def test_an_arrays_number_changes_every_pending_task(server: ServerProcess) -> None:
    array = held(server, "--array", "0-2%1", "--time", "10")
    code, out, err = aitc(server, "update", str(array), "--time", "5", "ArrayTaskThrottle=2")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0] == (
        f"job {array} ({array}_0): time limit 00:10:00 -> 00:05:00; array throttle 1 -> 2"
    )
    code, out, err = aitc(server, "update", f"{array}_1", "--name", "one")
    assert code == 0, err
    assert out.strip() == f"job {array + 1} ({array}_1): name true -> one"


def test_a_job_that_ended_cannot_be_changed(server: ServerProcess) -> None:
    j = held(server)
    aitc(server, "cancel", str(j))
    code, _, err = aitc(server, "update", str(j), "--time", "5")
    assert code == 1 and err.startswith(f"aitc: job {j}: ") and "only a pending job" in err


def test_a_running_jobs_lowered_time_limit_ends_it_as_a_timeout(server: ServerProcess) -> None:
    code, out, err = aitc(server, "submit", "--time", "10:00", "--", "sleep", "60")
    assert code == 0, err
    j = int(out.split("job ", 1)[1].split()[0].rstrip(":"))
    wait_until(lambda: job(server, j), lambda shown: shown["state"] == "running", 30)
    code, out, err = aitc(server, "update", str(j), "TimeLimit=0:00:03")
    assert code == 0, err
    assert out.strip() == f"job {j}: time limit 00:10:00 -> 00:00:03 (once its executor takes it)"
    shown = wait_until(lambda: job(server, j), lambda s: s["state"] not in RUNNING, 30)
    assert shown["state"] == "timeout"
    with server.client() as client:
        events = client.get(f"/jobs/{j}/events").json()["data"]
    causes = [e["cause"] for e in events]
    assert "time limit 00:10:00 -> 00:00:03 by admin" in causes
    assert "time limit 00:00:03 applied" in causes
    code, _, err = aitc(server, "update", str(j), "--time", "5")
    assert code == 1 and "only a pending job" in err

"""A Slurm user's habits through the CLI against a real `aitc serve` (8 virtual GPUs, the
example lab): the admin's first job, --time in Slurm's formats, the working directory and
environment of the submitter, arrays, hold/release, history, nodes, queue filters, --json, and
errors as `aitc: <what>: <why>`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_proc import ServerProcess, wait_until
from typer.testing import CliRunner

from aitc.cli.main import app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("habits") / "var")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def aitc(server: ServerProcess, *args: str, **env: str) -> tuple[int, str, str]:
    base = {"AITC_URL": server.url, "AITC_TOKEN": server.token or "", "XDG_CONFIG_HOME": "/-"}
    result = CliRunner().invoke(app, list(args), env={**base, **env})
    return result.exit_code, result.stdout, result.stderr


def submitted(out: str) -> int:
    return int(out.split("job ", 1)[1].split()[0].rstrip(":"))


def job(server: ServerProcess, job_id: int) -> dict[str, Any]:
    code, out, err = aitc(server, "show", "--json", str(job_id))
    assert code == 0, err
    return dict(json.loads(out))


def ended(server: ServerProcess, job_id: int) -> dict[str, Any]:
    done = ("completed", "failed", "cancelled", "timeout")
    return dict(wait_until(lambda: job(server, job_id), lambda j: j["state"] in done, 30))


def test_the_admins_first_job_needs_no_project(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "submit", "--gpus", "4", "--", "true")
    assert code == 0 and out.strip().endswith("to project operators")
    assert ended(server, submitted(out))["state"] == "completed"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 5400), ("1-02:00:00", 93600), ("02:00:00", 7200), ("2h", 7200)]
)
def test_time_takes_slurms_formats(server: ServerProcess, text: str, seconds: float) -> None:
    code, out, _ = aitc(server, "submit", "--hold", "--time", text, "--", "true")
    assert code == 0
    shown = job(server, submitted(out))
    assert shown["time_limit"] == seconds
    aitc(server, "cancel", str(shown["id"]))


def test_the_job_runs_where_it_was_submitted(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, _ = aitc(server, "submit", "--", "pwd")
    here = submitted(out)
    code, out, _ = aitc(server, "submit", "--chdir", "sub", "--", "pwd")
    there = submitted(out)
    for job_id, path in ((here, tmp_path), (there, tmp_path / "sub")):
        assert ended(server, job_id)["workdir"] == str(path)
        assert aitc(server, "logs", str(job_id))[1].strip() == str(path)
    code, out, _ = aitc(server, "show", str(here))
    assert "working dir" in out and str(tmp_path) in out and "time limit" in out


def test_export_sends_the_submitters_environment_minus_the_deny_list(server: ServerProcess) -> None:
    env = {"FOO": "bar", "PWD": "/x", "SSH_AUTH_SOCK": "/s"}
    code, out, _ = aitc(server, "submit", "--hold", "--", "env", **env)
    shown = job(server, submitted(out))
    assert shown["env"]["FOO"] == "bar"
    assert not {"AITC_TOKEN", "AITC_URL", "PWD", "SSH_AUTH_SOCK"} & set(shown["env"])
    code, out, _ = aitc(server, "submit", "--hold", "--export", "NONE", "--", "env", **env)
    assert job(server, submitted(out))["env"] == {}
    code, out, _ = aitc(server, "submit", "--hold", "--export", "FOO,X=1", "--", "env", **env)
    assert job(server, submitted(out))["env"] == {"FOO": "bar", "X": "1"}
    code, _, err = aitc(server, "submit", "--export", "1X", "--", "env")
    assert code == 2 and err.startswith("aitc: --export: ")


def test_an_array_runs_each_task_with_its_id(server: ServerProcess) -> None:
    script = "echo $AITC_ARRAY_TASK_ID $SLURM_ARRAY_TASK_ID $AITC_ARRAY_JOB_ID"
    code, out, _ = aitc(server, "submit", "--array", "0-3%2", "--", "sh", "-c", script)
    assert code == 0 and "4 tasks, at most 2 running at once" in out
    array_id = submitted(out)
    ids = wait_until(
        lambda: [
            j["id"]
            for j in json.loads(aitc(server, "history", "--json", "--limit", "1000")[1])["data"]
            if j["array_job_id"] == array_id
        ],
        lambda found: len(found) == 4,
    )
    outputs = sorted(aitc(server, "logs", str(i))[1].split() for i in ids)
    assert outputs == [[str(t), str(t), str(array_id)] for t in range(4)]


def test_hold_and_release(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "submit", "--hold", "--name", "later", "--", "true")
    job_id = submitted(out)
    assert "(held)" in out
    code, out, _ = aitc(server, "queue", "--state", "pending")
    assert "pending (held)" in out and "held by admin" in out
    assert job(server, job_id)["state"] == "pending"
    code, out, _ = aitc(server, "release", str(job_id))
    assert (code, out.strip()) == (0, f"job {job_id}: pending")
    assert ended(server, job_id)["state"] == "completed"
    code, _, err = aitc(server, "hold", str(job_id))
    assert code == 1 and err.startswith(
        f"aitc: job {job_id}: it is completed: only a pending job can be held"
    )


def test_history_filters_and_formats(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "submit", "--name", "done-job", "--", "true")
    job_id = submitted(out)
    ended(server, job_id)
    code, out, _ = aitc(
        server, "history", "--since", "1h", "--state", "completed", "--member", "admin",
        "--project", "operators", "--format", "JobID,JobName,State,ExitCode,Elapsed",
    )  # fmt: skip
    assert code == 0 and out.splitlines()[1].split() == ["id", "name", "state", "exit", "elapsed"]
    assert any(
        line.split()[:4] == [str(job_id), "done-job", "completed", "0"] for line in out.splitlines()
    )
    code, out, _ = aitc(server, "history", "--state", "failed", "--json")
    assert all(j["state"] == "failed" for j in json.loads(out)["data"])
    code, _, err = aitc(server, "history", "--since", "yesterday")
    assert code == 2 and err.startswith("aitc: --since: ")


def test_nodes_and_queue_filters(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "nodes")
    assert code == 0 and "node0" in out and "/8" in out and "H100-80GB" in out
    assert json.loads(aitc(server, "nodes", "--json")[1])["data"][0]["gpus"] == 8
    code, out, _ = aitc(server, "submit", "--hold", "--name", "mine", "--", "true")
    job_id = submitted(out)
    for args in (("--me",), ("--project", "operators"), ("--state", "pending")):
        data = json.loads(aitc(server, "queue", "--json", *args)[1])["data"]
        assert job_id in [j["id"] for j in data], args
    assert json.loads(aitc(server, "queue", "--json", "--project", "vision")[1])["data"] == []
    code, _, err = aitc(server, "queue", "--state", "done")
    assert code == 2 and err.startswith("aitc: --state: unknown state")


def test_errors_name_what_and_why_on_stderr(server: ServerProcess) -> None:
    cases = [
        (("show", "abc"), 2, "aitc: JOB_ID: 'abc' is not a job number"),
        (("show", "99999"), 1, "aitc: job 99999: not found"),
        (("submit", "--gpus", "64", "--", "true"), 2, "aitc: --gpus: This job can never run"),
        (("submit", "--gpus", "x", "--", "true"), 2, "aitc: --gpus: must be a whole number"),
        (("submit", "--time", "1x", "--", "true"), 2, "aitc: --time: '1x' is not a time limit"),
        (("queue", "--ra"), 2, "aitc: --ra: no such option"),
        (("submit", "--project", "nope", "--", "true"), 2, "aitc: --project: unknown project"),
    ]
    for args, code, start in cases:
        got, out, err = aitc(server, *args)
        assert (got, out) == (code, ""), args
        assert err.startswith(start) and len(err.strip().splitlines()) == 1, err


def test_piped_tables_print_full_cells(server: ServerProcess) -> None:
    name = "a-very-long-job-name-" + "x" * 120
    code, out, _ = aitc(server, "submit", "--hold", "--name", name, "--", "true")
    code, out, _ = aitc(server, "queue")
    assert name in out and "│" not in out


def test_share_prints_the_fair_share_tree_with_the_job_that_ran(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "submit", "--gpus", "2", "--", "sleep", "1")
    ran = ended(server, submitted(out))
    code, out, err = aitc(server, "share", "--json")
    assert code == 0, err
    tree = json.loads(out)
    assert tree["policy"] == "fairshare" and tree["orders_queue"] is True
    rows = {(r["organisation"], r["project"], r["member"]): r for r in tree["data"]}
    mine = rows[(ran["organisation"], ran["project"], ran["member"])]
    assert mine["usage_gpu_hours"] > 0 and 1 <= mine["rank"] <= tree["members"]
    assert rows[(ran["organisation"], None, None)]["usage_gpu_hours"] >= mine["usage_gpu_hours"]
    code, out, _ = aitc(server, "share")
    assert code == 0 and "Members' jobs are tried in rank order (policy fairshare)" in out
    line = next(x for x in out.splitlines() if x.strip().startswith(ran["member"] + " "))
    assert f"{mine['rank']} of {tree['members']}" in line


def test_requeue_stops_a_running_job_and_runs_it_again(server: ServerProcess) -> None:
    code, out, err = aitc(
        server, "submit", "--name", "again", "--", "sh", "-c",
        'echo "attempt $AITC_ATTEMPT"; [ "$AITC_ATTEMPT" = 2 ] || exec sleep 600',
    )  # fmt: skip
    assert code == 0, err
    job_id = submitted(out)
    wait_until(lambda: job(server, job_id), lambda j: j["state"] == "running", 30)
    code, out, err = aitc(server, "requeue", str(job_id))
    assert (code, out.strip()) == (
        0,
        f"job {job_id}: running; requeue asked: it is stopped, then it runs again from its "
        "place in the queue",
    ), err
    done = ended(server, job_id)
    assert (done["state"], done["attempt"]) == ("completed", 2)
    assert aitc(server, "logs", str(job_id))[1] == "attempt 2\n"  # the new attempt's output
    assert aitc(server, "logs", "--attempt", "1", str(job_id))[1] == "attempt 1\n"  # the first's
    code, _, err = aitc(server, "logs", "--attempt", "3", str(job_id))
    assert code == 1 and f"job {job_id} has no attempt 3: it has run 2 attempts" in err
    code, out, _ = aitc(server, "show", str(job_id))
    assert "requeued by admin (attempt 1 stopped)" in out
    code, _, err = aitc(server, "requeue", str(job_id))
    assert code == 1 and err.startswith(
        f"aitc: job {job_id}: it is completed: only a running job can be requeued"
    )


def test_requeue_hold_keeps_it_until_released(server: ServerProcess) -> None:
    code, out, err = aitc(server, "submit", "--", "sleep", "600")
    job_id = submitted(out)
    wait_until(lambda: job(server, job_id), lambda j: j["state"] == "running", 30)
    code, out, err = aitc(server, "requeue", "--hold", str(job_id))
    assert code == 0 and "held once back in the queue" in out, err
    held = wait_until(lambda: job(server, job_id), lambda j: j["state"] == "pending", 30)
    assert held["held"] is True and held["attempt"] == 1
    code, out, _ = aitc(server, "cancel", str(job_id))
    assert ended(server, job_id)["state"] == "cancelled"


def test_an_earlier_attempt_of_a_job_with_its_own_output_file_is_in_that_file(
    server: ServerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "own.out"
    code, text, err = aitc(
        server, "submit", "-o", str(out), "--", "sh", "-c",
        'echo "attempt $AITC_ATTEMPT"; [ "$AITC_ATTEMPT" = 2 ] || exec sleep 600',
    )  # fmt: skip
    job_id = submitted(text)
    wait_until(lambda: job(server, job_id), lambda j: j["state"] == "running", 30)
    assert aitc(server, "requeue", str(job_id))[0] == 0
    assert ended(server, job_id)["attempt"] == 2
    assert out.read_text() == "attempt 1\nattempt 2\n"  # appended when it started again
    code, _, err = aitc(server, "logs", "--attempt", "1", str(job_id))
    assert code == 1 and "writes its output to its own file, one for all its attempts" in err


def test_cancel_of_many_jobs_goes_on_past_one_it_cannot_cancel(server: ServerProcess) -> None:
    first = submitted(aitc(server, "submit", "--hold", "--", "true")[1])
    last = submitted(aitc(server, "submit", "--hold", "--", "true")[1])
    code, out, err = aitc(server, "cancel", str(first), "999999", str(last))
    assert code == 1  # as scancel: each job is tried, the refusal said, the exit code not 0
    assert out.splitlines() == [f"job {first}: cancelled", f"job {last}: cancelled"]
    assert err.startswith("aitc: job 999999: not found")
    assert [job(server, j)["state"] for j in (first, last)] == ["cancelled", "cancelled"]

"""`aitc submit job.sh` against a real `aitc serve` (8 virtual GPUs, the example lab), as a
Slurm user submits a batch script: its `#SBATCH` and `#AITC` lines set the job, the command
line overrides them, options without meaning here warn, bad ones stop the submission naming
the line, and the script runs (not executable, with its arguments, as an array)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_proc import ServerProcess, wait_until
from test_cli_slurm_habits import aitc, ended, job, submitted


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("batch") / "var")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of the submitter's, current, that the server's account may read."""
    tmp_path.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def script(path: Path, *lines: str) -> Path:
    """A batch script, not executable (sbatch does not need it to be; nor does aitc)."""
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o644)
    return path


def jobs_stored(server: ServerProcess) -> int:
    with server.client() as api:
        return int(api.get("/jobs", params={"limit": 1}).json()["count"])


def test_the_scripts_sbatch_lines_set_the_job(server: ServerProcess, here: Path) -> None:
    script(
        here / "job.sh",
        "#!/bin/bash",
        "#SBATCH --job-name=train",
        "#SBATCH --gres=gpu:2   # per node",
        "#SBATCH -N 1",
        "#SBATCH -t 02:00:00",
        "#SBATCH -H",
        "python train.py",
    )
    code, out, err = aitc(server, "submit", "job.sh", "--epochs", "3")
    assert (code, err) == (0, "") and out.endswith("(held) to project operators\n")
    shown = job(server, submitted(out))
    assert (shown["name"], shown["gpus"], shown["nodes"]) == ("train", 2, 1)
    assert (shown["time_limit"], shown["held"]) == (7200, True)
    assert shown["command"] == ["/bin/bash", str(here / "job.sh"), "--epochs", "3"]
    aitc(server, "cancel", str(shown["id"]))


def test_a_script_that_is_not_executable_runs_with_its_arguments(
    server: ServerProcess, here: Path
) -> None:
    (here / "out").mkdir()
    script(
        here / "job.sh",
        "#!/bin/sh",
        "#SBATCH --chdir=out",
        'echo args: "$@"; echo in: $(pwd); echo gpus: $CUDA_VISIBLE_DEVICES',
        "#SBATCH --bogus  (after the first command: not a directive)",
    )
    code, out, err = aitc(server, "submit", "job.sh", "one", "two words")
    assert (code, err) == (0, "")
    done = ended(server, submitted(out))
    assert (done["state"], done["name"], done["workdir"]) == (
        "completed",
        "job.sh",
        str(here / "out"),
    )
    logs = aitc(server, "logs", str(done["id"]))[1].splitlines()
    assert logs[:2] == ["args: one two words", f"in: {here / 'out'}"]
    assert len(logs[2].split()[1].split(",")) == 1  # one GPU: the default


def test_the_command_line_overrides_the_script(server: ServerProcess, here: Path) -> None:
    script(
        here / "job.sh",
        "#!/bin/sh",
        "#SBATCH -J from-script -t 10 --gres=gpu:4 --hold",
        "#AITC --env A=script --priority preemptible",
        "true",
    )
    code, out, _ = aitc(
        server, "submit", "--name", "from-cli", "-t", "5", "--gpus", "1", "--env", "B=cli",
        "job.sh",
    )  # fmt: skip
    assert code == 0
    shown = job(server, submitted(out))
    assert (shown["name"], shown["time_limit"], shown["gpus"]) == ("from-cli", 300, 1)
    assert (shown["priority"], shown["held"]) == ("preemptible", True)  # given by the script
    assert shown["env"]["A"] == "script" and shown["env"]["B"] == "cli"
    aitc(server, "cancel", str(shown["id"]))


def test_an_option_without_meaning_here_warns_and_still_submits(
    server: ServerProcess, here: Path
) -> None:
    script(here / "job.sh", "#!/bin/sh", "#SBATCH -H", "#SBATCH --mem=64G -p gpu", "true")
    code, out, err = aitc(server, "submit", "job.sh")
    assert code == 0 and "submitted job" in out
    assert err.splitlines() == [
        "aitc: job.sh line 3: #SBATCH --mem=64G ignored: aitc gives a job whole GPUs, each with "
        "its share of the node's CPUs and memory; -p gpu ignored: aitc's scheduler chooses the "
        "nodes (a GPU model: --gres=gpu:TYPE:N) (see docs/users.md#batch-scripts)"
    ]
    aitc(server, "cancel", str(submitted(out)))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("#SBATCH --partitions=gpu", "#SBATCH --partitions: not an sbatch option aitc takes"),
        ("#SBATCH --gres=gpu:h100:x", "#SBATCH --gres=gpu:h100:x: 'h100:x' is not [TYPE:]N"),
        ("#SBATCH -t 1x", "'1x' is not a time limit"),
        ("#SBATCH --export=1X", "'1X' is not a variable name"),
        ("#AITC --gpu 2", "#AITC --gpu: no such option; did you mean --gpus"),
        ("#SBATCH --gres=gpu:64", "This job can never run on this cluster"),  # the server's
        ("#SBATCH --dependency=afterburstbuffer:1", "afterburstbuffer"),  # the server's
    ],
)
def test_a_bad_directive_exits_2_naming_its_line_and_stores_nothing(
    server: ServerProcess, here: Path, line: str, error: str
) -> None:
    script(here / "job.sh", "#!/bin/sh", "#SBATCH -J fine", "", line, "true")
    before = jobs_stored(server)
    code, out, err = aitc(server, "submit", "job.sh")
    assert (code, out) == (2, "")
    assert err.startswith("aitc: job.sh line 4: ") and len(err.splitlines()) == 1, err
    assert error in err
    assert jobs_stored(server) == before


def test_aitc_lines_take_submits_own_flags(server: ServerProcess, here: Path) -> None:
    script(
        here / "job.sh",
        "#!/bin/sh",
        "#SBATCH --job-name=overridden",
        "#AITC --name mine --gpus 3 --time 90m",
        "#AITC --priority preemptible --hold --export NONE --env X=1",
        "true",
    )
    code, out, _ = aitc(server, "submit", "job.sh")
    shown = job(server, submitted(out))
    assert (shown["name"], shown["gpus"], shown["time_limit"]) == ("mine", 3, 5400)
    assert (shown["priority"], shown["held"], shown["env"]) == ("preemptible", True, {"X": "1"})
    aitc(server, "cancel", str(shown["id"]))


def test_an_array_script_runs_each_task_with_its_id(server: ServerProcess, here: Path) -> None:
    script(
        here / "sweep.sh",
        "#!/bin/bash",
        "#SBATCH --array=0-2%2",
        "#SBATCH --time=5",
        'echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID: $1"',
    )
    code, out, _ = aitc(server, "submit", "sweep.sh", "lr=0.1")
    assert code == 0 and "3 tasks, at most 2 running at once" in out
    array_id = submitted(out)
    tasks = wait_until(
        lambda: json.loads(aitc(server, "history", "--json", "--limit", "1000")[1])["data"],
        lambda found: sum(j["array_job_id"] == array_id for j in found) == 3,
    )
    logs = sorted(
        aitc(server, "logs", str(j["id"]))[1] for j in tasks if j["array_job_id"] == array_id
    )
    assert logs == [f"task {t} of {array_id}: lr=0.1\n" for t in range(3)]


def test_a_scripts_signal_comes_before_its_time_limit(server: ServerProcess, here: Path) -> None:
    script(
        here / "ckpt.sh",
        "#!/bin/bash",
        "#SBATCH -t 4s --signal=B:USR1@2",
        "trap 'echo checkpoint at USR1' USR1",
        "sleep 30 & wait; wait",
    )
    code, out, err = aitc(server, "submit", "ckpt.sh")
    assert (code, err) == (0, "")
    job_id = submitted(out)
    assert job(server, job_id)["signal"] == "B:USR1@2"
    assert ended(server, job_id)["state"] == "timeout"
    assert aitc(server, "logs", str(job_id))[1] == "checkpoint at USR1\n"
    code, _, err = aitc(server, "submit", "--signal", "USR1@2", "--", "true")
    assert code == 2 and "--signal: needs a time limit" in err
    code, _, err = aitc(server, "submit", "-t", "1", "--signal", "KILL", "--", "true")
    assert code == 2 and "--signal:" in err and "not a signal a job may ask for" in err


def test_wait_returns_when_the_job_has_ended_with_its_exit_code(
    server: ServerProcess, here: Path
) -> None:
    code, out, _ = aitc(server, "submit", "--wait", "--", "sh", "-c", "sleep 1; exit 3")
    job_id = submitted(out)
    assert code == 3 and out.splitlines()[-1] == f"job {job_id} ended: failed (exit code 3)"
    assert job(server, job_id)["state"] == "failed"  # ended before the command returned
    code, out, _ = aitc(server, "submit", "-W", "--array", "0-2", "--", "sh", "-c", "exit $1", "-")
    assert code == 0, out
    task = "sh -c 'exit $AITC_ARRAY_TASK_ID'"
    script(here / "waits.sh", "#!/bin/sh", "#SBATCH --wait --array=0-2", task)
    code, out, _ = aitc(server, "submit", "waits.sh")
    array = submitted(out)
    assert code == 2 and out.splitlines()[-1] == (
        f"array job {array} ended: 3 tasks, 1 completed, 2 failed (exit status 2)"
    )


def test_the_job_runs_the_script_as_submitted_whatever_becomes_of_the_file(
    server: ServerProcess, here: Path
) -> None:
    path = script(here / "v.sh", "#!/bin/sh", "#SBATCH --hold", 'echo version 1 "$@" from $0')
    code, out, err = aitc(server, "submit", "v.sh", "--seed", "7")
    assert (code, err) == (0, "")
    held = submitted(out)
    script(path, "#!/bin/sh", 'echo version 2 "$@"')  # edited while the job waits,
    code, out, _ = aitc(server, "submit", "v.sh")  # submitted again: a job of its own
    second = submitted(out)
    path.unlink()  # and gone
    aitc(server, "release", str(held))
    assert ended(server, held)["state"] == "completed"
    assert aitc(server, "logs", str(held))[1] == "version 1 --seed 7 from /dev/fd/9\n"
    assert ended(server, second)["state"] == "completed"
    assert aitc(server, "logs", str(second))[1] == "version 2\n"
    assert job(server, held)["script_path"] == str(path)
    code, out, _ = aitc(server, "show", "--script", str(held))  # scontrol write batch_script
    assert (code, out) == (0, '#!/bin/sh\n#SBATCH --hold\necho version 1 "$@" from $0\n')
    plain = submitted(aitc(server, "submit", "--hold", "--", "true")[1])
    code, _, err = aitc(server, "show", "--script", str(plain))
    assert code == 1 and "runs a command, not a batch script" in err
    aitc(server, "cancel", str(plain))


def test_a_script_too_long_to_send_is_refused_before_anything_is_stored(
    server: ServerProcess, here: Path
) -> None:
    before = jobs_stored(server)
    script(here / "big.sh", "#!/bin/sh", "#SBATCH -t 5", *["# padding " + "x" * 70] * 1000)
    code, _, err = aitc(server, "submit", "big.sh")
    assert code == 2 and err.startswith("aitc: big.sh: is 81,0")
    assert "aitc submit FLAGS -- bash big.sh" in err
    assert jobs_stored(server) == before


def test_cancel_signal_sends_a_signal_to_a_running_job_now(server: ServerProcess) -> None:
    body = "trap 'echo checkpoint now' USR1; echo ready; sleep 60 & wait; sleep 60 & wait"
    code, out, _ = aitc(server, "submit", "--", "bash", "-c", body)
    job_id = submitted(out)
    wait_until(lambda: aitc(server, "logs", str(job_id))[1], lambda o: "ready" in o, 30)
    # (its output may come before the controller has recorded it running)
    wait_until(lambda: job(server, job_id)["state"], lambda s: s == "running", 30)
    code, out, err = aitc(server, "cancel", "--signal", "USR1", str(job_id))
    assert (code, out.strip()) == (0, f"job {job_id}: SIGUSR1 asked for (it is running)"), err
    logs = wait_until(lambda: aitc(server, "logs", str(job_id))[1], lambda o: "now" in o, 30)
    assert logs == "ready\ncheckpoint now\n"
    causes = [e["cause"] for e in job(server, job_id)["events"]]
    assert causes[-2:] == ["SIGUSR1 to it asked for by admin", "SIGUSR1 sent"]
    code, _, err = aitc(server, "cancel", "-s", "KILL", str(job_id))
    assert code == 2 and "--signal:" in err
    aitc(server, "cancel", str(job_id))
    code, _, err = aitc(server, "cancel", "--signal", "USR1", str(ended(server, job_id)["id"]))
    assert code == 1 and "only a running job can be signalled" in err


def test_the_scripts_output_lines_put_the_output_where_it_says(
    server: ServerProcess, here: Path
) -> None:
    (here / "logs").mkdir()
    script(
        here / "job.sh",
        "#!/bin/sh",
        "#SBATCH -J train -o logs/%x-%j.out   # relative: from the working directory",
        "#SBATCH --error=logs/%x-%j.err --open-mode=append",
        "echo to-out; echo to-err >&2",
    )
    code, out, err = aitc(server, "submit", "job.sh")
    assert (code, err) == (0, "")
    job_id = submitted(out)
    shown = ended(server, job_id)
    assert shown["state"] == "completed", shown
    assert (shown["output"], shown["error"], shown["open_mode"]) == (
        "logs/%x-%j.out",
        "logs/%x-%j.err",
        "append",
    )
    assert (here / "logs" / f"train-{job_id}.out").read_text() == "to-out\n"
    assert (here / "logs" / f"train-{job_id}.err").read_text() == "to-err\n"
    assert aitc(server, "logs", str(job_id))[1] == "to-out\n"
    assert aitc(server, "logs", "--stderr", str(job_id))[1] == "to-err\n"
    shown_text = aitc(server, "show", str(job_id))[1]
    assert "logs/%x-%j.out" in shown_text and "logs/%x-%j.err" in shown_text


def test_a_bad_output_pattern_is_refused_naming_the_flag_or_the_line(
    server: ServerProcess, here: Path
) -> None:
    before = jobs_stored(server)
    code, _, err = aitc(server, "submit", "-o", "out-%q.log", "--", "true")
    assert code == 2
    assert "--output: %q is not a filename pattern aitc knows" in err
    script(here / "job.sh", "#!/bin/sh", "#SBATCH -e err-%s", "true")
    code, _, err = aitc(server, "submit", "job.sh")
    assert code == 2 and "job.sh line 2: %s is not a filename pattern aitc knows" in err, err
    code, _, err = aitc(server, "submit", "--open-mode", "overwrite", "--", "true")
    assert code == 2 and "--open-mode: 'overwrite': give append or truncate" in err, err
    assert jobs_stored(server) == before

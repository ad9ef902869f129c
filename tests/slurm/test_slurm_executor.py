"""The Slurm executor against the real test cluster: start, poll, logs, cancel, time limit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from slurm_helpers import SlurmCluster, job, placement, wait_allocated, wait_report

from aitc.control.batchscript import launched
from aitc.control.executors.base import ExecStatus
from aitc.control.executors.registry import ExecutorSettings, create_executor
from aitc.control.executors.slurm import SlurmExecutor
from aitc.errors import ExecutorError

pytestmark = pytest.mark.slurm  # runs on the Slurm test cluster of conftest.py

ENDED = {ExecStatus.EXITED, ExecStatus.TIMEOUT, ExecStatus.CANCELLED, ExecStatus.LOST}
SHOW = "echo $SLURMD_NODENAME gpus=$CUDA_VISIBLE_DEVICES slurm=$SLURM_JOB_GPUS; sleep 1"


def _out(ex: SlurmExecutor, job_id: int) -> str:
    return Path(ex.log_paths(job_id, 0)[0]).read_text()


def test_gang_job_runs_one_task_on_each_chosen_node(executor: SlurmExecutor) -> None:
    handle = executor.start(job(1, ["bash", "-c", SHOW], placement(node01=8, node02=8)))
    assert handle.isdigit()
    assert wait_allocated(executor, 1, nodes=2) == {
        "node01": tuple(range(8)),
        "node02": tuple(range(8)),
    }
    report = wait_report(executor, 1, until=ENDED)
    assert (report.status, report.exit_code) == (ExecStatus.EXITED, 0)
    lines = sorted(_out(executor, 1).split("\n"))[1:]
    assert lines == [
        "node01 gpus=0,1,2,3,4,5,6,7 slurm=0,1,2,3,4,5,6,7",
        "node02 gpus=0,1,2,3,4,5,6,7 slurm=0,1,2,3,4,5,6,7",
    ]


def test_jobs_sharing_a_node_get_disjoint_gpus_chosen_by_slurm(executor: SlurmExecutor) -> None:
    executor.start(job(1, ["sleep", "30"], placement(node03=8)))
    executor.start(job(2, ["sleep", "30"], placement(node04=4)))
    executor.start(job(3, ["sleep", "30"], placement(node04=4)))
    assert wait_allocated(executor, 1, nodes=1) == {"node03": tuple(range(8))}
    a, b = (wait_allocated(executor, j, nodes=1)["node04"] for j in (2, 3))
    assert len(a) == len(b) == 4 and not set(a) & set(b)
    running = {r.job_id for r in executor.poll() if r.status == ExecStatus.RUNNING}
    assert running == {1, 2, 3}
    assert {n.name: n.foreign_gpus for n in executor.inventory()}["node04"] == 0


def test_start_is_idempotent_and_a_new_executor_adopts_the_attempt(
    executor: SlurmExecutor, slurm: SlurmCluster
) -> None:
    first = executor.start(job(7, ["sleep", "30"], placement(node01=2)))
    assert executor.start(job(7, ["sleep", "30"], placement(node01=2))) == first
    again = SlurmExecutor(executor.state_dir, env=slurm.env, name_prefix=executor.prefix)
    assert again.start(job(7, ["sleep", "30"], placement(node01=2))) == first
    assert wait_report(again, 7, until={ExecStatus.RUNNING}).handle == first
    names = slurm.run("squeue", "-h", "-o", "%j").split()
    assert names.count(executor.job_name(7, 0)) == 1


def test_a_crash_between_sbatch_and_the_record_never_submits_twice(
    executor: SlurmExecutor, slurm: SlurmCluster
) -> None:
    first = executor.start(job(8, ["sleep", "30"], placement(node02=1)))
    (executor.state_dir / "slurm" / executor.job_name(8, 0) / "record.json").unlink()
    again = SlurmExecutor(executor.state_dir, env=slurm.env, name_prefix=executor.prefix)
    assert again.start(job(8, ["sleep", "30"], placement(node02=1))) == first
    names = slurm.run("squeue", "-h", "-o", "%j").split()
    assert names.count(executor.job_name(8, 0)) == 1


def test_exit_code_stdout_and_stderr_come_back(executor: SlurmExecutor) -> None:
    executor.start(
        job(
            4,
            ["bash", "-c", "echo to-out; echo to-err >&2; exit 3"],
            placement(node02=1),
            env={"GREETING": "hello"},
        )
    )
    report = wait_report(executor, 4, until=ENDED)
    assert (report.status, report.exit_code) == (ExecStatus.EXITED, 3)
    out, err = (Path(p).read_text() for p in executor.log_paths(4, 0))
    assert out == "to-out\n" and "to-err" in err


def test_job_environment_reaches_every_task(executor: SlurmExecutor) -> None:
    executor.start(
        job(
            5,
            ["bash", "-c", "echo $GREETING $AITC_JOB_ID"],
            placement(node03=1, node04=1),
            env={"GREETING": "hello"},
        )
    )
    assert wait_report(executor, 5, until=ENDED).exit_code == 0
    assert _out(executor, 5) == "hello 5\nhello 5\n"


def test_cancel_stops_a_running_attempt(executor: SlurmExecutor) -> None:
    executor.start(job(6, ["sleep", "300"], placement(node01=4)))
    wait_allocated(executor, 6, nodes=1)
    executor.cancel(6, 0)
    report = wait_report(executor, 6, until=ENDED)
    assert report.status == ExecStatus.CANCELLED
    executor.cancel(6, 0)  # cancelling again is harmless


def test_time_limit_stops_the_attempt_as_timeout(executor: SlurmExecutor) -> None:
    executor.start(job(8, ["sleep", "300"], placement(node02=2), time_limit=2))
    report = wait_report(executor, 8, until=ENDED, timeout_s=30)
    assert report.status == ExecStatus.TIMEOUT
    assert "time limit" in report.cause


def test_the_signal_asked_for_reaches_every_task_before_the_time_limit(
    executor: SlurmExecutor,
) -> None:
    trap = "trap 'echo $SLURMD_NODENAME got USR1' USR1; sleep 30 & wait; sleep 30 & wait"
    executor.start(
        job(12, ["bash", "-c", trap], placement(node03=1, node04=1), time_limit=4, signal="USR1@2")
    )
    report = wait_report(executor, 12, until=ENDED, timeout_s=40)
    assert report.status == ExecStatus.TIMEOUT
    assert sorted(_out(executor, 12).splitlines()) == ["node03 got USR1", "node04 got USR1"]


def test_a_batch_scripts_submitted_text_runs_on_every_node(executor: SlurmExecutor) -> None:
    text = "#!/bin/bash\necho $SLURMD_NODENAME ran $0 with $1 ${AITC_BATCH_SCRIPT:-and no copy}\n"
    command, env = launched(["/bin/bash", "/nowhere/job.sh", "x y"], "/nowhere/job.sh", text)
    executor.start(job(13, command, placement(node01=1, node02=1), env=env))
    assert wait_report(executor, 13, until=ENDED).exit_code == 0
    assert sorted(_out(executor, 13).splitlines()) == [
        "node01 ran /dev/fd/9 with x y and no copy",
        "node02 ran /dev/fd/9 with x y and no copy",
    ]


def test_a_signal_now_reaches_every_task(executor: SlurmExecutor) -> None:
    trap = "trap 'echo $SLURMD_NODENAME got USR1' USR1; echo up; sleep 60 & wait; sleep 60 & wait"
    executor.start(job(14, ["bash", "-c", trap], placement(node01=1, node02=1)))
    wait_allocated(executor, 14, nodes=2)
    deadline = time.monotonic() + 30

    def out() -> str:
        path = Path(executor.log_paths(14, 0)[0])
        return path.read_text() if path.exists() else ""

    while out().count("up") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert executor.signal(14, 0, "USR1")
    while out().count("got USR1") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(_out(executor, 14).splitlines()) == [
        "node01 got USR1",
        "node02 got USR1",
        "up",
        "up",
    ]
    executor.cancel(14, 0)
    assert wait_report(executor, 14, until=ENDED).status == ExecStatus.CANCELLED
    assert not executor.signal(14, 0, "USR1")  # ended


def test_an_ended_attempt_is_reported_until_the_next_poll(executor: SlurmExecutor) -> None:
    executor.start(job(9, ["true"], placement(node01=1)))
    assert wait_report(executor, 9, until=ENDED).status == ExecStatus.EXITED
    assert [r for r in executor.poll() if r.job_id == 9] == []


def test_the_registry_builds_the_slurm_executor_from_serve_settings(
    slurm: SlurmCluster, tmp_path: Path
) -> None:
    settings = ExecutorSettings(
        state_dir=tmp_path, options={"slurm_conf": slurm.env["SLURM_CONF"], "name_prefix": "x"}
    )
    ex = create_executor("slurm", settings)
    assert isinstance(ex, SlurmExecutor) and ex.prefix == "x"
    assert [n.name for n in ex.inventory()] == ["node01", "node02", "node03", "node04"]
    assert ex.topology() == {"node01": (0, 0), "node02": (0, 0), "node03": (1, 0), "node04": (1, 0)}


def test_a_lowered_time_limit_ends_a_running_gang_job_as_a_timeout(
    executor: SlurmExecutor,
) -> None:
    """``scontrol update TimeLimit=``, in whole minutes: a 10-minute job lowered to 30 s
    gets Slurm's 1 minute and ends as a timeout then (Slurm checks limits every ~30 s); a
    limit above the one it started with is not applied (its batch script would stop it)."""
    executor.start(job(15, ["sleep", "600"], placement(node01=1, node02=1), time_limit=600))
    wait_allocated(executor, 15, nodes=2)
    with pytest.raises(ExecutorError, match="cannot raise"):
        executor.set_time_limit(15, 0, 900)
    began = time.monotonic()
    assert executor.set_time_limit(15, 0, 30)
    report = wait_report(executor, 15, until=ENDED, timeout_s=150)
    assert report.status == ExecStatus.TIMEOUT, report
    assert time.monotonic() - began < 130
    assert not executor.set_time_limit(15, 0, 30)  # ended

"""The local executor runs real processes: pinned GPUs, logs, exit codes, limits, adoption."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from aitc.control.executors.attempts import AttemptDir
from aitc.control.executors.base import ExecJob, ExecReport, ExecStatus
from aitc.control.executors.local import LocalExecutor
from aitc.domain.job import MigSlot, NodeAlloc, Placement
from aitc.errors import ExecutorError

NODE = "testnode"


def executor(state: Path, grace_s: float = 0.5) -> LocalExecutor:
    return LocalExecutor(state, virtual_gpus=8, node_name=NODE, grace_s=grace_s)


def job(
    job_id: int,
    script: str,
    *,
    gpus: Sequence[int] = (0,),
    attempt: int = 1,
    mig: MigSlot | None = None,
    **kw: object,
) -> ExecJob:
    alloc = NodeAlloc(node=NODE, gpus=tuple(gpus), mig=mig)
    return ExecJob(
        job_id=job_id,
        attempt=attempt,
        name=f"job{job_id}",
        command=("sh", "-c", script),
        placement=Placement((alloc,)),
        **kw,
    )  # type: ignore[arg-type]


def wait_for(
    ex: LocalExecutor, job_id: int, done: Callable[[ExecReport], bool], timeout: float = 10.0
) -> ExecReport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in ex.poll():
            if r.job_id == job_id and done(r):
                return r
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach the expected state in {timeout} s")


def ended(r: ExecReport) -> bool:
    return r.status != ExecStatus.RUNNING


def running(r: ExecReport) -> bool:
    return r.status == ExecStatus.RUNNING


def stdout(ex: LocalExecutor, job_id: int, attempt: int = 1) -> str:
    return Path(ex.log_paths(job_id, attempt)[0]).read_text()


def test_job_sees_its_gpus_workdir_and_environment(tmp_path: Path) -> None:
    ex = executor(tmp_path / "state")
    work = tmp_path / "work"
    work.mkdir()
    script = 'echo "$CUDA_VISIBLE_DEVICES|$NVIDIA_VISIBLE_DEVICES|$(pwd)|$FOO|$AITC_JOB_ID"'
    ex.start(job(7, script, gpus=(2, 5), env={"FOO": "bar"}, workdir=str(work)))
    r = wait_for(ex, 7, ended)
    assert (r.status, r.exit_code, r.nodes) == (ExecStatus.EXITED, 0, (NODE,))
    assert stdout(ex, 7) == f"2,5|2,5|{work}|bar|7\n"


def test_mig_slice_is_pinned_by_its_uuid(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    uuid = ex.inventory()[0].gpus[3].mig_uuids["3:1g.10gb:4"]
    ex.start(job(1, "echo $CUDA_VISIBLE_DEVICES", gpus=(), mig=MigSlot(3, "1g.10gb", 4)))
    wait_for(ex, 1, ended)
    assert uuid.startswith("MIG-virtual-")
    assert stdout(ex, 1) == f"{uuid}\n"


def test_server_secrets_in_aitc_variables_do_not_reach_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AITC_TOKEN", "secret")
    ex = executor(tmp_path)
    ex.start(job(1, 'echo "[$AITC_TOKEN]"'))
    wait_for(ex, 1, ended)
    assert stdout(ex, 1) == "[]\n"


def test_stderr_has_its_own_file_and_the_exit_code_comes_back(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    ex.start(job(1, "echo out; echo oops >&2; exit 3"))
    r = wait_for(ex, 1, ended)
    assert (r.status, r.exit_code, r.cause) == (ExecStatus.EXITED, 3, "exited with code 3")
    assert Path(ex.log_paths(1, 1)[1]).read_text() == "oops\n"
    assert stdout(ex, 1) == "out\n"


def test_a_missing_program_exits_127_with_the_reason(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    ex.start(
        ExecJob(
            job_id=1,
            attempt=1,
            name="x",
            command=("/no/such/program",),
            placement=Placement((NodeAlloc(NODE, (0,)),)),
        )
    )
    r = wait_for(ex, 1, ended)
    assert (r.status, r.exit_code) == (ExecStatus.EXITED, 127)
    assert "cannot start '/no/such/program'" in r.cause


def test_time_limit_kills_the_whole_process_group_and_reports_timeout(tmp_path: Path) -> None:
    ex = executor(tmp_path, grace_s=0.3)
    pidfile = tmp_path / "bg.pid"
    script = f'trap "" TERM; sleep 60 & echo $! > {pidfile}; while true; do sleep 0.1; done'
    ex.start(job(1, script, time_limit=0.5))
    r = wait_for(ex, 1, ended)
    assert r.status == ExecStatus.TIMEOUT
    assert r.exit_code == 128 + signal.SIGKILL
    assert "time limit of 0.5 s" in r.cause and "SIGKILL after 0.3 s" in r.cause
    assert not _alive(int(pidfile.read_text()))


def test_cancel_stops_a_running_attempt_with_sigterm(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    ex.start(job(1, "sleep 60"))
    wait_for(ex, 1, running)
    ex.cancel(1, 1)
    r = wait_for(ex, 1, ended)
    assert (r.status, r.exit_code) == (ExecStatus.CANCELLED, 128 + signal.SIGTERM)
    assert r.cause == "cancel requested; stopped with SIGTERM"


def test_an_attempt_starts_once_however_often_and_by_whomever_it_is_started(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    spec = job(1, f"echo run >> {marks}")
    first, second = executor(tmp_path / "s"), executor(tmp_path / "s")
    assert first.start(spec) == second.start(spec) == first.start(spec)
    wait_for(first, 1, ended)
    second.start(spec)  # after the end, and after the record moved to done/
    first.poll()
    executor(tmp_path / "s").start(spec)
    time.sleep(0.3)
    assert marks.read_text() == "run\n"


def test_a_new_executor_adopts_running_attempts_and_can_cancel_them(tmp_path: Path) -> None:
    old = executor(tmp_path)
    old.start(job(1, "sleep 60"))
    wait_for(old, 1, running)
    old.close()
    new = executor(tmp_path)
    assert [(r.job_id, r.status) for r in new.poll()] == [(1, ExecStatus.RUNNING)]
    new.cancel(1, 1)
    assert wait_for(new, 1, ended).status == ExecStatus.CANCELLED


def test_an_exit_code_survives_while_no_executor_runs(tmp_path: Path) -> None:
    old = executor(tmp_path)
    old.start(job(1, "sleep 0.2; exit 4"))
    old.close()
    del old
    time.sleep(0.8)
    r = wait_for(executor(tmp_path), 1, ended)
    assert (r.status, r.exit_code) == (ExecStatus.EXITED, 4)


def test_an_end_is_reported_until_the_next_poll_acknowledges_it(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    ex.start(job(1, "true"))
    wait_for(ex, 1, ended)
    restarted = executor(tmp_path)  # the first answer was never acknowledged: heard again
    assert [r.status for r in restarted.poll()] == [ExecStatus.EXITED]
    assert restarted.poll() == []
    assert executor(tmp_path).poll() == []


def test_an_attempt_whose_processes_vanished_is_lost_with_the_cause(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    ex.start(job(1, "sleep 60"))
    wait_for(ex, 1, running)
    adir = AttemptDir.of(ex.state_dir, 1, 1)
    os.kill(adir.proc("supervisor").pid, signal.SIGKILL)  # type: ignore[union-attr]
    os.killpg(adir.proc("child").pid, signal.SIGKILL)  # type: ignore[union-attr]
    r = wait_for(ex, 1, ended)
    assert (r.status, r.exit_code) == (ExecStatus.LOST, None)
    assert "without an exit record" in r.cause


def test_an_orphaned_job_is_still_cancelled(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    ex.start(job(1, "sleep 60"))
    wait_for(ex, 1, running)
    adir = AttemptDir.of(ex.state_dir, 1, 1)
    os.kill(adir.proc("supervisor").pid, signal.SIGKILL)  # type: ignore[union-attr]
    assert wait_for(ex, 1, lambda r: True).status == ExecStatus.RUNNING
    ex.cancel(1, 1)
    assert wait_for(ex, 1, ended).status == ExecStatus.CANCELLED
    assert not _alive(adir.proc("child").pid)  # type: ignore[union-attr]


def test_a_placement_on_another_node_is_refused(tmp_path: Path) -> None:
    ex = executor(tmp_path)
    other = ExecJob(
        job_id=1,
        attempt=1,
        name="x",
        command=("true",),
        placement=Placement((NodeAlloc("elsewhere", (0,)),)),
    )
    with pytest.raises(ExecutorError, match="placement names node 'elsewhere'"):
        ex.start(other)
    with pytest.raises(ExecutorError, match=r"GPU indices \[9\] do not exist"):
        ex.start(job(2, "true", gpus=(9,)))


def _alive(pid: int) -> bool:
    time.sleep(0.05)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_a_missing_working_directory_is_named_as_the_reason(tmp_path: Path) -> None:
    ex = executor(tmp_path / "state")
    ex.start(job(1, "true", workdir=str(tmp_path / "nowhere")))
    r = wait_for(ex, 1, ended)
    assert (r.status, r.exit_code) == (ExecStatus.EXITED, 126)
    assert (
        r.cause == f"cannot start in working directory '{tmp_path / 'nowhere'}': it does not exist"
    )
    assert "does not exist" in Path(ex.log_paths(1, 1)[1]).read_text()


def test_an_attempt_whose_logs_cannot_be_written_is_lost_with_the_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ex = executor(tmp_path / "state")
    ex.start(job(1, "true", stdout_path=str(blocker / "out"), stderr_path=str(blocker / "err")))
    r = wait_for(ex, 1, ended)
    assert r.status == ExecStatus.LOST
    assert r.cause.startswith("the supervisor failed: FileExistsError")


def test_the_signal_asked_for_comes_before_the_time_limit(tmp_path: Path) -> None:
    """``USR1@1`` with a 3 s limit: every process of the job gets SIGUSR1 about 1 s before it
    is stopped at the limit (a checkpoint written then survives the stop)."""
    ex = executor(tmp_path / "state")
    child = '(trap "echo child got USR1" USR1; sleep 30 & wait; sleep 30 & wait) &'
    script = f"trap 'echo main got USR1 at $(date +%s.%N)' USR1; {child} sleep 30 & wait; wait"
    began = time.time()
    ex.start(job(31, script, time_limit=3.0, signal="USR1@1"))
    r = wait_for(ex, 31, ended)
    assert r.status == ExecStatus.TIMEOUT
    lines = stdout(ex, 31).splitlines()
    assert sorted(line.split(" at ")[0] for line in lines) == ["child got USR1", "main got USR1"]
    at = float(next(line for line in lines if line.startswith("main")).rsplit(" ", 1)[1])
    assert 1.5 <= at - began < 3.0  # at 2 s of 3, not at the start nor at the end


def test_a_b_signal_goes_to_the_main_process_only(tmp_path: Path) -> None:
    ex = executor(tmp_path / "state")
    child = '(trap "echo child got USR1" USR1; sleep 30 & wait; sleep 30 & wait) &'
    script = f'trap "echo main got USR1" USR1; {child} sleep 30 & wait; wait'
    ex.start(job(32, script, time_limit=2.0, signal="B:USR1@1"))
    assert wait_for(ex, 32, ended).status == ExecStatus.TIMEOUT
    assert stdout(ex, 32).splitlines() == ["main got USR1"]


def test_a_signal_now_reaches_the_running_job_through_its_supervisor(tmp_path: Path) -> None:
    ex = executor(tmp_path / "state")
    child = '(trap "echo child got USR2" USR2; sleep 30 & wait; sleep 30 & wait) &'
    script = f'trap "echo main got USR1" USR1; trap "echo main got USR2" USR2; {child} '
    script += "echo ready; sleep 30 & wait; sleep 30 & wait; sleep 30 & wait"
    assert not ex.signal(33, 1, "USR1")  # not started: nothing to signal
    ex.start(job(33, script))
    wait_for(ex, 33, running)
    deadline = time.monotonic() + 10
    while "ready" not in stdout(ex, 33) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ex.signal(33, 1, "B:USR1")
    _until(lambda: "main got USR1" in stdout(ex, 33))
    assert ex.signal(33, 1, "USR2")  # the second request is sent too, to every process
    _until(lambda: stdout(ex, 33).count("got USR2") == 2)
    ex.cancel(33, 1)
    assert wait_for(ex, 33, ended).status == ExecStatus.CANCELLED
    assert sorted(stdout(ex, 33).splitlines()) == [
        "child got USR2",
        "main got USR1",
        "main got USR2",
        "ready",
    ]
    assert not ex.signal(33, 1, "USR1")  # ended


def _until(done: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

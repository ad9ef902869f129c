"""Each attempt's cgroup: limits hold, nothing outlives the job, a full disk loses no exit.

Real cgroups, real processes, a real full file system (a small tmpfs); as root, as CI runs.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitc.control.executors.attempts import AttemptDir
from aitc.control.executors.base import ExecJob, ExecStatus
from aitc.control.executors.cgroup import Limits, confine
from aitc.control.executors.local import LocalExecutor
from aitc.domain.job import NodeAlloc, Placement
from aitc.errors import ExecutorError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and mounts need root")


def job(job_id: int, script: str, gpus: tuple[int, ...] = (0,), **kw: object) -> ExecJob:
    return ExecJob(
        job_id=job_id,
        attempt=1,
        name=f"j{job_id}",
        command=("sh", "-c", script),
        placement=Placement((NodeAlloc(node="node0", gpus=gpus),)),
        **kw,  # type: ignore[arg-type]
    )


def ended(ex: LocalExecutor, job_id: int, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in ex.poll():
            if r.job_id == job_id and r.status != ExecStatus.RUNNING:
                return r
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def spawn_in(cg_procs: list[str], script: str) -> subprocess.Popen[bytes]:
    def join() -> None:
        for procs in cg_procs:
            with open(procs, "w") as f:
                f.write("0")

    return subprocess.Popen(["sh", "-c", script], preexec_fn=join)


def test_a_job_over_its_memory_is_killed_and_the_cause_says_so(tmp_path: Path) -> None:
    # 64 GPUs: one GPU's share of this host's memory is small; the job takes 100 MB at a time.
    ex = LocalExecutor(tmp_path / "state", virtual_gpus=64, node_name="node0", grace_s=1)
    hog = "python3 -c 'x = []\nwhile len(x) < 400: x.append(b\"1\" * (100 << 20))'"
    ex.start(job(1, hog))
    report = ended(ex, 1, timeout=60)
    assert (report.status, report.exit_code) == (ExecStatus.EXITED, 137)  # type: ignore[attr-defined]
    assert "out of memory" in report.cause, report.cause  # type: ignore[attr-defined]


def test_the_pids_limit_stops_a_fork_bomb(tmp_path: Path) -> None:
    cg, warnings = confine(f"test-pids-{os.getpid()}", Limits(pids=20))
    assert cg is not None, warnings
    try:
        proc = spawn_in(cg.procs_files, "for i in $(seq 40); do sleep 5 & done; wait")
        time.sleep(1.0)
        assert len(cg.pids()) <= 20
        cg.kill_all()
        proc.wait(10)
    finally:
        cg.kill_all()
        cg.remove()


def test_kill_all_leaves_no_process_behind(tmp_path: Path) -> None:
    cg, _ = confine(f"test-kill-{os.getpid()}", Limits())
    assert cg is not None
    proc = spawn_in(cg.procs_files, "setsid sleep 300 & (sleep 300 &) ; sleep 300")
    time.sleep(0.5)
    assert len(cg.pids()) >= 3
    assert cg.kill_all() >= 3
    assert cg.pids() == set()
    proc.wait(10)
    cg.remove()
    assert not cg.dirs["freezer"].exists()


def test_a_server_that_may_not_switch_users_refuses_other_members_jobs(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "state", virtual_gpus=1, node_name="node0", single_user=True)
    with pytest.raises(ExecutorError) as err:
        ex.start(job(1, "true", unix_user="nobody"))
    assert "cannot start jobs as 'nobody'" in str(err.value)
    assert "single-user" in str(err.value)
    ex.start(job(2, "true", unix_user=ex.server_user.name))  # its own user's job runs
    assert ended(ex, 2).status == ExecStatus.EXITED  # type: ignore[attr-defined]


def test_an_unknown_account_is_refused_with_the_fix(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "state", virtual_gpus=1, node_name="node0")
    with pytest.raises(ExecutorError, match="'no-such-account-x' does not resolve"):
        ex.start(job(1, "true", unix_user="no-such-account-x"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_never_turns_a_completed_job_into_a_lost_one(small_disk: Path) -> None:
    ex = LocalExecutor(small_disk / "state", virtual_gpus=1, node_name="node0", grace_s=1)
    flag = small_disk / "go"
    fill = f"while [ ! -e {flag} ]; do sleep 0.02; done; exit 0"
    ex.start(job(1, fill))
    adir = AttemptDir.of(ex.state_dir, 1, 1)
    while adir.proc("child") is None:
        time.sleep(0.02)
    flag.touch()
    with open(small_disk / "filler", "wb") as f:  # take every block that is left
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    report = ended(ex, 1)
    assert (report.status, report.exit_code) == (ExecStatus.EXITED, 0)  # type: ignore[attr-defined]

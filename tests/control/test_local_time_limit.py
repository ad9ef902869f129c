"""A running job's time limit changes through its supervisor (``set_time_limit``: ``limit.json``
and SIGUSR2, as ``signal``): counted from the job's start, a limit already passed ends it at
once as a timeout, and its ``--signal`` warning moves with the limit and comes only once."""

from __future__ import annotations

import time
from pathlib import Path

from test_local_executor import ended, executor, job, running, stdout, wait_for

from aitc.control.executors.base import ExecStatus
from aitc.control.executors.local import LocalExecutor

READY = "echo ready at $(date +%s.%N); "


def _ready(ex: LocalExecutor, job_id: int) -> float:
    """When the job's script began (it prints it first)."""
    wait_for(ex, job_id, running)
    deadline = time.monotonic() + 10
    while "ready" not in stdout(ex, job_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    line = next(x for x in stdout(ex, job_id).splitlines() if x.startswith("ready"))
    return float(line.rsplit(" ", 1)[1])


def test_a_lowered_limit_ends_the_job_as_a_timeout(tmp_path: Path) -> None:
    ex = executor(tmp_path / "state")
    assert not ex.set_time_limit(41, 1, 2.0)  # not started: nothing to change
    ex.start(job(41, READY + "sleep 30", time_limit=20.0))
    began = _ready(ex, 41)
    assert ex.set_time_limit(41, 1, 2.0)
    r = wait_for(ex, 41, ended)
    assert r.status == ExecStatus.TIMEOUT
    assert time.time() - began < 5.0  # at 2 s (and the grace), not at 20
    assert "time limit of 2 s" in r.cause
    assert not ex.set_time_limit(41, 1, 10.0)  # ended


def test_a_limit_already_passed_ends_the_job_at_once(tmp_path: Path) -> None:
    ex = executor(tmp_path / "state")
    ex.start(job(42, READY + "sleep 30", time_limit=20.0))
    _ready(ex, 42)
    time.sleep(1.5)
    asked = time.monotonic()
    assert ex.set_time_limit(42, 1, 1.0)
    assert wait_for(ex, 42, ended).status == ExecStatus.TIMEOUT
    assert time.monotonic() - asked < 2.0


def test_the_warning_moves_with_the_limit_and_comes_once(tmp_path: Path) -> None:
    """``USR1@1`` with a 20 s limit lowered to 3 s: SIGUSR1 about 1 s before the new end;
    raised to 5 s after it came, the job runs on to 5 s and gets no second one."""
    ex = executor(tmp_path / "state")
    trap = "trap 'echo got USR1 at $(date +%s.%N)' USR1; "
    ex.start(
        job(43, trap + READY + "sleep 30 & wait; sleep 30 & wait", time_limit=20.0, signal="USR1@1")
    )
    began = _ready(ex, 43)
    assert ex.set_time_limit(43, 1, 3.0)
    deadline = time.monotonic() + 10
    while "got USR1" not in stdout(ex, 43) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ex.set_time_limit(43, 1, 5.0)
    r = wait_for(ex, 43, ended)
    end = time.time()
    assert r.status == ExecStatus.TIMEOUT
    warned = [x for x in stdout(ex, 43).splitlines() if x.startswith("got USR1")]
    assert len(warned) == 1
    at = float(warned[0].rsplit(" ", 1)[1]) - began
    assert 1.5 <= at < 3.0  # at 2 s of the new 3, not at 19 s of the old 20
    assert 4.5 <= end - began < 8.0  # ran on to the raised limit

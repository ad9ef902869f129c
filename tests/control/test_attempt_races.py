"""Races between the executor judging an attempt and its supervisor starting it.

A poll that finds no supervisor record, and then finds one an instant later, must not judge the
attempt lost; a supervisor that finds its attempt already judged must not run the job. Together
they keep an attempt from running once as a "lost" attempt and again as its retry.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from aitc.control.executors import supervise
from aitc.control.executors.attempts import (
    AttemptDir,
    AttemptSpec,
    ExitRecord,
    ProcRecord,
    proc_start_ticks,
)
from aitc.control.executors.local import LocalExecutor


def fresh_attempt(state: Path, marker: Path) -> AttemptDir:
    adir = AttemptDir.of(state, 7, 1)
    adir.root.mkdir(parents=True)
    adir.write_spec(
        AttemptSpec(
            job_id=7,
            attempt=1,
            command=("sh", "-c", f"echo ran >> {marker}"),
            env={"PATH": os.environ["PATH"]},
            workdir=None,
            stdout_path=str(state / "out.log"),
            stderr_path=str(state / "out.log"),
        )
    )
    return adir


def test_a_supervisor_whose_record_appears_during_a_poll_is_not_judged_lost(
    tmp_path: Path,
) -> None:
    ex = LocalExecutor(tmp_path / "state", virtual_gpus=1, node_name="n")
    adir = fresh_attempt(ex.state_dir, tmp_path / "marker")
    assert adir.claim()
    me = ProcRecord(os.getpid(), proc_start_ticks(os.getpid()) or 0, time.time())
    adir.write_proc("supervisor", me)  # the supervisor is alive, its job not spawned yet
    assert ex._unsupervised(adir) is None
    assert adir.exit() is None


def test_a_supervisor_does_not_run_an_attempt_judged_before_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    adir = fresh_attempt(tmp_path / "state", marker)
    adir.write_exit(ExitRecord("lost", None, time.time(), "judged lost"))
    assert supervise.run(adir) == 0
    assert not marker.exists()
    judged = adir.exit()
    assert judged is not None and (judged.status, judged.cause) == ("lost", "judged lost")

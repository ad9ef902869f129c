"""Small builders and waits shared by the Slurm tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aitc.control.executors.base import ExecJob, ExecReport, ExecStatus
from aitc.control.executors.slurm import SlurmExecutor
from aitc.control.executors.slurm_cli.rig import SlurmRig
from aitc.domain.cluster import Cluster
from aitc.domain.job import NodeAlloc, Placement

NODES = ("node01", "node02", "node03", "node04")


@dataclass
class SlurmCluster:
    """A handle on the running test cluster."""

    rig: SlurmRig
    cluster: Cluster
    directory: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(self.rig.env)

    @property
    def nodes(self) -> list[str]:
        return self.rig.nodes

    def run(self, *args: str) -> str:
        """A Slurm command against this cluster; its stdout (fails the test on error)."""
        done = subprocess.run(
            list(args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
            cwd=self.directory,  # where sbatch's default slurm-<id>.out files land
        )
        assert done.returncode == 0, f"{args}: {done.stderr}"
        return done.stdout

    def reset(self) -> None:
        """Cancel every job and bring every node back to idle (between tests), resuming the
        nodes a test drained or failed."""
        self.rig.revive()
        self.rig.cancel_all()
        for node, state in self.rig.node_states().items():
            if "+DRAIN" in state or "+FAIL" in state:
                self.run("scontrol", "update", f"NodeName={node}", "State=RESUME")
        self.rig.wait_idle(60)

    def node(self, name: str) -> tuple[str, str]:
        """``name``'s state as ``sinfo`` prints it (``drained``, ``draining``, ``idle`` …) and
        its reason."""
        state, _, reason = (
            self.run("sinfo", "-h", "-N", "-n", name, "-o", "%T|%E").strip().partition("|")
        )
        return state, reason


def placement(**gpus_per_node: int) -> Placement:
    """``placement(node01=8, node02=8)``: whole GPUs 0..n-1 on each node, in rank order."""
    return Placement(tuple(NodeAlloc(n, tuple(range(g))) for n, g in gpus_per_node.items()))


def job(
    job_id: int,
    command: Sequence[str],
    where: Placement,
    *,
    attempt: int = 0,
    time_limit: float | None = None,
    env: dict[str, str] | None = None,
    unix_user: str | None = None,
    logs: Path | None = None,
    signal: str | None = None,
) -> ExecJob:
    """One attempt; ``logs`` is the controller's log directory (``<logs>/<user>/<job>/``)."""
    out = err = ""
    if logs is not None:
        base = logs / (unix_user or "root") / str(job_id)
        out, err = str(base / f"{attempt}.out"), str(base / f"{attempt}.err")
    return ExecJob(
        job_id=job_id,
        attempt=attempt,
        name=f"test-{job_id}",
        command=command,
        placement=where,
        time_limit=time_limit,
        env=env or {},
        unix_user=unix_user,
        stdout_path=out,
        stderr_path=err,
        signal=signal,
    )


def wait_report(
    ex: SlurmExecutor,
    job_id: int,
    *,
    until: set[ExecStatus],
    attempt: int = 0,
    timeout_s: float = 30.0,
) -> ExecReport:
    """Poll until the attempt's report has one of ``until`` (AssertionError with the last one).

    Each round reads the inventory first, as the controller does before it polls.
    """
    deadline = time.monotonic() + timeout_s
    last: ExecReport | None = None
    while time.monotonic() < deadline:
        ex.inventory()
        for r in ex.poll():
            if (r.job_id, r.attempt) == (job_id, attempt):
                last = r
                if r.status in until:
                    return r
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} never reached {until}; last report: {last}")


def wait_allocated(
    ex: SlurmExecutor, job_id: int, *, nodes: int, timeout_s: float = 20.0
) -> dict[str, tuple[int, ...]]:
    """The GPU indices Slurm chose, once the attempt holds GPUs on ``nodes`` nodes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = ex.allocation(job_id, 0)
        if len(got) == nodes and all(got.values()):
            return dict(got)
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} not running on {nodes} nodes: {ex.allocation(job_id, 0)}")


def wait_output(ex: SlurmExecutor, job_id: int, *, lines: int, timeout_s: float = 20.0) -> str:
    """The attempt's stdout once it has ``lines`` lines (every task has started)."""
    path = Path(ex.log_paths(job_id, 0)[0])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if len(text.splitlines()) >= lines:
            return text
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} printed fewer than {lines} lines: {text!r}")

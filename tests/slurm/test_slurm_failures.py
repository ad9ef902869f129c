"""What the Slurm executor does when Slurm is not as aitc left it: foreign jobs, dead nodes,
refused submissions and an unreachable controller."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from slurm_helpers import SlurmCluster, job, placement, wait_allocated, wait_output, wait_report

from aitc.control.executors.base import ExecStatus, NodeState
from aitc.control.executors.slurm import SlurmExecutor
from aitc.errors import SlurmError

pytestmark = pytest.mark.slurm  # runs on the Slurm test cluster of conftest.py


def _nodes(ex: SlurmExecutor) -> dict[str, tuple[NodeState, int]]:
    return {n.name: (n.state, n.foreign_gpus) for n in ex.inventory()}


def test_inventory_lists_every_node_with_its_gpus(executor: SlurmExecutor) -> None:
    nodes = executor.inventory()
    assert [n.name for n in nodes] == ["node01", "node02", "node03", "node04"]
    assert {(len(n.gpus), n.gpus[0].model, n.state) for n in nodes} == {
        (8, "H100-80GB", NodeState.UP)
    }


def test_gpus_of_a_plain_sbatch_job_are_foreign(
    executor: SlurmExecutor, slurm: SlurmCluster
) -> None:
    slurm.run("sbatch", "--parsable", "-w", "node02", "--gres=gpu:3", "--wrap", "sleep 60")
    executor.start(job(1, ["sleep", "60"], placement(node02=4)))
    wait_allocated(executor, 1, nodes=1)
    assert _nodes(executor)["node02"] == (NodeState.UP, 3)
    assert _nodes(executor)["node01"] == (NodeState.UP, 0)


def test_killed_slurmd_makes_the_node_down_and_its_attempt_lost(
    executor: SlurmExecutor, slurm: SlurmCluster
) -> None:
    command = ["bash", "-c", "echo $SLURMD_NODENAME; sleep 300"]
    executor.start(job(2, command, placement(node03=8, node04=8)))
    wait_output(executor, 2, lines=2)  # both tasks run: the node dies under a running job
    slurm.rig.kill_node("node04")
    report = wait_report(executor, 2, until={ExecStatus.LOST}, timeout_s=45)
    assert "node04 is down" in report.cause
    assert _nodes(executor)["node04"][0] == NodeState.DOWN


def test_drained_node_makes_its_attempt_lost(executor: SlurmExecutor, slurm: SlurmCluster) -> None:
    executor.start(job(3, ["sleep", "300"], placement(node01=2)))
    wait_allocated(executor, 3, nodes=1)
    slurm.run("scontrol", "update", "NodeName=node01", "State=DRAIN", "Reason=maintenance")
    try:
        report = wait_report(executor, 3, until={ExecStatus.LOST})
        assert "node01 is drain (maintenance)" in report.cause
        assert _nodes(executor)["node01"][0] == NodeState.DRAIN
    finally:
        slurm.run("scontrol", "update", "NodeName=node01", "State=RESUME")


def test_unknown_node_is_a_slurm_error_with_a_hint(executor: SlurmExecutor) -> None:
    with pytest.raises(SlurmError, match="Invalid node name") as err:
        executor.start(job(4, ["true"], placement(node99=1)))
    assert "sbatch" in str(err.value) and "aitc arch slurm-config" in str(err.value)
    assert not any(r.job_id == 4 for r in executor.poll())


def test_unreachable_controller_is_a_slurm_error_not_a_hang(
    slurm: SlurmCluster, tmp_path: Path
) -> None:
    conf = (slurm.directory / "slurm.conf").read_text()
    port = slurm.rig.options.rig.base_port if slurm.rig.options.rig else 0
    for name in ("gres.conf", "topology.conf", "cgroup.conf"):
        (tmp_path / name).write_text((slurm.directory / name).read_text())
    (tmp_path / "slurm.conf").write_text(
        conf.replace(f"SlurmctldPort={port}\n", "SlurmctldPort=9\n")
    )
    ex = SlurmExecutor(
        tmp_path / "state", env={"SLURM_CONF": str(tmp_path / "slurm.conf")}, timeout_s=8
    )
    started = time.monotonic()
    with pytest.raises(SlurmError, match="sinfo"):
        ex.inventory()
    assert time.monotonic() - started < 20


def test_jobs_of_another_aitc_with_the_same_names_are_foreign_not_adopted(
    executor: SlurmExecutor, slurm: SlurmCluster, tmp_path: Path
) -> None:
    other = SlurmExecutor(tmp_path / "other", env=slurm.env, name_prefix=executor.prefix)
    other.start(job(1, ["sleep", "60"], placement(node03=2)))
    wait_allocated(other, 1, nodes=1)
    assert [r.job_id for r in executor.poll()] == []
    assert _nodes(executor)["node03"] == (NodeState.UP, 2)
    mine = executor.start(job(1, ["sleep", "60"], placement(node03=2)))
    assert mine != other.start(job(1, ["sleep", "60"], placement(node03=2)))

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


def test_drained_node_keeps_its_running_attempt_to_its_end(
    executor: SlurmExecutor, slurm: SlurmCluster, tmp_path: Path
) -> None:
    """Slurm's DRAIN: nothing new starts there, what runs there finishes."""
    go = tmp_path / "go"
    executor.start(
        job(3, ["bash", "-c", f"until [ -e {go} ]; do sleep 0.1; done"], placement(node01=2))
    )
    wait_allocated(executor, 3, nodes=1)
    slurm.run("scontrol", "update", "NodeName=node01", "State=DRAIN", "Reason=maintenance")
    assert slurm.node("node01") == ("draining", "maintenance")
    assert _nodes(executor)["node01"][0] == NodeState.DRAIN
    for _ in range(3):
        assert wait_report(executor, 3, until={ExecStatus.RUNNING}).cause == ""
    go.touch()
    report = wait_report(executor, 3, until={ExecStatus.EXITED})
    assert (report.exit_code, report.cause) == (0, "")
    assert slurm.node("node01") == ("drained", "maintenance")


def test_attempt_pending_on_a_drained_node_is_given_back(
    executor: SlurmExecutor, slurm: SlurmCluster
) -> None:
    slurm.run("scontrol", "update", "NodeName=node02", "State=DRAIN", "Reason=maintenance")
    executor.start(job(5, ["true"], placement(node02=1)))
    report = wait_report(executor, 5, until={ExecStatus.LOST})
    assert "node02 is drain (maintenance)" in report.cause


@pytest.mark.parametrize(
    ("state", "says"),
    # DOWN: Slurm kills the job itself (NODE_FAIL); its slurmd answers, so it comes back
    [("FAIL", "node01 is failing (Slurm FAIL) (psu)"), ("DOWN", "node_fail")],
)
def test_failing_or_down_node_makes_its_attempt_lost(
    executor: SlurmExecutor, slurm: SlurmCluster, state: str, says: str
) -> None:
    """Slurm's FAIL ("expected to fail soon"): aitc gives the node up at once, as for DOWN."""
    executor.start(job(6, ["sleep", "300"], placement(node01=2)))
    wait_allocated(executor, 6, nodes=1)
    slurm.run("scontrol", "update", "NodeName=node01", f"State={state}", "Reason=psu")
    report = wait_report(executor, 6, until={ExecStatus.LOST})
    assert says in report.cause
    if state == "FAIL":
        assert _nodes(executor)["node01"][0] == NodeState.DOWN


def test_admin_states_reach_slurm_and_an_operators_drain_stays(
    executor: SlurmExecutor, slurm: SlurmCluster
) -> None:
    assert executor.update_node("node03", "drain", "firmware 1.2")
    assert executor.update_node("node03", "drain", "firmware 1.2")  # idempotent
    assert slurm.node("node03") == ("drained", "aitc: firmware 1.2")
    assert executor.update_node("node03", "down", "PSU")  # drained too: Slurm cannot undo it
    assert slurm.node("node03") == ("drained", "aitc: PSU")
    assert "DOWN" in slurm.run("scontrol", "show", "node", "node03")
    assert executor.update_node("node03", "resume")
    assert slurm.node("node03")[0].startswith("idle")  # idle* until slurmd registers again
    assert not executor.update_node("node03", "resume")  # nothing of aitc's to resume
    slurm.run("scontrol", "update", "NodeName=node04", "State=DRAIN", "Reason=operator")
    assert not executor.update_node("node04", "drain", "aitc's")
    assert not executor.update_node("node04", "resume")
    assert slurm.node("node04") == ("drained", "operator")
    assert not executor.update_node("node99", "drain", "x")


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

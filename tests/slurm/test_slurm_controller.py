"""aitc's controller with the Slurm executor, end to end on the real test cluster: the engine
decides, Slurm launches on exactly those nodes, failures come back as requeues."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_helpers import SlurmCluster
from slurm_lab import SlurmLab

pytestmark = pytest.mark.slurm  # runs on the Slurm test cluster of conftest.py

# Slurm's GPU indices on the node: with the devices cgroup, CUDA_VISIBLE_DEVICES numbers a
# job's own GPUs from 0 (CUDA sees only those), as on a real cluster.
SHOW = 'echo "$SLURMD_NODENAME gpus=$SLURM_JOB_GPUS"; sleep {s}'
LEAVES = ({"node01", "node02"}, {"node03", "node04"})


@pytest.fixture
def lab(slurm: SlurmCluster, shared_tmp: Path, test_users: object) -> Iterator[SlurmLab]:
    lab = SlurmLab(slurm, shared_tmp)
    yield lab
    lab.close()


def _status(lab: SlurmLab, node: str) -> str:
    from aitc.control.store.drains import node_statuses

    with lab.store.session() as s:
        return node_statuses(session=s)[node].state


def _tasks(output: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in output.splitlines() if line.startswith("node"))


def test_gang_job_runs_on_one_leaf_and_the_rest_fills_the_cluster(lab: SlurmLab) -> None:
    gang = lab.submit(SHOW.format(s=4), gpus=16, nodes=2)
    eight = lab.submit(SHOW.format(s=4), gpus=8)
    fours = [lab.submit(SHOW.format(s=4), gpus=4) for _ in range(2)]
    jobs = [gang, eight, *fours]
    lab.run_until(lambda: all(lab.state(j) == "running" for j in jobs))
    assert set(lab.nodes_of(gang)) in LEAVES
    lab.run_until(lambda: all(lab.state(j) == "completed" for j in jobs))
    tasks = _tasks(lab.output(gang))
    assert set(tasks) == set(lab.nodes_of(gang))
    assert set(tasks.values()) == {"gpus=0,1,2,3,4,5,6,7"}
    used = [n for j in jobs for n in lab.nodes_of(j)]
    assert sorted(used) == ["node01", "node02", "node03", "node04", *sorted(lab.nodes_of(fours[0]))]
    assert lab.nodes_of(fours[0]) == lab.nodes_of(fours[1])
    four_gpus = [_tasks(lab.output(j))[lab.nodes_of(j)[0]] for j in fours]
    assert (
        len({*four_gpus[0].split("=")[1].split(","), *four_gpus[1].split("=")[1].split(",")}) == 8
    )


def test_killed_slurmd_requeues_the_job_onto_another_node(
    lab: SlurmLab, slurm: SlurmCluster
) -> None:
    job = lab.submit(
        'echo "attempt $AITC_ATTEMPT on $SLURMD_NODENAME"; '
        '[ "$AITC_ATTEMPT" = 1 ] && sleep 300; exit 0',
        gpus=8,
    )
    lab.run_until(lambda: "attempt 1 on" in lab.output(job))  # the task runs
    first = lab.nodes_of(job)[0]
    slurm.rig.kill_node(first)
    lab.run_until(lambda: lab.state(job) == "completed", timeout_s=60)
    assert lab.nodes_of(job)[0] != first
    assert lab.job(job).attempt == 2
    states = [state for state, _ in lab.events(job)]
    assert states == [
        "pending",
        "starting",
        "running",
        "pending",
        "starting",
        "running",
        "completed",
    ]
    requeue_cause = lab.events(job)[3][1]
    assert first in requeue_cause and "down" in requeue_cause
    assert {n.name: str(n.state) for n in lab.executor.inventory()}[first] == "down"


def test_restarted_controller_adopts_slurm_jobs_without_duplicating_them(
    lab: SlurmLab, slurm: SlurmCluster
) -> None:
    jobs = [lab.submit("sleep 6", gpus=8), lab.submit("sleep 6", gpus=16, nodes=2)]
    lab.run_until(lambda: all(lab.state(j) == "running" for j in jobs))
    handles = [lab.job(j).handle for j in jobs]
    lab.restart()
    lab.run_until(lambda: all(lab.state(j) == "completed" for j in jobs), timeout_s=40)
    assert [lab.job(j).handle for j in jobs] == handles
    assert [lab.job(j).attempt for j in jobs] == [1, 1]
    names = slurm.run("squeue", "-h", "-t", "all", "-o", "%j").split()
    assert sorted(n for n in names if n.startswith(lab.prefix)) == [
        f"{lab.prefix}-{j}-1" for j in sorted(jobs)
    ]


def test_plain_sbatch_job_is_respected(lab: SlurmLab, slurm: SlurmCluster) -> None:
    slurm.run("sbatch", "-w", "node01", "--gres=gpu:8", "--wrap", "sleep 60")
    # the controller's own books (refreshed from inventory) take node01's GPUs out
    lab.run_until(lambda: not lab.ctl.books.capacity.node_free("node01").gpus)
    gang = lab.submit("sleep 2", gpus=16, nodes=2)
    eight = lab.submit("sleep 2", gpus=8)
    waiting = lab.submit("sleep 2", gpus=8)
    lab.run_until(lambda: lab.state(gang) == "running" and lab.state(eight) == "running")
    assert set(lab.nodes_of(gang)) == {"node03", "node04"}
    assert lab.nodes_of(eight) == ["node02"]
    assert lab.state(waiting) == "pending"
    lab.run_until(lambda: lab.state(waiting) == "completed", timeout_s=30)
    assert lab.nodes_of(waiting) != ["node01"]


def test_refused_submission_fails_the_job_with_slurms_reason_and_the_loop_goes_on(
    lab: SlurmLab, slurm: SlurmCluster
) -> None:
    slurm.run("scontrol", "update", "PartitionName=batch", "State=INACTIVE")
    try:
        refused = lab.submit("true", gpus=1)
        lab.run_until(lambda: lab.state(refused) == "failed")
    finally:
        slurm.run("scontrol", "update", "PartitionName=batch", "State=UP")
    cause = lab.job(refused).cause
    assert "sbatch" in cause and "Required partition not available" in cause
    later = lab.submit("true", gpus=1)
    lab.run_until(lambda: lab.state(later) == "completed")


def test_a_lowered_time_limit_ends_a_running_gang_job_as_a_timeout(lab: SlurmLab) -> None:
    """``aitc update --time`` on a running 2-node job: the controller hands the new limit to
    Slurm (``scontrol update TimeLimit=``, whole minutes) and Slurm ends the job then."""
    from aitc.control.store import load_caller
    from aitc.control.store.update import JobChanges, update_job

    job = lab.submit("sleep 600", gpus=16, nodes=2, time_limit=600.0)
    lab.run_until(lambda: lab.state(job) == "running")
    with lab.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        changes = JobChanges(time_limit=30.0)
        update_job(session=s, caller=caller, job_id=job, changes=changes, now=time.time())
    lab.run_until(lambda: lab.state(job) == "timeout", timeout_s=150)
    causes = [cause for _, cause in lab.events(job)]
    assert "time limit 00:10:00 -> 00:00:30 by alice" in causes
    assert "time limit 00:00:30 applied" in causes


def test_a_node_slurm_drains_finishes_its_job_and_takes_no_new_one(
    lab: SlurmLab, slurm: SlurmCluster, shared_tmp: Path
) -> None:
    go = shared_tmp / "go"
    first = lab.submit(f"echo started; until [ -e {go} ]; do sleep 0.1; done", gpus=4)
    lab.run_until(lambda: "started" in lab.output(first))  # runs in Slurm, not only queued
    (node,) = lab.nodes_of(first)
    slurm.run("scontrol", "update", f"NodeName={node}", "State=DRAIN", "Reason=maintenance")
    lab.run_until(lambda: _status(lab, node) == "drain")
    later = [lab.submit("true", gpus=4) for _ in range(3)]  # would fit beside ``first``
    lab.run_until(lambda: all(lab.state(j) == "completed" for j in later))
    assert all(lab.nodes_of(j) != [node] for j in later)
    assert lab.state(first) == "running", lab.events(first)
    go.touch()
    lab.run_until(lambda: lab.state(first) == "completed")
    assert [s for s, _ in lab.events(first)] == ["pending", "starting", "running", "completed"]
    assert slurm.node(node) == ("drained", "maintenance")


def test_an_admins_drain_reaches_slurm_and_resume_clears_it(
    lab: SlurmLab, slurm: SlurmCluster
) -> None:
    from aitc.control.store.drains import set_admin_state

    def admin(state: str, reason: str = "") -> None:
        with lab.store.session() as s:
            set_admin_state(
                session=s, node="node02", state=state, reason=reason, by="admin", now=time.time()
            )

    admin("drain", "firmware 1.2")
    lab.run_until(lambda: slurm.node("node02") == ("drained", "aitc: firmware 1.2"))
    plain = slurm.run("sbatch", "--parsable", "-w", "node02", "--wrap", "true").strip()
    assert slurm.run("squeue", "-h", "-j", plain, "-o", "%T").strip() == "PENDING"
    admin("resume")
    lab.run_until(lambda: not slurm.node("node02")[0].startswith("drain"))
    lab.run_until(lambda: not slurm.run("squeue", "-h", "-j", plain, "-o", "%T").strip())

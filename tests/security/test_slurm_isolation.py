"""Jobs of two members, through the Slurm executor on the real test cluster, are kept apart as
Slurm keeps its users apart: each job runs as its member's Unix account (sbatch itself runs as
the member), sees none of the server's records, database or environment, and cannot read,
overwrite or signal what belongs to the other member. A job's own environment (its ``PATH``)
never chooses which Slurm commands the controller runs. A job cannot signal Slurm's daemons.
Where the host has cgroup v1 (the rig then runs ``proctrack/cgroup`` and ``task/cgroup``, see
``aitc.control.executors.slurm_cli.rig``), a daemon a job left behind is gone when the job ends
and a job opens only its own GPUs' device files.

alice (``aitc-t-alice``) and bob (``aitc-t-bob``) stand for members of two organisations: the
executor knows only their Unix accounts. The cluster is the one of ``tests/slurm`` (shared
through ``tests/slurm/slurm_fixtures.py``, one per session); the scenario runs once per module.
"""

from __future__ import annotations

import itertools
import os
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "slurm"))

from slurm_fixtures import TEST_USERS, shared_root, slurm_cluster, test_users  # noqa: E402
from slurm_helpers import (  # noqa: E402
    SlurmCluster,
    job,
    placement,
    wait_allocated,
    wait_report,
)

from aitc.control.accounts import Account, resolve  # noqa: E402
from aitc.control.executors import slurm as slurm_module  # noqa: E402
from aitc.control.executors.base import ExecStatus  # noqa: E402
from aitc.control.executors.slurm import SlurmExecutor  # noqa: E402
from aitc.domain.job import Placement  # noqa: E402
from aitc.errors import ExecutorError  # noqa: E402

pytestmark = pytest.mark.slurm  # runs on the Slurm test cluster of tests/slurm

__all__ = ["slurm_cluster", "test_users"]  # fixtures, imported for pytest

SECRET = "AITC_SECRET_FOR_TEST"
ENDED = {ExecStatus.EXITED, ExecStatus.TIMEOUT, ExecStatus.CANCELLED, ExecStatus.LOST}

# What alice's job tries, as alice; one "name=allowed|denied" line per attempt, then its env.
PROBE = r"""
echo "uid=$(/usr/bin/id -u)"
probe() {
  name=$1; shift
  if "$@" >/dev/null 2>&1; then echo "$name=allowed"; else echo "$name=denied"; fi
}
probe list_state /bin/ls "$1"
probe read_database /bin/cat "$2"
probe read_bob_batch /bin/cat "$3"
probe read_bob_log /bin/cat "$4"
probe list_bob_jobs /bin/ls "$5"
probe write_bob_exit /bin/sh -c 'echo "{\"status\": \"exited\", \"exit_code\": 0}" > "$0"' "$6"
msg=$(kill -0 "$7" 2>&1); echo "kill_rc=$? kill_msg=$msg"
echo "env-begin"; /usr/bin/env; echo "env-end"
"""


@dataclass
class Scenario:
    base: Path
    executor: SlurmExecutor
    alice: Account
    bob: Account
    bob_pid: int
    bob_users: str  # squeue's user of bob's job while it ran
    probe: dict[str, str]
    env: dict[str, str]
    marker: Path

    def bob_job_dir(self) -> Path:
        return self.executor.jobs_dir / self.bob.name / self.executor.job_name(1, 0)


def _wait_text(path: Path, needle: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{path} never showed {needle!r}: {text!r}")


def _plant_evil(directory: Path, marker: Path) -> None:
    """Slurm commands that would leave ``marker`` if anything ran them."""
    directory.mkdir()
    directory.chmod(0o755)
    for name in ("sbatch", "squeue", "sinfo", "scancel", "scontrol", "runuser", "srun", "bash"):
        path = directory / name
        path.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\nexit 1\n')
        path.chmod(0o755)


@pytest.fixture(scope="module")
def scenario(
    slurm_cluster: SlurmCluster, test_users: list[Account], request: pytest.FixtureRequest
) -> Iterator[Scenario]:
    alice, bob = test_users
    base = shared_root(request.config) / "isolation"
    # Modes are set explicitly: other tests of the session may have set a umask of 077.
    base.mkdir()
    base.chmod(0o755)
    server = base / "server"  # stands for aitc serve's directory, open to all on purpose:
    server.mkdir()  # what protects the records must be the executor's own modes
    server.chmod(0o755)
    marker = base / "evil-ran"
    _plant_evil(base / "evil", marker)
    slurm_cluster.reset()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET, "server-only")
        ex = SlurmExecutor(server / "slurm", env=slurm_cluster.env, name_prefix="aitc-iso")
        database = ex.state_dir / "aitc.db"
        database.write_text("the server's database")
        database.chmod(0o644)  # readable by all, yet inside the private state directory
        logs = base / "logs"
        bob_cmd = ["/bin/bash", "-c", "echo pid=$$; exec /bin/sleep 120"]
        bob_env = {"PATH": str(base / "evil"), "BOB_TOKEN": "bob-only"}
        bob_job = job(1, bob_cmd, placement(node01=1), env=bob_env, unix_user=bob.name, logs=logs)
        ex.start(bob_job)
        bob_log = Path(bob_job.stdout_path)
        bob_pid = int(_wait_text(bob_log, "pid=").split("pid=")[1].split()[0])
        os.kill(bob_pid, 0)  # it runs (root may signal it)
        bob_users = slurm_cluster.run("squeue", "-h", "-o", "%j %u")
        bob_batch = ex.state_dir / "slurm" / ex.job_name(1, 0) / "batch.sh"
        bob_exit = ex.jobs_dir / bob.name / ex.job_name(1, 0) / "exit.json"
        args = [ex.state_dir, database, bob_batch, bob_log, bob_exit.parent.parent, bob_exit]
        alice_cmd = ["/bin/bash", "-c", PROBE, "probe", *map(str, args), str(bob_pid)]
        alice_job = job(
            2,
            alice_cmd,
            placement(node02=1),
            env={"GREETING": "hello"},
            unix_user=alice.name,
            logs=logs,
        )
        ex.start(alice_job)
        report = wait_report(ex, 2, until=ENDED)
        assert (report.status, report.exit_code) == (ExecStatus.EXITED, 0), report
        out = Path(alice_job.stdout_path).read_text()
        head, _, rest = out.partition("env-begin\n")
        probe = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
        env = dict(
            line.split("=", 1) for line in rest.partition("env-end")[0].splitlines() if "=" in line
        )
        ex.cancel(1, 0)
        assert wait_report(ex, 1, until=ENDED).status == ExecStatus.CANCELLED
    try:
        yield Scenario(base, ex, alice, bob, bob_pid, bob_users, probe, env, marker)
    finally:
        slurm_cluster.reset()


def test_each_job_runs_as_its_member(scenario: Scenario) -> None:
    assert scenario.probe["uid"] == str(scenario.alice.uid)
    assert f"{scenario.executor.job_name(1, 0)} {scenario.bob.name}" in scenario.bob_users
    assert scenario.env["USER"] == scenario.alice.name
    assert scenario.env["HOME"] == scenario.alice.home


def test_a_job_cannot_read_the_servers_records_or_database(scenario: Scenario) -> None:
    assert scenario.probe["list_state"] == "denied"
    assert scenario.probe["read_database"] == "denied"
    assert scenario.probe["read_bob_batch"] == "denied"
    state = scenario.executor.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700 and state.stat().st_uid == os.geteuid()
    for record in (state / "slurm-done" / scenario.executor.job_name(2, 0)).iterdir():
        assert stat.S_IMODE(record.stat().st_mode) == 0o600, record


def test_a_job_cannot_read_or_overwrite_another_members_files(scenario: Scenario) -> None:
    assert scenario.probe["read_bob_log"] == "denied"
    assert scenario.probe["list_bob_jobs"] == "denied"
    assert scenario.probe["write_bob_exit"] == "denied"
    for path in (scenario.bob_job_dir(), scenario.bob_job_dir().parent):
        st = path.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (scenario.bob.uid, 0o700), path
    log_dir = scenario.base / "logs" / scenario.bob.name
    assert (log_dir.stat().st_uid, stat.S_IMODE(log_dir.stat().st_mode)) == (
        scenario.bob.uid,
        0o700,
    )


def test_a_job_cannot_signal_another_members_job(scenario: Scenario) -> None:
    assert scenario.probe["kill_rc"].split()[0] != "0"
    assert "Operation not permitted" in scenario.probe["kill_rc"]


def test_the_servers_environment_does_not_reach_the_job(scenario: Scenario) -> None:
    assert SECRET not in scenario.env
    assert "BOB_TOKEN" not in scenario.env
    assert scenario.env["GREETING"] == "hello"
    assert scenario.env["AITC_JOB_ID"] == "2"


def test_a_jobs_path_never_chooses_the_controllers_slurm_commands(scenario: Scenario) -> None:
    assert not scenario.marker.exists(), scenario.marker.read_text()
    assert "pid=" in (scenario.base / "logs" / scenario.bob.name / "1" / "0.out").read_text()


_runs = itertools.count()

# Opens each fake GPU of the rig read-write; prints "N ENXIO" (the devices cgroup let it through,
# no driver answered) or "N EPERM" (the cgroup refused it).
OPEN_GPUS = """
import errno, os, sys
for n in range(8):
    try:
        os.close(os.open(f"{sys.argv[1]}/nvidia{n}", os.O_RDWR))
        print(n, "opened")
    except OSError as e:
        print(n, errno.errorcode[e.errno])
"""


@dataclass
class Members:
    """A Slurm executor of its own for one test, and its log directory."""

    cluster: SlurmCluster
    executor: SlurmExecutor
    logs: Path

    def start(self, job_id: int, account: Account, script: str, where: Placement) -> Path:
        """Start ``script`` as ``account``'s job; the path of its stdout."""
        j = job(job_id, ["/bin/bash", "-c", script], where, unix_user=account.name, logs=self.logs)
        self.executor.start(j)
        return Path(j.stdout_path)

    def run(self, job_id: int, account: Account, script: str, where: Placement) -> str:
        """Run ``script`` as ``account``'s job to its end (exit 0); its stdout."""
        out = self.start(job_id, account, script, where)
        report = wait_report(self.executor, job_id, until=ENDED)
        assert (report.status, report.exit_code) == (ExecStatus.EXITED, 0), report
        return out.read_text()


@pytest.fixture
def members(
    slurm_cluster: SlurmCluster, test_users: list[Account], request: pytest.FixtureRequest
) -> Iterator[Members]:
    n = next(_runs)
    base = shared_root(request.config) / f"members-{n}"
    base.mkdir()
    base.chmod(0o755)
    slurm_cluster.reset()
    ex = SlurmExecutor(base / "slurm", env=slurm_cluster.env, name_prefix=f"aitc-m{n}")
    try:
        yield Members(slurm_cluster, ex, base / "logs")
    finally:
        ex.close()
        slurm_cluster.reset()


def _needs_cgroups(cluster: SlurmCluster) -> None:
    if not cluster.rig.confined:
        pytest.skip(
            "the Slurm test cluster runs without cgroups on this host (no cgroup v1 freezer, "
            "devices and memory hierarchies): jobs are not confined"
        )


def test_a_daemon_started_by_a_job_is_gone_when_the_job_ends(
    members: Members, test_users: list[Account]
) -> None:
    _needs_cgroups(members.cluster)
    alice, _ = test_users
    script = (
        "setsid /bin/sleep 600 </dev/null >/dev/null 2>&1 & d=$!; echo daemon=$d; "
        "sleep 0.3; [ -d /proc/$d ] && echo alive=$(stat -c %U /proc/$d)"
    )
    out = members.run(1, alice, script, placement(node01=1))
    assert f"alive={alice.name}" in out, out  # it ran, as alice, when the job's script ended
    daemon = Path(f"/proc/{out.split('daemon=')[1].split()[0]}")
    deadline = time.monotonic() + 10
    while daemon.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not daemon.exists(), "the job's daemon outlived its job"


def test_a_job_opens_only_its_own_gpu_device_files(
    members: Members, test_users: list[Account]
) -> None:
    _needs_cgroups(members.cluster)
    alice, bob = test_users
    rig = members.cluster.rig.options.rig
    assert rig is not None
    members.start(1, bob, "exec /bin/sleep 60", placement(node03=2))
    bobs = set(wait_allocated(members.executor, 1, nodes=1)["node03"])
    script = (
        'echo "gpus=$SLURM_JOB_GPUS cuda=$CUDA_VISIBLE_DEVICES"; '
        f"/usr/bin/python3 -c '{OPEN_GPUS}' {rig.device_dir}"
    )
    out = members.run(2, alice, script, placement(node03=2))
    mine = {int(g) for g in out.split("gpus=")[1].split()[0].split(",")}
    assert len(mine) == 2 and not mine & bobs, out
    assert "cuda=0,1" in out  # CUDA numbers the job's own GPUs from 0, as on a real cluster
    seen = dict(line.split() for line in out.splitlines() if line[:1].isdigit())
    assert {int(n) for n, what in seen.items() if what == "ENXIO"} == mine, out
    assert {int(n) for n, what in seen.items() if what == "EPERM"} == set(range(8)) - mine, out
    members.executor.cancel(1, 0)


def test_a_job_cannot_signal_slurms_daemons_and_the_cluster_stays_healthy(
    members: Members, test_users: list[Account]
) -> None:
    alice, _ = test_users
    rig = members.cluster.rig
    daemons = rig.daemon_pids()
    assert {"munged", "slurmctld", "slurmd-node02"} <= daemons.keys()
    # $PPID: the slurmstepd (root) that runs this very task.
    targets = {**daemons, "slurmstepd": "$PPID"}
    script = "; ".join(
        f'out=$(kill -KILL {pid} 2>&1); echo "{name} rc=$? $out"' for name, pid in targets.items()
    )
    out = members.run(1, alice, script, placement(node02=1))
    lines = [line for line in out.splitlines() if " rc=" in line]
    assert len(lines) == len(targets), out
    for line in lines:
        assert " rc=1 " in line and "Operation not permitted" in line, line
    assert rig.daemon_pids() == daemons  # every daemon still runs, with the same pid
    rig.wait_idle(10)
    assert "UP" in members.cluster.run("scontrol", "ping")
    assert members.run(2, alice, "echo still-schedules", placement(node04=1)) == "still-schedules\n"


def test_an_unknown_account_is_refused_naming_it(tmp_path: Path) -> None:
    ex = SlurmExecutor(tmp_path / "state", env={"SLURM_CONF": "/nonexistent"})
    assert resolve("aitc-t-nobody") is None
    with pytest.raises(ExecutorError, match="aitc-t-nobody"):
        ex.start(job(1, ["true"], placement(node01=1), unix_user="aitc-t-nobody"))


def test_a_server_that_cannot_switch_users_refuses_other_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slurm_module, "can_switch_users", lambda: False)
    ex = SlurmExecutor(tmp_path / "state", env={"SLURM_CONF": "/nonexistent"})
    with pytest.raises(ExecutorError, match="cannot start jobs as"):
        ex.start(job(1, ["true"], placement(node01=1), unix_user=TEST_USERS[1]))

"""The test rig itself: jobs in cgroups of the rig's own, and nothing left when it stops.

A second, one-node rig runs beside the session's cluster with the same node name (``node01``):
Slurm 22.05 names a node's cgroups ``slurm_<node>``, so only the rig's own cgroup subtree
(``aitc-rig-<port>``) keeps the two apart.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from slurm_helpers import SlurmCluster

from aitc.control.executors.slurm_cli.rig import CGROUP_CONTROLLERS, SlurmRig, cgroup_v1_roots
from aitc.domain.cluster import Cluster, Node
from aitc.domain.node import node_model

pytestmark = pytest.mark.slurm  # runs beside the Slurm test cluster of conftest.py

# A daemon with no environment (so that only its cgroup says whose it is), then a long job.
LEAVE = "env -i setsid /bin/sleep 600 </dev/null >/dev/null 2>&1 & echo daemon=$!; sleep 600"


def _wait_text(path: Path, needle: str, timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{path} never showed {needle!r}")


def _mounts_under(directory: Path) -> list[str]:
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(directory))
    ]


def test_the_rig_confines_jobs_where_the_host_has_cgroup_v1(slurm: SlurmCluster) -> None:
    assert slurm.rig.confined == (cgroup_v1_roots() is not None)
    conf = (slurm.directory / "cgroup.conf").read_text()
    if slurm.rig.confined:
        assert f"CgroupMountpoint={slurm.directory}/cgroup\n" in conf
        assert sorted(_mounts_under(slurm.directory)) == sorted(
            f"{slurm.directory}/cgroup/{c}" for c in CGROUP_CONTROLLERS
        )


def test_a_stopped_rig_leaves_no_process_cgroup_or_mount_behind(
    slurm: SlurmCluster, shared_tmp: Path
) -> None:
    if cgroup_v1_roots() is None:
        pytest.skip("no cgroup v1 freezer, devices and memory hierarchies on this host")
    solo = Cluster("solo", (Node("node01", node_model("dgx-h100"), leaf=0, su=0),))
    rig = SlurmRig(solo, shared_tmp / "rig", cgroups=True)
    hosts = dict(rig._cgroups)
    try:
        rig.start()
        out = shared_tmp / "job.out"
        done = subprocess.run(
            ["sbatch", "--parsable", "--gres=gpu:1", "-o", str(out), "--wrap", LEAVE],
            env=rig.env,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert done.returncode == 0, done.stderr
        daemon = int(_wait_text(out, "daemon=").split("daemon=")[1].split()[0])
        cgroups = Path(f"/proc/{daemon}/cgroup").read_text()
        assert f"/aitc-rig-{rig.options.rig.base_port}/slurm_node01/" in cgroups  # type: ignore[union-attr]
        # The node dies under its job: no slurmd to end it, and the daemon has no SLURM_CONF.
        rig.kill_node("node01")
    finally:
        rig.stop()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{daemon}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{daemon}").exists()
    assert not any(h.exists() for h in hosts.values()), hosts
    assert _mounts_under(shared_tmp) == []
    slurm.rig.wait_idle(10)  # the session's cluster, with the same node names, is untouched

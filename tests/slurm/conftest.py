"""The Slurm test cluster: four nodes (two leaves of two, 8 fake H100s each) on loopback.

One cluster per test session. The fixture installs nothing: it renders the configuration with
aitc's own renderer, starts its own munged, slurmctld and one ``slurmd -N nodeXX`` per node in a
temporary directory, waits until every node is idle and stops everything at the end. Missing
Slurm or munge binaries make it FAIL (never skip): ``scripts/test`` installs them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_helpers import NODES, SlurmCluster

from aitc.control.executors.slurm import SlurmExecutor
from aitc.control.executors.slurm_cli.rig import SlurmRig
from aitc.domain.cluster import Cluster, Node
from aitc.domain.node import node_model
from aitc.errors import SlurmError


def rig_cluster() -> Cluster:
    """Two leaves (node01-02, node03-04) in one scalable unit."""
    model = node_model("dgx-h100")
    return Cluster("rig", tuple(Node(n, model, leaf=i // 2, su=0) for i, n in enumerate(NODES)))


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    directory = tmp_path_factory.mktemp("slurm-rig")
    rig = SlurmRig(rig_cluster(), directory)
    try:
        rig.start(wait_s=60)
    except SlurmError as e:
        rig.stop()
        pytest.fail(f"the Slurm test cluster did not start: {e}", pytrace=False)
    try:
        yield SlurmCluster(rig, rig.cluster, directory)
    finally:
        rig.stop()


_prefixes = itertools.count()


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The session's cluster, idle and empty at the start of the test."""
    slurm_cluster.reset()
    yield slurm_cluster
    slurm_cluster.reset()


@pytest.fixture
def executor(slurm: SlurmCluster, tmp_path: Path) -> Iterator[SlurmExecutor]:
    """A SlurmExecutor on the test cluster, with a job-name prefix of its own per test."""
    ex = SlurmExecutor(tmp_path / "state", env=slurm.env, name_prefix=f"aitc-t{next(_prefixes)}")
    yield ex
    ex.close()

"""The Slurm test cluster's fixtures, shared by ``tests/slurm`` and ``tests/security``.

One cluster per test session, whoever asks first: ``tests/slurm/conftest.py`` and
``tests/security/test_slurm_isolation.py`` both import these fixtures, and both get the same rig
(a module-level singleton, stopped when pytest ends). Everything lives below one directory in
``/tmp`` that every user may enter (pytest's own ``/tmp/pytest-of-root`` is private to root, and
jobs of the test users must reach the munge socket, slurm.conf, their logs and their exit
records). The fixtures install nothing: missing Slurm or munge binaries make them FAIL (never
skip); ``scripts/test`` installs them.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_helpers import NODES, SlurmCluster

from aitc.control.accounts import Account
from aitc.control.executors.slurm import SlurmExecutor
from aitc.control.executors.slurm_cli.rig import SlurmRig, ensure_test_users
from aitc.domain.cluster import Cluster, Node
from aitc.domain.node import node_model
from aitc.errors import SlurmError

# Two members of two organisations, as Unix accounts (created when missing, never deleted).
TEST_USERS = ("aitc-t-alice", "aitc-t-bob")


def rig_cluster() -> Cluster:
    """Two leaves (node01-02, node03-04) in one scalable unit."""
    model = node_model("dgx-h100")
    return Cluster("rig", tuple(Node(n, model, leaf=i // 2, su=0) for i, n in enumerate(NODES)))


class _Shared:
    root: Path | None = None
    cluster: SlurmCluster | None = None
    counter = itertools.count()


def shared_root(config: pytest.Config) -> Path:
    """This session's directory that every user may enter (removed when pytest ends)."""
    if _Shared.root is None:
        root = Path(tempfile.mkdtemp(prefix="aitc-slurm-tests-"))
        root.chmod(0o755)
        _Shared.root = root

        def remove() -> None:
            shutil.rmtree(root, ignore_errors=True)
            _Shared.root = None

        config.add_cleanup(remove)
    return _Shared.root


def shared_cluster(config: pytest.Config) -> SlurmCluster:
    """The session's Slurm cluster, started on first use (``pytest.fail`` if it cannot)."""
    if _Shared.cluster is None:
        directory = shared_root(config) / "rig"
        directory.mkdir()
        directory.chmod(0o755)  # explicitly: another test may have set a umask of 077
        rig = SlurmRig(rig_cluster(), directory)
        try:
            rig.start(wait_s=60)
        except SlurmError as e:
            rig.stop()
            pytest.fail(f"the Slurm test cluster did not start: {e}", pytrace=False)

        def stop() -> None:
            rig.stop()
            _Shared.cluster = None

        config.add_cleanup(stop)  # runs before the root is removed (cleanups run in reverse)
        _Shared.cluster = SlurmCluster(rig, rig.cluster, directory)
    return _Shared.cluster


@pytest.fixture(scope="session")
def slurm_cluster(request: pytest.FixtureRequest) -> SlurmCluster:
    return shared_cluster(request.config)


@pytest.fixture(scope="session")
def test_users() -> list[Account]:
    """The test members' Unix accounts (``useradd`` when missing)."""
    try:
        return ensure_test_users(TEST_USERS)
    except SlurmError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The session's cluster, idle and empty at the start of the test."""
    slurm_cluster.reset()
    yield slurm_cluster
    slurm_cluster.reset()


@pytest.fixture
def shared_tmp(request: pytest.FixtureRequest) -> Path:
    """A fresh directory for this test that every user may enter (unlike ``tmp_path``)."""
    path = shared_root(request.config) / f"t{next(_Shared.counter)}"
    path.mkdir()
    path.chmod(0o755)
    return path


_prefixes = itertools.count()


@pytest.fixture
def executor(slurm: SlurmCluster, tmp_path: Path) -> Iterator[SlurmExecutor]:
    """A SlurmExecutor on the test cluster, with a job-name prefix of its own per test."""
    ex = SlurmExecutor(tmp_path / "state", env=slurm.env, name_prefix=f"aitc-t{next(_prefixes)}")
    yield ex
    ex.close()

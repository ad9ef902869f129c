"""The Slurm test cluster: four nodes (two leaves of two, 8 fake H100s each) on loopback.

One cluster per test session. The fixture installs nothing: it renders the configuration with
aitc's own renderer, starts its own munged, slurmctld and one ``slurmd -N nodeXX`` per node in a
temporary directory, waits until every node is idle and stops everything at the end. Missing
Slurm or munge binaries make it FAIL (never skip): ``scripts/test`` installs them. The fixtures
live in ``slurm_fixtures.py`` so that ``tests/security`` shares the same cluster.
"""

from __future__ import annotations

from slurm_fixtures import (
    executor,
    rig_cluster,
    shared_tmp,
    slurm,
    slurm_cluster,
    test_users,
)

__all__ = ["executor", "rig_cluster", "shared_tmp", "slurm", "slurm_cluster", "test_users"]

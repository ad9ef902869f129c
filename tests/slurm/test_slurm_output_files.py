"""``--output`` under the Slurm executor: Slurm writes the job's own file as its member, from
the batch step, with the pattern aitc expanded (Slurm expands nothing more)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_helpers import SlurmCluster
from slurm_lab import SlurmLab

from aitc.control.accounts import Account

pytestmark = pytest.mark.slurm  # runs on the Slurm test cluster of conftest.py

ENDED = {"completed", "failed", "cancelled", "timeout"}


@pytest.fixture
def lab(slurm: SlurmCluster, shared_tmp: Path, test_users: object) -> Iterator[SlurmLab]:
    lab = SlurmLab(slurm, shared_tmp)
    yield lab
    lab.close()


def test_output_lands_in_the_members_directory_with_the_jobs_output(
    lab: SlurmLab, shared_tmp: Path, test_users: list[Account]
) -> None:
    alice = test_users[0]
    mine = shared_tmp / "alice-logs"
    mine.mkdir()
    os.chown(mine, alice.uid, alice.gid)
    job_id = lab.submit(
        "echo out-$SLURMD_NODENAME; echo err >&2; id -u",
        gpus=16,
        nodes=2,
        name="train",
        output=f"{mine}/%x-%j-100%%.out",
    )
    lab.run_until(lambda: lab.state(job_id) in ENDED, 60)
    assert lab.state(job_id) == "completed", lab.summary()
    out = mine / f"train-{job_id}-100%.out"  # aitc's job number; the %% stays one %
    assert out.stat().st_uid == alice.uid
    lines = out.read_text().splitlines()
    nodes = lab.nodes_of(job_id)
    assert sorted(line for line in lines if line.startswith("out-")) == [
        f"out-{n}" for n in sorted(nodes)
    ]
    assert "err" in lines and str(alice.uid) in lines
    assert lab.job(job_id).stdout_path == lab.job(job_id).stderr_path == str(out)


def test_a_link_planted_in_place_of_the_file_writes_nothing_of_roots(
    lab: SlurmLab, shared_tmp: Path, test_users: list[Account]
) -> None:
    alice = test_users[0]
    mine = shared_tmp / "alice-logs"
    mine.mkdir()
    os.chown(mine, alice.uid, alice.gid)
    roots = shared_tmp / "roots-file"
    roots.write_text("root's own\n")
    roots.chmod(0o644)
    planted = mine / "train.out"
    planted.symlink_to(roots)
    os.lchown(planted, alice.uid, alice.gid)
    job_id = lab.submit("echo overwritten", gpus=1, output=str(planted))
    lab.run_until(lambda: lab.state(job_id) in ENDED, 60)
    assert roots.read_text() == "root's own\n"
    assert lab.state(job_id) == "failed", lab.summary()
    assert f"Slurm could likely not open the job's own file '{planted}'" in lab.job(job_id).cause

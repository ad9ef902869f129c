"""`aitc arch slurm-config`: files from a cluster file or a lab, test-rig devices, clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from aitc.arch.clusterfile import dump_cluster
from aitc.cli.main import app
from aitc.domain.cluster import Cluster, Node
from aitc.domain.node import node_model

ROOT = Path(__file__).resolve().parents[2]


def _cluster_file(tmp_path: Path) -> Path:
    m = node_model("dgx-b200")
    path = tmp_path / "cluster.yaml"
    dump_cluster(Cluster("b", (Node("b1", m, 0, 0), Node("b2", m, 1, 0))), path)
    return path


def test_writes_the_four_files_from_a_cluster_file(tmp_path: Path) -> None:
    out = tmp_path / "slurm"
    result = CliRunner().invoke(
        app, ["arch", "slurm-config", "--cluster", str(_cluster_file(tmp_path)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "cgroup.conf",
        "gres.conf",
        "slurm.conf",
        "topology.conf",
    ]
    assert "NodeName=b[1-2] CPUs=224" in (out / "slurm.conf").read_text()
    assert "Gres=gpu:b200:8" in (out / "slurm.conf").read_text()


def test_lab_file_gives_its_cluster(tmp_path: Path) -> None:
    out = tmp_path / "slurm"
    result = CliRunner().invoke(
        app,
        ["arch", "slurm-config", "--lab", str(ROOT / "examples/joint-lab.yaml"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "SwitchName=top Switches=su0" in (out / "topology.conf").read_text()


def test_test_rig_creates_fake_gpu_character_devices(tmp_path: Path) -> None:
    out = tmp_path / "rig"
    result = CliRunner().invoke(
        app,
        [
            "arch",
            "slurm-config",
            "--cluster",
            str(_cluster_file(tmp_path)),
            "--out",
            str(out),
            "--test-rig",
            "--fake-gpus",
            "--base-port",
            "31000",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Port=[31002-31003]" in (out / "slurm.conf").read_text()
    if os.geteuid() == 0:
        assert stat.S_ISCHR((out / "dev/nvidia7").stat().st_mode)
    else:
        assert f"mknod {out}/dev/nvidia7 c 195 7" in result.output


def test_bad_arguments_exit_2_with_the_reason(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(app, ["arch", "slurm-config", "--out", str(tmp_path)])
    assert neither.exit_code == 2 and "exactly one of --cluster" in neither.output
    bad_mig = runner.invoke(
        app,
        [
            "arch",
            "slurm-config",
            "--cluster",
            str(_cluster_file(tmp_path)),
            "--out",
            str(tmp_path / "o"),
            "--mig",
            "7:9g.1gb",
        ],
    )
    assert bad_mig.exit_code == 2 and "unknown MIG profile '9g.1gb'" in bad_mig.output

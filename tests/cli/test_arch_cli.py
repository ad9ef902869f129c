"""`aitc arch list` and `aitc arch build`, run through the real typer app."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from aitc.arch import REFERENCE_ARCHITECTURES, load_cluster
from aitc.cli.arch import app

runner = CliRunner()

# RA-11333-001: SUs -> nodes, leaf, spine, node+UFM cables, leaf-spine cables.
PUBLISHED_H100 = {
    1: (31, 8, 4, 252, 256),
    2: (63, 16, 8, 508, 512),
    3: (95, 24, 16, 764, 768),
    4: (127, 32, 16, 1020, 1024),
}


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["build", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("sus", sorted(PUBLISHED_H100))
def test_build_json_reproduces_the_published_h100_superpod(sus):
    d = run_json("dgx-h100-superpod", "--sus", str(sus))
    cf = d["compute_fabric"]
    nodes, leaf, spine, down, up = PUBLISHED_H100[sus]
    assert d["reference_architecture"] == "dgx-h100-superpod"
    assert (d["nodes"], d["gpus"], d["scalable_units"]) == (nodes, nodes * 8, sus)
    assert d["gpu_model"] == "H100-80GB"
    assert (cf["tiers"], cf["leaf_switches"], cf["spine_switches"], cf["core_switches"]) == (
        2,
        leaf,
        spine,
        0,
    )
    assert (cf["node_to_leaf_cables"], cf["leaf_to_spine_cables"]) == (down, up)
    assert d["gpu_memory_tb"] == pytest.approx(nodes * 0.64)


def test_build_yaml_carries_the_same_data_as_json():
    as_json = run_json("dgx-b200-superpod", "--nodes", "40")
    result = runner.invoke(app, ["build", "dgx-b200-superpod", "--nodes", "40", "--format", "yaml"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout) == as_json


def test_build_table_shows_the_bom():
    result = runner.invoke(
        app, ["build", "dgx-h100-superpod", "--sus", "4"], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    assert "RA-11333-001" in result.stdout
    assert "compute_fabric.leaf_to_spine_cables" in result.stdout
    assert "1,024" in result.stdout


def test_build_out_writes_a_cluster_file(tmp_path):
    out = tmp_path / "cluster.yaml"
    result = runner.invoke(
        app,
        ["build", "dgx-h100-superpod", "--sus", "1", "--format", "json", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    cluster = load_cluster(out)
    assert len(cluster) == 31
    assert cluster.reference_architecture == "dgx-h100-superpod"


def test_list_shows_every_reference_architecture():
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in REFERENCE_ARCHITECTURES:
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dgx-h100-superpod", "--sus", "0"], "--sus: must be at least 1"),
        (["dgx-h100-superpod", "--nodes", "-4"], "--nodes: must be at least 1"),
        (["dgx-h100-superpod", "--sus", "300"], "--sus: must be at most 256"),
        (["dgx-h100-basepod", "--nodes", "17"], "--nodes: must be at most 16"),
        (["dgx-h100-superpod"], "give exactly one of --sus and --nodes"),
        (["dgx-h100-superpod", "--sus", "1", "--nodes", "2"], "give exactly one"),
        (["dgx-q100-superpod", "--sus", "1"], "unknown reference architecture 'dgx-q100-superpod'"),
    ],
)
def test_bad_ra_or_size_exits_2_naming_the_flag_and_reason(args, message):
    result = runner.invoke(app, ["build", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_unwritable_out_exits_2(tmp_path):
    result = runner.invoke(
        app,
        [
            "build",
            "dgx-h100-superpod",
            "--sus",
            "1",
            "--out",
            str(tmp_path / "missing" / "c.yaml"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2
    assert "--out: cannot write" in result.stderr


def test_arch_is_a_subcommand_of_aitc():
    from aitc.cli.main import app as main_app  # imported here: it pulls in every command

    result = runner.invoke(
        main_app, ["arch", "build", "dgx-h100-basepod", "--nodes", "2", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["compute_fabric"]["tiers"] == 1

"""Cluster files: round trip, hand-written files, and errors that name file, line and field."""

import textwrap

import pytest

from aitc.arch import NodeSpec, build, cluster_from_nodes, dump_cluster, load_cluster
from aitc.errors import ConfigError

GOOD = """\
name: rig
reference_architecture: dgx-h100-superpod
nodes:
  - {name: a1, model: dgx-h100, leaf: 0, su: 0, rack: 0}
  - name: a2
    model: dgx-h100
    leaf: 0
    su: 0
  - {name: b1, model: dgx-a100, leaf: 1, su: 1, rack: 3}
"""


def write(tmp_path, text):
    path = tmp_path / "cluster.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("ra", "size"), [("dgx-h100-superpod", {"sus": 2}), ("dgx-a100-basepod", {"nodes": 5})]
)
def test_a_built_cluster_survives_a_round_trip(tmp_path, ra, size):
    cluster = build(ra, **size).cluster
    path = tmp_path / "c.yaml"
    dump_cluster(cluster, path)
    loaded = load_cluster(path)
    assert loaded == cluster
    assert [(n.name, n.model, n.leaf, n.su, n.rack) for n in loaded] == [
        (n.name, n.model, n.leaf, n.su, n.rack) for n in cluster
    ]


def test_dumped_file_lists_one_node_per_line(tmp_path):
    path = tmp_path / "c.yaml"
    dump_cluster(build("dgx-h100-superpod", nodes=3).cluster, path)
    lines = path.read_text().splitlines()
    assert lines[:3] == [
        "name: dgx-h100-superpod-3",
        "reference_architecture: dgx-h100-superpod",
        "nodes:",
    ]
    assert lines[3] == "  - {name: dgx001, model: dgx-h100, leaf: 0, su: 0, rack: 0}"
    assert len(lines) == 6


def test_hand_written_file_loads_with_mixed_models_and_default_rack(tmp_path):
    c = load_cluster(write(tmp_path, GOOD))
    assert c.name == "rig"
    assert c.node("a2").rack == 0
    assert c.node("b1").gpu_model == "A100-80GB"
    assert c.distance("a1", "a2") == 1 and c.distance("a1", "b1") == 3


def test_cluster_from_nodes_builds_explicit_clusters_and_names_bad_models():
    c = cluster_from_nodes(
        "lab", [NodeSpec("x", "dgx-h100", 0, 0), NodeSpec("y", "dgx-b200", 1, 0)]
    )
    assert c.total_gpus == 16
    with pytest.raises(ConfigError) as e:
        cluster_from_nodes("lab", [NodeSpec("x", "dgx-h100", 0, 0), NodeSpec("y", "dgx-z", 1, 0)])
    assert e.value.field == "nodes[1].model"
    assert "dgx-h100" in e.value.reason  # names the known models


BAD = {
    "unknown-model": (
        GOOD.replace("model: dgx-a100", "model: dgx-a1OO"),
        9,
        "nodes[2].model",
        "unknown node model 'dgx-a1OO' (known: dgx-a100",
    ),
    "leaf-not-int": (
        GOOD.replace("leaf: 0\n", "leaf: zero\n"),
        7,
        "nodes[1].leaf",
        "must be an integer",
    ),
    "negative-su": (GOOD.replace("su: 1,", "su: -1,"), 9, "nodes[2].su", "must be >= 0"),
    "missing-model": (GOOD.replace("    model: dgx-h100\n", ""), 5, "nodes[1].model", "missing"),
    "duplicate-name": (
        GOOD.replace("name: b1", "name: a1"),
        9,
        "nodes[2].name",
        "duplicate node name 'a1'",
    ),
    "unknown-field": (
        GOOD.replace("rack: 3", "rack: 3, gpus: 4"),
        9,
        "nodes[2].gpus",
        "unknown field",
    ),
    "unknown-ra": (
        GOOD.replace("dgx-h100-superpod", "dgx-h100-superpad"),
        2,
        "reference_architecture",
        "unknown reference architecture",
    ),
    "missing-name": (GOOD.replace("name: rig\n", ""), 1, "name", "missing"),
    "nodes-not-list": ("name: rig\nnodes: {a: 1}\n", 2, "nodes", "must be a list"),
    "empty-nodes": ("name: rig\nnodes: []\n", 2, "nodes", "must list at least one node"),
    "bad-yaml": ("name: rig\nnodes:\n  - {name: a1, model: [\n", 4, None, "not valid YAML"),
    "empty-file": ("", 1, None, "empty cluster file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_cluster_files_name_file_line_and_field(tmp_path, case):
    text, line, field, reason = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_cluster(path)
    assert (e.value.file, e.value.line, e.value.field) == (str(path), line, field)
    assert e.value.reason.startswith(reason), e.value.reason
    assert str(e.value).startswith(f"{path}:{line}: ")


def test_missing_file_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read") as e:
        load_cluster(tmp_path / "nope.yaml")
    assert e.value.file == str(tmp_path / "nope.yaml")

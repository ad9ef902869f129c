"""Node-list CSV files: one row per node with its GPU model and count, models outside the
catalog described by name, count and memory; every error names file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitc.arch.clusterfile import load_cluster
from aitc.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ALIBABA_NODES = ROOT / "tests" / "data" / "alibaba" / "nodes.csv"


def node_list(tmp_path: Path, text: str, name: str = "nodes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_node_list_builds_a_cluster_of_mixed_models() -> None:
    cluster = load_cluster(ALIBABA_NODES)
    shape = sorted({(n.gpu_model, n.gpus) for n in cluster.nodes})
    assert shape == [("A10", 1), ("A100-80GB", 8), ("P100", 2), ("T4", 2), ("V100M16", 8)]
    assert (cluster.name, len(cluster), cluster.total_gpus) == ("nodes", 8, 33)


def test_models_outside_the_catalog_have_their_memory_and_no_mig_profiles() -> None:
    cluster = load_cluster(ALIBABA_NODES)
    t4 = cluster.node("node-t4-0").model
    assert (t4.gpu.name, t4.gpu.memory_gb, t4.gpu.mig_profiles) == ("T4", 16, ())
    assert (t4.cpu_cores, t4.ram_gb) == (48, 206)  # 196,608 MiB
    assert cluster.node("node-a100-0").model.gpu.mig_profiles  # the catalog's A100 80 GB


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("node,gpus\nn1,8\n", r"nodes\.csv:1: the header needs a gpu_model column"),
        ("node,gpu_model,gpus,colour\nn1,T4,2,red\n", r"nodes\.csv:1: colour: unknown column"),
        ("node,gpu_model,gpus\nn1,T4,two\n", r"nodes\.csv:2: gpus: 'two' is not a number"),
        ("node,gpu_model,gpus\nn1,,2\n", r"nodes\.csv:2: gpu_model: missing"),
        ("node,gpu_model,gpus\nn1,T4,2\nn1,T4,2\n", r"nodes\.csv:3: node: duplicate node name"),
        ("node,gpu_model,gpus\nn1,A100,8\n", r"nodes\.csv:2: gpu_model: .*A100-40GB, A100-80GB"),
        ("node,model,num_gpu,gpus\nn1,T4,2,2\n", r"num_gpus is given by two columns"),
        ("sn,model,num_gpu\nc1,,0\n", r"nodes\.csv:1: no node with GPUs"),
    ],
)
def test_a_bad_node_list_names_the_file_line_and_column(
    tmp_path: Path, text: str, where: str
) -> None:
    with pytest.raises(ConfigError, match=where):
        load_cluster(node_list(tmp_path, text))


@pytest.mark.parametrize(
    ("label", "memory", "model"),
    [
        ("H100", "", "H100-80GB"),
        ("a100", "40", "A100-40GB"),
        ("A100-80GB", "", "A100-80GB"),
        ("V100", "32", "V100"),
    ],
)
def test_a_gpu_model_is_a_catalog_name_or_family_or_a_name_of_its_own(
    tmp_path: Path, label: str, memory: str, model: str
) -> None:
    path = node_list(tmp_path, f"node,gpu_model,num_gpus,gpu_memory_gb\nn1,{label},4,{memory}\n")
    assert load_cluster(path).node("n1").gpu_model == model


def test_topology_columns_place_nodes_on_leaves_and_units(tmp_path: Path) -> None:
    text = "node,gpu_model,gpus,leaf,su\nn1,T4,2,0,0\nn2,T4,2,1,0\nn3,T4,2,2,1\n"
    cluster = load_cluster(node_list(tmp_path, text))
    assert [cluster.distance("n1", n) for n in ("n1", "n2", "n3")] == [0, 2, 3]

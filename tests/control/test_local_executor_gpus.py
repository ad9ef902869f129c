"""GPU discovery: virtual GPUs behave like real ones; NVML names map to the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitc.control.executors.base import Executor
from aitc.control.executors.gpus import catalog_model, nvml_gpus, virtual_gpus
from aitc.control.executors.local import LocalExecutor
from aitc.control.executors.registry import ExecutorSettings, create_executor, executor_names
from aitc.errors import ConfigError, ExecutorError


def test_virtual_gpus_have_stable_unique_uuids_and_every_mig_slot() -> None:
    gpus = virtual_gpus(8, "H100-80GB", "host")
    assert [g.index for g in gpus] == list(range(8))
    assert len({g.uuid for g in gpus}) == 8
    assert all(g.uuid.startswith("GPU-virtual-") and g.model == "H100-80GB" for g in gpus)
    assert gpus == virtual_gpus(8, "H100-80GB", "host")
    assert gpus[0].memory_mb == 80 * 1024
    assert len(gpus[0].mig_uuids) == 7 + 4 + 3 + 2 + 1 + 1


def test_virtual_gpus_refuse_unknown_models_and_negative_counts() -> None:
    with pytest.raises(Exception, match="unknown GPU model 'Z9'"):
        virtual_gpus(1, "Z9")
    with pytest.raises(ExecutorError, match="virtual_gpus: must be 0 or more"):
        virtual_gpus(-1)


@pytest.mark.parametrize(
    ("nvml_name", "memory_mb", "model"),
    [
        ("NVIDIA H100 80GB HBM3", 81559, "H100-80GB"),
        ("NVIDIA H200", 143771, "H200-141GB"),
        ("NVIDIA A100-SXM4-40GB", 40960, "A100-40GB"),
        ("NVIDIA A100-SXM4-80GB", 81920, "A100-80GB"),
        ("NVIDIA B200", 183359, "B200-180GB"),
        ("NVIDIA L40S", 46068, "L40S"),
    ],
)
def test_nvml_names_map_to_catalog_models(nvml_name: str, memory_mb: int, model: str) -> None:
    assert catalog_model(nvml_name, memory_mb) == model


def test_without_a_driver_nvml_finds_no_gpu_instead_of_failing() -> None:
    assert isinstance(nvml_gpus(), tuple)


def test_the_local_executor_reports_one_node_with_its_gpus(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path, virtual_gpus=4, virtual_model="A100-80GB", node_name="lab1")
    (node,) = ex.inventory()
    assert (node.name, len(node.gpus), node.gpus[0].model) == ("lab1", 4, "A100-80GB")
    assert node.cpus > 0 and node.memory_mb > 0


def test_executors_are_found_by_name(tmp_path: Path) -> None:
    assert {"local", "fake"} <= set(executor_names())
    settings = ExecutorSettings(state_dir=tmp_path, virtual_gpus=2, node_name="n")
    for name in ("local", "fake"):
        ex = create_executor(name, settings)
        assert isinstance(ex, Executor) and ex.name == name
        assert [len(n.gpus) for n in ex.inventory()] == [2]


def test_an_unknown_executor_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown executor 'k8s' \\(known: .*local"):
        create_executor("k8s", ExecutorSettings(state_dir=tmp_path))


REAL_GPUS = nvml_gpus()


@pytest.mark.skipif(not REAL_GPUS, reason="NVML finds no GPU on this machine")
def test_nvml_reports_each_real_gpu_with_index_uuid_model_and_memory() -> None:
    from aitc.domain.gpu import GPU_MODELS

    assert [g.index for g in REAL_GPUS] == list(range(len(REAL_GPUS)))
    assert all(g.uuid.startswith("GPU-") and g.memory_mb > 1024 for g in REAL_GPUS)
    assert len({g.uuid for g in REAL_GPUS}) == len(REAL_GPUS)
    assert all(g.model in GPU_MODELS for g in REAL_GPUS), [g.model for g in REAL_GPUS]


@pytest.mark.skipif(not REAL_GPUS, reason="NVML finds no GPU on this machine")
def test_a_job_on_a_real_gpu_sees_only_its_gpu(tmp_path: Path) -> None:
    import time

    from aitc.control.executors.base import ExecJob, ExecStatus
    from aitc.domain.job import NodeAlloc, Placement

    ex = LocalExecutor(tmp_path, node_name="gpu-host")
    (node,) = ex.inventory()
    last = node.gpus[-1].index
    ex.start(
        ExecJob(
            job_id=1,
            attempt=1,
            name="x",
            command=("sh", "-c", "echo $CUDA_VISIBLE_DEVICES"),
            placement=Placement((NodeAlloc("gpu-host", (last,)),)),
        )
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(r.status == ExecStatus.EXITED for r in ex.poll()):
        time.sleep(0.02)
    assert Path(ex.log_paths(1, 1)[0]).read_text() == f"{last}\n"


def test_the_cluster_follows_the_inventory_and_the_executor_topology() -> None:
    from aitc.control.executors.base import NodeInfo
    from aitc.control.executors.inventory import cluster_from_inventory

    nodes = [NodeInfo(name=f"n{i}", gpus=virtual_gpus(8, "H200-141GB", f"n{i}")) for i in range(3)]
    cluster = cluster_from_inventory("rig", nodes, {"n0": (0, 0), "n1": (0, 0), "n2": (1, 0)})
    assert [(n.name, n.gpus, n.gpu_model, n.leaf) for n in cluster.nodes] == [
        ("n0", 8, "H200-141GB", 0),
        ("n1", 8, "H200-141GB", 0),
        ("n2", 8, "H200-141GB", 1),
    ]
    assert cluster.distance("n0", "n1") == 1 and cluster.distance("n0", "n2") == 2

"""The cluster an executor offers, built from its ``inventory()``.

``aitc serve`` schedules onto the nodes the executor reports, not onto the lab's design: the
local executor offers one node (this host with its GPUs), the Slurm executor the nodes Slurm
knows. A GPU the catalog does not know gets a model of its own, with NVML's memory size and no
MIG profiles, so scheduling still works on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aitc.control.executors.base import NodeInfo
from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS, GpuModel
from aitc.domain.node import NodeModel
from aitc.errors import ConfigError


def gpu_model_of(node: NodeInfo) -> GpuModel:
    """The catalog model of the node's GPUs (an ad-hoc model for one the catalog lacks)."""
    if not node.gpus:
        return GpuModel("none", 0, 0.0, 0, 0, {})
    name = node.gpus[0].model
    if name in GPU_MODELS:
        return GPU_MODELS[name]
    return GpuModel(name, node.gpus[0].memory_mb // 1024, 0.0, 0, 0, {})


def node_model_of(node: NodeInfo) -> NodeModel:
    gpu = gpu_model_of(node)
    return NodeModel(
        name=f"{len(node.gpus)}x{gpu.name}",
        gpu=gpu,
        gpus=len(node.gpus),
        cpu_cores=node.cpus,
        ram_gb=node.memory_mb // 1024,
        max_power_kw=0.0,
        rack_units=0,
        compute_links=0,
        link_gbps=0,
    )


def cluster_from_inventory(
    name: str, nodes: Sequence[NodeInfo], topology: Mapping[str, tuple[int, int]] | None = None
) -> Cluster:
    """One ``Cluster`` node per reported node, placed by ``topology`` (node -> (leaf, SU));
    nodes it does not name sit on leaf 0 of SU 0."""
    if not nodes:
        raise ConfigError("the executor reports no node to run on", field="executor")
    where = topology or {}
    return Cluster(
        name=name,
        nodes=tuple(
            Node(
                name=n.name,
                model=node_model_of(n),
                leaf=where.get(n.name, (0, 0))[0],
                su=where.get(n.name, (0, 0))[1],
            )
            for n in nodes
        ),
    )

"""Node models: the DGX systems of the reference architectures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aitc.domain.gpu import GPU_MODELS, GpuModel
from aitc.errors import CatalogError


@dataclass(frozen=True, slots=True)
class NodeModel:
    """A server model: its GPUs, CPUs, memory, power, size and compute-fabric links."""

    name: str
    gpu: GpuModel
    gpus: int
    cpu_cores: int
    ram_gb: int
    max_power_kw: float
    rack_units: int
    compute_links: int
    link_gbps: int
    storage_links: int = 2
    inband_links: int = 2
    oob_links: int = 1

    @property
    def gpu_memory_gb(self) -> int:
        return self.gpu.memory_gb * self.gpus


NODE_MODELS: Mapping[str, NodeModel] = MappingProxyType(
    {
        n.name: n
        for n in (
            NodeModel("dgx-a100", GPU_MODELS["A100-80GB"], 8, 128, 2048, 6.5, 6, 8, 200),
            NodeModel("dgx-a100-320gb", GPU_MODELS["A100-40GB"], 8, 128, 1024, 6.5, 6, 8, 200),
            NodeModel("dgx-h100", GPU_MODELS["H100-80GB"], 8, 112, 2048, 10.2, 8, 8, 400),
            NodeModel("dgx-h200", GPU_MODELS["H200-141GB"], 8, 112, 2048, 10.2, 8, 8, 400),
            NodeModel("dgx-b200", GPU_MODELS["B200-180GB"], 8, 112, 2048, 14.3, 10, 8, 400),
        )
    }
)


def node_model(name: str) -> NodeModel:
    """Look a node model up by name (``CatalogError`` naming the known ones if unknown)."""
    try:
        return NODE_MODELS[name]
    except KeyError:
        raise CatalogError(
            f"unknown node model {name!r} (known: {', '.join(NODE_MODELS)})"
        ) from None

"""The builder: a reference architecture and a size → a :class:`Design` (cluster + BOM).

``build("dgx-h100-superpod", sus=4)`` gives the 127-node SuperPOD of RA-11333-001 with its
compute fabric derived from fat-tree rules (see :mod:`aitc.arch.fabric`), the storage, in-band
and out-of-band switches, racks, power, peak FLOPS, GPU memory and MIG seats
(see :mod:`aitc.arch.bom`), and the :class:`~aitc.domain.Cluster` every other layer runs on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from aitc.arch import bom, layout
from aitc.arch.catalog import RefArch, reference_architecture
from aitc.arch.fabric import Fabric, edge_fabric, fat_tree
from aitc.domain.cluster import Cluster
from aitc.errors import ConfigError


@dataclass(frozen=True)
class ComputeFabric:
    """The compute (east-west) fabric and the transceivers at its endpoints: the nodes'
    (twin-port cages on DGX H100/H200/B200) and the UFM appliances' (one per link)."""

    fabric: Fabric
    node_transceivers: int
    ufm_transceivers: int = 0

    def to_dict(self) -> dict[str, int]:
        f = self.fabric
        return {
            "tiers": len(f.tiers),
            "leaf_switches": f.switch_count("leaf"),
            "spine_switches": f.switch_count("spine"),
            "core_switches": f.switch_count("core"),
            "node_to_leaf_cables": f.cables_into("leaf"),
            "leaf_to_spine_cables": f.cables_into("spine"),
            "spine_to_core_cables": f.cables_into("core"),
            "switch_transceivers": f.switch_transceivers,
            "node_transceivers": self.node_transceivers,
            "ufm_transceivers": self.ufm_transceivers,
        }


@dataclass(frozen=True)
class Design:
    """A sized reference architecture: the cluster and its bill of materials."""

    ra: RefArch
    cluster: Cluster
    scalable_units: int
    compute: ComputeFabric
    edge: bom.EdgeFabrics
    rack_counts: bom.Racks
    power_kw: float
    peak_pflops: Mapping[str, float]
    gpu_memory_tb: float
    mig_seats: Mapping[str, int]

    @property
    def nodes(self) -> int:
        return len(self.cluster)

    @property
    def gpus(self) -> int:
        return self.cluster.total_gpus

    @property
    def gpu_model(self) -> str:
        return self.ra.node_model.gpu.name

    @property
    def storage_switches(self) -> int:
        return self.edge.storage.switch_count()

    @property
    def inband_switches(self) -> int:
        return self.edge.inband.switch_count()

    @property
    def oob_switches(self) -> int:
        return self.edge.oob.switch_count()

    @property
    def racks(self) -> int:
        return self.rack_counts.total

    def __repr__(self) -> str:
        return f"Design({self.ra.name!r}, nodes={self.nodes}, sus={self.scalable_units})"

    def to_dict(self) -> dict[str, object]:
        """The design as JSON-ready data, with exactly the keys of the ``arch build`` output."""
        return {
            "reference_architecture": self.ra.name,
            "nodes": self.nodes,
            "gpus": self.gpus,
            "scalable_units": self.scalable_units,
            "gpu_model": self.gpu_model,
            "compute_fabric": self.compute.to_dict(),
            "ufm_appliances": self.ra.ufm_appliances,
            "management_servers": self.ra.management_servers,
            "storage_switches": self.storage_switches,
            "inband_switches": self.inband_switches,
            "oob_switches": self.oob_switches,
            "racks": self.racks,
            "power_kw": self.power_kw,
            "peak_pflops": dict(self.peak_pflops),
            "gpu_memory_tb": self.gpu_memory_tb,
            "mig_seats": dict(self.mig_seats),
        }


def max_sus(ra: RefArch) -> int:
    """The most SUs this RA builds: its own cap, or what three compute-fabric tiers reach."""
    if ra.max_nodes is not None:
        return math.ceil((ra.max_nodes + ra.ufm_slots) / ra.su_nodes)
    leaves_per_su = len(layout.rail_leaf_down(ra, ra.su_nodes, 1))
    return ra.compute_switch.ports * pod_leaves(ra) // leaves_per_su


def max_nodes(ra: RefArch) -> int:
    if ra.max_nodes is not None:
        return ra.max_nodes
    return max_sus(ra) * ra.su_nodes - ra.ufm_slots


def pod_leaves(ra: RefArch) -> int:
    """Leaves per three-tier pod: as many whole SUs as a spine's down half reaches."""
    leaves_per_su = len(layout.rail_leaf_down(ra, ra.su_nodes, 1))
    half = ra.compute_switch.ports // 2
    return max(1, half // leaves_per_su) * leaves_per_su


def size(ra: RefArch, sus: int | None, nodes: int | None) -> tuple[int, int]:
    """(nodes, SUs) from exactly one of ``sus`` and ``nodes``; ConfigError naming the field."""
    if (sus is None) == (nodes is None):
        raise ConfigError("give exactly one of --sus and --nodes", field="size")
    if sus is not None:
        _check_range("sus", sus, max_sus(ra), ra)
        full = sus * ra.su_nodes - ra.ufm_slots
        return (full if ra.max_nodes is None else min(full, ra.max_nodes)), sus
    assert nodes is not None
    _check_range("nodes", nodes, max_nodes(ra), ra)
    return nodes, math.ceil((nodes + ra.ufm_slots) / ra.su_nodes)


def _check_range(field: str, value: int, most: int, ra: RefArch) -> None:
    if value < 1:
        raise ConfigError(f"must be at least 1, got {value}", field=field)
    if value > most:
        raise ConfigError(
            f"must be at most {most} for {ra.name} (its fabric of "
            f"{ra.compute_switch.name} switches reaches no further), got {value}",
            field=field,
        )


def compute_fabric(ra: RefArch, nodes: int, sus: int) -> ComputeFabric:
    """Rail-optimised leaves per SU joined by a fat tree, or (BasePOD) leaves filled in order."""
    model, switch = ra.node_model, ra.compute_switch
    half = switch.ports // 2
    if ra.rail_optimised:
        fabric = fat_tree(switch, layout.rail_leaf_down(ra, nodes, sus), half, pod_leaves(ra))
    else:
        fabric = edge_fabric(switch, nodes * model.compute_links + ra.ufm_links, half, half)
    per_node = math.ceil(model.compute_links / ra.node_links_per_transceiver)
    # The UFM appliances' adapters have one cage per port: one transceiver per link, not a
    # DGX's twin-port share.
    return ComputeFabric(fabric, nodes * per_node, ra.ufm_links)


def build(
    ra: str, *, sus: int | None = None, nodes: int | None = None, name: str | None = None
) -> Design:
    """Size reference architecture ``ra`` by SUs or nodes and derive its cluster and BOM."""
    arch = reference_architecture(ra)
    count, su_count = size(arch, sus, nodes)
    compute = compute_fabric(arch, count, su_count)
    edge = bom.edge_fabrics(arch, count, compute.fabric)
    fabrics = (compute.fabric, edge.storage, edge.inband, edge.oob)
    gpu, gpus = arch.node_model.gpu, count * arch.node_model.gpus
    return Design(
        ra=arch,
        cluster=layout.layout_cluster(arch, count, name or f"{arch.name}-{count}"),
        scalable_units=su_count,
        compute=compute,
        edge=edge,
        rack_counts=bom.count_racks(
            arch, layout.nodes_per_su(arch, count, su_count), (compute.fabric,), edge
        ),
        power_kw=bom.power_kw(arch, count, fabrics),
        peak_pflops=bom.peak_pflops(gpu, gpus),
        gpu_memory_tb=round(gpus * gpu.memory_gb / 1000, 3),
        mig_seats=bom.mig_seats(gpu, gpus),
    )

"""The bill of materials around the compute fabric: storage, in-band and out-of-band switches,
racks, power, peak FLOPS, GPU memory and MIG seats. The rules are documented in docs/arch.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from aitc.arch.catalog import RefArch
from aitc.arch.fabric import Fabric, edge_fabric, leaf_only
from aitc.domain.gpu import MIG_COMPUTE_SLICES, MIG_MEMORY_SLOTS, PRECISIONS, GpuModel

# Storage appliances are sized to half the aggregate bandwidth of the nodes' storage links.
STORAGE_CLIENT_PER_TARGET_PORT = 2
# Management servers use two in-band links each (a redundant pair, like the nodes).
MANAGEMENT_SERVER_INBAND_LINKS = 2


@dataclass(frozen=True, slots=True)
class EdgeFabrics:
    """The storage, in-band and out-of-band fabrics (``storage`` empty where it is shared)."""

    storage: Fabric
    inband: Fabric
    oob: Fabric


@dataclass(frozen=True, slots=True)
class Racks:
    """Racks by use: compute (nodes), network (compute and storage switches), management
    (in-band and out-of-band switches, management servers, UFM appliances)."""

    compute: int
    network: int
    management: int

    @property
    def total(self) -> int:
        return self.compute + self.network + self.management


def storage_endpoints(ra: RefArch, nodes: int) -> int:
    """Node storage links plus the storage appliances' ports."""
    client = nodes * ra.node_model.storage_links
    return client + math.ceil(client / STORAGE_CLIENT_PER_TARGET_PORT)


def inband_endpoints(ra: RefArch, nodes: int) -> int:
    """Node in-band links, two per management server, one per UFM appliance."""
    servers = ra.management_servers * MANAGEMENT_SERVER_INBAND_LINKS
    return nodes * ra.node_model.inband_links + servers + ra.ufm_appliances


def edge_fabrics(ra: RefArch, nodes: int, compute: Fabric) -> EdgeFabrics:
    """Storage and in-band fabrics as fat trees; out-of-band as stand-alone access switches.

    Storage leaves are non-blocking (half the ports down); in-band leaves use three quarters of
    their ports down (3:1 oversubscription is ample for management traffic). Every device with a
    management port (node BMCs, servers, UFM, every compute/storage/in-band switch) takes one
    out-of-band port.
    """
    storage_ports = storage_endpoints(ra, nodes)
    inband_ports = inband_endpoints(ra, nodes)
    if ra.storage_switch is None:
        storage = Fabric(ra.inband_switch, ())
        inband_ports += storage_ports
    else:
        half = ra.storage_switch.ports // 2
        storage = edge_fabric(ra.storage_switch, storage_ports, half, half)
    radix = ra.inband_switch.ports
    inband = edge_fabric(ra.inband_switch, inband_ports, radix * 3 // 4, radix // 4)
    managed = (
        nodes * ra.node_model.oob_links
        + ra.management_servers
        + ra.ufm_appliances
        + compute.switch_count()
        + storage.switch_count()
        + inband.switch_count()
    )
    return EdgeFabrics(storage, inband, leaf_only(ra.oob_switch, managed))


def _racks_for(ra: RefArch, units: int, power_kw: float) -> int:
    """Racks needed for equipment of ``units`` rack units drawing ``power_kw``."""
    return max(math.ceil(units / ra.rack_units), math.ceil(power_kw / ra.rack_power_kw))


def count_racks(
    ra: RefArch, nodes_per_su: Sequence[int], fabrics: Sequence[Fabric], edge: EdgeFabrics
) -> Racks:
    """Compute racks hold the nodes SU by SU; switches, management servers and UFM appliances
    get their own."""
    compute = sum(math.ceil(used / ra.nodes_per_rack) for used in nodes_per_su)
    network = [*fabrics, edge.storage]
    net_units = sum(f.rack_units for f in network)
    net_kw = sum(f.power_kw for f in network)
    mgmt_units = (
        edge.inband.rack_units
        + edge.oob.rack_units
        + ra.management_servers * ra.management_server_units
        + ra.ufm_appliances * ra.ufm_units
    )
    mgmt_kw = (
        edge.inband.power_kw
        + edge.oob.power_kw
        + ra.management_servers * ra.management_server_kw
        + ra.ufm_appliances * ra.ufm_kw
    )
    return Racks(compute, _racks_for(ra, net_units, net_kw), _racks_for(ra, mgmt_units, mgmt_kw))


def power_kw(ra: RefArch, nodes: int, fabrics: Sequence[Fabric]) -> float:
    """Maximum IT load: nodes, every switch, management servers and UFM appliances."""
    total = nodes * ra.node_model.max_power_kw + sum(f.power_kw for f in fabrics)
    total += ra.management_servers * ra.management_server_kw + ra.ufm_appliances * ra.ufm_kw
    return round(total, 1)


def peak_pflops(gpu: GpuModel, gpus: int) -> Mapping[str, float]:
    """Dense peak PFLOPS per precision the GPU supports: GPUs × TFLOPS / 1000."""
    return MappingProxyType(
        {p: round(gpus * gpu.tflops[p] / 1000, 3) for p in PRECISIONS if p in gpu.tflops}
    )


def mig_instances_per_gpu(compute_slices: int, size: int, placements: int) -> int:
    """Most instances of one profile a GPU holds: bounded by placements, compute and memory."""
    return min(placements, MIG_COMPUTE_SLICES // compute_slices, MIG_MEMORY_SLOTS // size)


def mig_seats(gpu: GpuModel, gpus: int) -> Mapping[str, int]:
    """Seats per profile if every GPU of the cluster were split into that profile only."""
    return MappingProxyType(
        {
            p.name: gpus * mig_instances_per_gpu(p.compute_slices, p.size, len(p.placements))
            for p in gpu.mig_profiles
        }
    )

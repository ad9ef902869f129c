"""The reference-architecture (RA) catalog, as data.

Each :class:`RefArch` holds what an NVIDIA DGX SuperPOD or BasePOD reference architecture fixes:
the node model, the size of a scalable unit (SU), the slots given up for the UFM appliance, the
switch models of each fabric, and the rack budget. Everything else (switch counts, cables,
transceivers, racks, power, FLOPS) is *derived* by :mod:`aitc.arch.builder` from these figures and
fat-tree rules; ``docs/arch.md`` says which figures are published and which derived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from aitc.domain.node import NODE_MODELS, NodeModel
from aitc.errors import CatalogError


@dataclass(frozen=True, slots=True)
class SwitchModel:
    """A switch model: radix, port speed, how many links share one transceiver, size and power."""

    name: str
    ports: int
    port_gbps: int
    links_per_transceiver: int
    rack_units: int
    max_power_kw: float
    optical: bool = True


@dataclass(frozen=True, slots=True)
class RefArch:
    """One reference architecture: the fixed choices from which a design of any size is derived.

    ``su_nodes`` is the number of node slots in one scalable unit; ``ufm_slots`` slots of the
    compute fabric in the whole system are given up for the UFM appliances, whose
    ``ufm_links`` compute links use them; ``ufm_appliances`` appliances (in the management
    racks) run the fabrics.
    With ``rail_optimised`` each SU has one leaf per compute rail (node link index), every leaf
    serving that rail for all slots of the SU. ``storage_switch`` is ``None`` where storage shares
    the in-band Ethernet fabric (BasePOD). ``max_nodes`` caps RAs that are defined only up to a
    size (BasePOD); SuperPODs are capped by what three fabric tiers can build.
    ``leaf_group_nodes`` is the run of consecutive slots that forms one leaf group of the
    cluster topology (see :mod:`aitc.arch.layout`).
    """

    name: str
    title: str
    document: str
    node_model_name: str
    su_nodes: int
    compute_switch: SwitchModel
    inband_switch: SwitchModel
    oob_switch: SwitchModel
    storage_switch: SwitchModel | None
    rail_optimised: bool = True
    ufm_slots: int = 0
    ufm_links: int = 0
    ufm_appliances: int = 0
    node_links_per_transceiver: int = 1
    rack_power_kw: float = 44.0
    rack_units: int = 42
    leaf_group_nodes: int = 8
    management_servers: int = 5
    management_server_kw: float = 1.0
    management_server_units: int = 2
    ufm_kw: float = 0.6
    ufm_units: int = 1
    max_nodes: int | None = None

    @property
    def node_model(self) -> NodeModel:
        return NODE_MODELS[self.node_model_name]

    @property
    def nodes_per_rack(self) -> int:
        """Nodes that fit one rack by both its power budget and its rack units."""
        model = self.node_model
        by_power = int(self.rack_power_kw // model.max_power_kw)
        return max(1, min(by_power, self.rack_units // model.rack_units))


# Switch figures: radix and speed from the NVIDIA datasheets; power is the maximum with optics,
# rounded (see docs/arch.md, "derived figures").
QM9700 = SwitchModel("QM9700", 64, 400, 2, 1, 1.72)
QM8790 = SwitchModel("QM8790", 40, 200, 1, 1, 0.48)
SN4600C = SwitchModel("SN4600C", 64, 100, 1, 2, 0.8)
SN3700C = SwitchModel("SN3700C", 32, 100, 1, 1, 0.45)
SN2201 = SwitchModel("SN2201", 48, 1, 1, 1, 0.1, optical=False)
AS4610 = SwitchModel("AS4610", 48, 1, 1, 1, 0.1, optical=False)

SWITCH_MODELS: Mapping[str, SwitchModel] = MappingProxyType(
    {s.name: s for s in (QM9700, QM8790, SN4600C, SN3700C, SN2201, AS4610)}
)


# DGX SuperPOD with DGX H100 (RA-11333-001): SUs of 32 slots, one slot given up for UFM's 4
# compute links; 4 UFM appliances and 5 management servers (its table of major components).
_H100_SUPERPOD = RefArch(
    name="dgx-h100-superpod",
    title="DGX SuperPOD with DGX H100",
    document="RA-11333-001",
    node_model_name="dgx-h100",
    su_nodes=32,
    compute_switch=QM9700,
    storage_switch=QM9700,
    inband_switch=SN4600C,
    oob_switch=SN2201,
    ufm_slots=1,
    ufm_links=4,
    ufm_appliances=4,
    node_links_per_transceiver=2,
)
# DGX BasePOD (RA-11127-001): up to 16 nodes; storage shares the in-band Ethernet fabric.
_H100_BASEPOD = RefArch(
    name="dgx-h100-basepod",
    title="DGX BasePOD with DGX H100",
    document="RA-11127-001",
    node_model_name="dgx-h100",
    su_nodes=16,
    max_nodes=16,
    compute_switch=QM9700,
    storage_switch=None,
    inband_switch=SN4600C,
    oob_switch=SN2201,
    rail_optimised=False,
    node_links_per_transceiver=2,
)

REFERENCE_ARCHITECTURES: Mapping[str, RefArch] = MappingProxyType(
    {
        ra.name: ra
        for ra in (
            # DGX SuperPOD with DGX A100 (RA-09950-001): SUs of 20 on HDR QM8790 switches.
            replace(
                _H100_SUPERPOD,
                name="dgx-a100-superpod",
                title="DGX SuperPOD with DGX A100",
                document="RA-09950-001",
                node_model_name="dgx-a100",
                su_nodes=20,
                ufm_slots=0,
                ufm_links=0,
                ufm_appliances=0,  # not in the catalog: its RA's count is not modelled
                compute_switch=QM8790,
                storage_switch=QM8790,
                inband_switch=SN3700C,
                oob_switch=AS4610,
                node_links_per_transceiver=1,
                rack_power_kw=28.0,
                leaf_group_nodes=10,
            ),
            _H100_SUPERPOD,
            # DGX H200 is a drop-in for DGX H100 in the same RA.
            replace(
                _H100_SUPERPOD,
                name="dgx-h200-superpod",
                title="DGX SuperPOD with DGX H200",
                node_model_name="dgx-h200",
            ),
            # The DGX B200 SuperPOD RA counts 32 nodes per SU with no slot given up (its UFM
            # appliances are not modelled).
            replace(
                _H100_SUPERPOD,
                name="dgx-b200-superpod",
                title="DGX SuperPOD with DGX B200",
                document="DGX SuperPOD RA (DGX B200)",
                node_model_name="dgx-b200",
                ufm_slots=0,
                ufm_links=0,
                ufm_appliances=0,
                rack_power_kw=30.0,
            ),
            replace(
                _H100_BASEPOD,
                name="dgx-a100-basepod",
                title="DGX BasePOD with DGX A100",
                node_model_name="dgx-a100",
                compute_switch=QM8790,
                inband_switch=SN3700C,
                oob_switch=AS4610,
                node_links_per_transceiver=1,
                rack_power_kw=28.0,
            ),
            _H100_BASEPOD,
            replace(
                _H100_BASEPOD,
                name="dgx-h200-basepod",
                title="DGX BasePOD with DGX H200",
                node_model_name="dgx-h200",
            ),
            replace(
                _H100_BASEPOD,
                name="dgx-b200-basepod",
                title="DGX BasePOD with DGX B200",
                node_model_name="dgx-b200",
                rack_power_kw=30.0,
            ),
        )
    }
)


def reference_architecture(name: str) -> RefArch:
    """Look a reference architecture up by name (``CatalogError`` naming the known ones)."""
    try:
        return REFERENCE_ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(REFERENCE_ARCHITECTURES)
        raise CatalogError(f"unknown reference architecture {name!r} (known: {known})") from None

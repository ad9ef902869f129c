"""The reference-architecture catalog: data that the builder derives every design from."""

import pytest

from aitc.arch import REFERENCE_ARCHITECTURES, reference_architecture
from aitc.domain.node import NODE_MODELS
from aitc.errors import CatalogError

REQUIRED = (
    "dgx-a100-superpod",
    "dgx-h100-superpod",
    "dgx-h200-superpod",
    "dgx-b200-superpod",
    "dgx-h100-basepod",
    "dgx-a100-basepod",
)


def test_catalog_holds_the_required_reference_architectures():
    assert set(REQUIRED) <= set(REFERENCE_ARCHITECTURES)


@pytest.mark.parametrize("name", list(REFERENCE_ARCHITECTURES))
def test_every_entry_names_a_known_node_model_and_a_consistent_switch(name):
    ra = reference_architecture(name)
    assert ra.name == name
    assert ra.node_model_name in NODE_MODELS
    assert ra.compute_switch.port_gbps == ra.node_model.link_gbps
    assert ra.compute_switch.ports % 2 == 0
    assert ra.nodes_per_rack * ra.node_model.max_power_kw <= ra.rack_power_kw


def test_h100_superpod_has_the_published_su_and_switch():
    ra = reference_architecture("dgx-h100-superpod")
    assert (ra.su_nodes, ra.ufm_slots, ra.ufm_links) == (32, 1, 4)
    assert (ra.compute_switch.name, ra.compute_switch.ports, ra.compute_switch.port_gbps) == (
        "QM9700",
        64,
        400,
    )
    assert ra.rail_optimised
    assert ra.document == "RA-11333-001"


def test_a100_superpod_uses_20_node_sus_on_40_port_hdr_switches():
    ra = reference_architecture("dgx-a100-superpod")
    assert ra.su_nodes == 20
    assert (ra.compute_switch.name, ra.compute_switch.ports, ra.compute_switch.port_gbps) == (
        "QM8790",
        40,
        200,
    )
    assert ra.node_model.max_power_kw == 6.5


def test_h100_leaf_group_is_a_rack_pair_of_four_node_racks():
    ra = reference_architecture("dgx-h100-superpod")
    assert ra.nodes_per_rack == 4
    assert ra.leaf_group_nodes == 2 * ra.nodes_per_rack


@pytest.mark.parametrize("name", list(REFERENCE_ARCHITECTURES))
def test_leaf_groups_split_an_su_evenly_or_hold_all_of_it(name):
    ra = reference_architecture(name)
    assert ra.su_nodes % ra.leaf_group_nodes == 0


def test_unknown_reference_architecture_names_the_known_ones():
    with pytest.raises(CatalogError) as e:
        reference_architecture("dgx-h1000-superpod")
    assert "dgx-h1000-superpod" in str(e.value)
    for name in REQUIRED:
        assert name in str(e.value)

"""The builder: published SuperPOD figures, sizing rules, the cluster it lays out and the BOM."""

import pytest

from aitc.arch import build
from aitc.arch.builder import max_nodes, max_sus
from aitc.arch.catalog import reference_architecture
from aitc.domain.cluster import ACROSS_SUS, SAME_LEAF, SAME_SU
from aitc.errors import CatalogError, ConfigError

# RA-11333-001, table "Compute fabric component count": SUs -> nodes, leaf, spine, cables.
PUBLISHED_H100 = {
    1: (31, 8, 4, 252, 256),
    2: (63, 16, 8, 508, 512),
    3: (95, 24, 16, 764, 768),
    4: (127, 32, 16, 1020, 1024),
}


@pytest.mark.parametrize("sus", sorted(PUBLISHED_H100))
def test_h100_superpod_reproduces_the_published_compute_fabric(sus):
    d = build("dgx-h100-superpod", sus=sus).to_dict()
    cf = d["compute_fabric"]
    assert (
        d["nodes"],
        cf["leaf_switches"],
        cf["spine_switches"],
        cf["node_to_leaf_cables"],
        cf["leaf_to_spine_cables"],
    ) == PUBLISHED_H100[sus]
    assert (cf["tiers"], cf["core_switches"], cf["spine_to_core_cables"]) == (2, 0, 0)
    assert d["gpus"] == d["nodes"] * 8


# DGX SuperPOD RA for DGX B200, "larger DGX SuperPOD component counts": SUs -> nodes, leaf,
# spine, core, node-leaf, leaf-spine, spine-core cables. Three tiers from 16 SUs.
PUBLISHED_B200 = {
    2: (64, 16, 8, 0, 512, 512, 0),
    4: (128, 32, 16, 0, 1024, 1024, 0),
    8: (256, 64, 32, 0, 2048, 2048, 0),
    16: (512, 128, 128, 64, 4096, 4096, 4096),
    32: (1024, 256, 256, 128, 8192, 8192, 8192),
    64: (2048, 512, 512, 256, 16384, 16384, 16384),
}


@pytest.mark.parametrize("sus", sorted(PUBLISHED_B200))
def test_b200_superpod_reproduces_the_published_two_and_three_tier_counts(sus):
    d = build("dgx-b200-superpod", sus=sus).to_dict()
    cf = d["compute_fabric"]
    assert (
        d["nodes"],
        cf["leaf_switches"],
        cf["spine_switches"],
        cf["core_switches"],
        cf["node_to_leaf_cables"],
        cf["leaf_to_spine_cables"],
        cf["spine_to_core_cables"],
    ) == PUBLISHED_B200[sus]


def test_to_dict_has_exactly_the_documented_keys():
    d = build("dgx-h100-superpod", sus=1).to_dict()
    assert list(d) == [
        "reference_architecture",
        "nodes",
        "gpus",
        "scalable_units",
        "gpu_model",
        "compute_fabric",
        "ufm_appliances",
        "management_servers",
        "storage_switches",
        "inband_switches",
        "oob_switches",
        "racks",
        "power_kw",
        "peak_pflops",
        "gpu_memory_tb",
        "mig_seats",
    ]
    assert list(d["compute_fabric"]) == [
        "tiers",
        "leaf_switches",
        "spine_switches",
        "core_switches",
        "node_to_leaf_cables",
        "leaf_to_spine_cables",
        "spine_to_core_cables",
        "switch_transceivers",
        "node_transceivers",
        "ufm_transceivers",
    ]


def test_fabric_stays_two_tiers_up_to_2048_gpu_links_then_adds_a_core():
    eight = build("dgx-h100-superpod", sus=8).to_dict()["compute_fabric"]
    nine = build("dgx-h100-superpod", sus=9).to_dict()["compute_fabric"]
    assert (eight["tiers"], eight["leaf_switches"], eight["spine_switches"]) == (2, 64, 32)
    assert eight["leaf_to_spine_cables"] == 2048
    assert nine["tiers"] == 3
    assert nine["core_switches"] > 0
    assert nine["spine_to_core_cables"] == nine["spine_switches"] * 32


def test_transceivers_count_twin_port_cages_on_h100_and_single_ports_on_a100():
    h100 = build("dgx-h100-superpod", sus=1).to_dict()["compute_fabric"]
    # 31 nodes x 4 twin-port OSFP; the UFM appliances' 4 links one each (not a DGX's 2 per
    # cage); switches: 12 leaf/spine x 32 cages.
    assert (h100["node_transceivers"], h100["ufm_transceivers"]) == (31 * 4, 4)
    assert h100["switch_transceivers"] == (8 + 4) * 32
    a100 = build("dgx-a100-superpod", sus=1).to_dict()["compute_fabric"]
    assert (a100["node_transceivers"], a100["ufm_transceivers"]) == (20 * 8, 0)
    assert (
        a100["switch_transceivers"]
        == a100["node_to_leaf_cables"] + 2 * a100["leaf_to_spine_cables"]
    )


def test_a_ufm_slot_is_given_up_once_so_32_nodes_need_two_sus():
    assert build("dgx-h100-superpod", nodes=31).scalable_units == 1
    assert build("dgx-h100-superpod", nodes=32).scalable_units == 2
    assert build("dgx-a100-superpod", nodes=20).scalable_units == 1
    assert build("dgx-a100-superpod", sus=7).nodes == 140


def test_partial_su_still_gets_the_full_su_fabric():
    cf = build("dgx-h100-superpod", nodes=5).to_dict()["compute_fabric"]
    assert (cf["leaf_switches"], cf["spine_switches"]) == (8, 4)
    assert cf["node_to_leaf_cables"] == 5 * 8 + 4
    assert cf["leaf_to_spine_cables"] == 256


def test_small_basepod_is_one_switch_and_16_nodes_two_tiers():
    small = build("dgx-h100-basepod", nodes=8).to_dict()
    assert small["compute_fabric"]["tiers"] == 1
    assert small["compute_fabric"]["leaf_switches"] == 1
    assert small["storage_switches"] == 0  # storage shares the in-band Ethernet fabric
    big = build("dgx-h100-basepod", sus=1).to_dict()
    assert big["nodes"] == 16
    assert (big["compute_fabric"]["tiers"], big["compute_fabric"]["leaf_switches"]) == (2, 4)


def test_power_pflops_memory_and_mig_seats_follow_the_gpu_figures():
    d = build("dgx-h100-superpod", sus=4)
    data = d.to_dict()
    assert data["gpu_memory_tb"] == pytest.approx(1016 * 80 / 1000)
    assert data["peak_pflops"]["fp8"] == pytest.approx(1016 * 1979.0 / 1000)
    assert "fp4" not in data["peak_pflops"]
    assert "fp4" in build("dgx-b200-superpod", sus=1).to_dict()["peak_pflops"]
    assert data["mig_seats"] == {
        "1g.10gb": 7 * 1016,
        "1g.20gb": 4 * 1016,
        "2g.20gb": 3 * 1016,
        "3g.40gb": 2 * 1016,
        "4g.40gb": 1016,
        "7g.80gb": 1016,
    }
    nodes_kw = 127 * 10.2
    assert nodes_kw < data["power_kw"] < nodes_kw * 1.2


def test_racks_hold_four_dgx_h100_each_plus_network_and_management():
    d = build("dgx-h100-superpod", sus=4)
    assert d.rack_counts.compute == 32
    assert d.rack_counts.network >= 2
    assert d.racks == d.rack_counts.total


def test_cluster_names_nodes_and_sets_su_leaf_group_and_rack():
    c = build("dgx-h100-superpod", sus=2).cluster
    assert [n.name for n in c.nodes[:2]] == ["dgx001", "dgx002"]
    assert c.nodes[-1].name == "dgx063"
    assert c.reference_architecture == "dgx-h100-superpod"
    assert c.distance("dgx001", "dgx008") == SAME_LEAF
    assert c.distance("dgx001", "dgx009") == SAME_SU
    assert c.distance("dgx001", "dgx033") == ACROSS_SUS
    assert (c.node("dgx005").rack, c.node("dgx033").rack) == (1, 8)
    assert len(c.leaves()) == 8 and len(c.sus()) == 2


def test_node_names_grow_past_three_digits():
    c = build("dgx-h100-superpod", sus=64).cluster
    assert c.nodes[0].name == "dgx0001"
    assert c.nodes[-1].name == "dgx2047"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"sus": 0}, "sus"),
        ({"sus": -3}, "sus"),
        ({"nodes": 0}, "nodes"),
        ({"sus": 257}, "sus"),
        ({"nodes": 8192}, "nodes"),
        ({}, "size"),
        ({"sus": 1, "nodes": 3}, "size"),
    ],
)
def test_bad_sizes_are_refused_naming_the_field(kw, field):
    with pytest.raises(ConfigError) as e:
        build("dgx-h100-superpod", **kw)
    assert e.value.field == field


def test_basepod_is_capped_at_16_nodes():
    ra = reference_architecture("dgx-h100-basepod")
    assert (max_nodes(ra), max_sus(ra)) == (16, 1)
    with pytest.raises(ConfigError, match="at most 16"):
        build("dgx-h100-basepod", nodes=17)


def test_unknown_reference_architecture_is_a_catalog_error():
    with pytest.raises(CatalogError, match="known: "):
        build("dgx-z9-superpod", sus=1)

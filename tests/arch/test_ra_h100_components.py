"""The 4-SU DGX H100 SuperPOD against RA-11333-001's own tables, line by line.

Published and pinned here: the compute fabric by size (its table of SU counts: nodes, leaf and
spine switches, node+UFM and leaf-spine cables; also in test_builder.py) and, from its table of
major components of the 4-SU, 127-node system, the nodes, the UFM appliances and the
management servers. Every other line of the bill of materials is derived by aitc's rules
(docs/arch.md, "Published and derived figures", says which and how); the tests below pin the
derivations that follow from published facts (the DGX H100's 4 twin-port OSFP cages for its
8 compute links, one cage per UFM link), so that the UFM appliances are never counted as a
DGX node again.
"""

from __future__ import annotations

from aitc.arch import build

# RA-11333-001, major components of the 4-SU, 127-node DGX SuperPOD (racks are listed too:
# 38, which aitc does not reproduce; see docs/arch.md)
TABLE_4SU = {"nodes": 127, "gpus": 1016, "ufm_appliances": 4, "management_servers": 5}


def test_the_4su_design_has_the_published_nodes_ufm_appliances_and_management_servers():
    d = build("dgx-h100-superpod", sus=4).to_dict()
    assert {key: d[key] for key in TABLE_4SU} == TABLE_4SU


def test_the_ufm_links_use_the_slot_given_up_but_their_optics_are_not_a_dgx_nodes():
    cf = build("dgx-h100-superpod", sus=4).to_dict()["compute_fabric"]
    assert cf["node_to_leaf_cables"] == 127 * 8 + 4  # published: 1,020 (nodes + UFM)
    assert cf["node_transceivers"] == 127 * 4  # 4 twin-port OSFP per DGX H100, no 128th
    assert cf["ufm_transceivers"] == 4  # one per UFM link


def test_every_cable_end_at_an_endpoint_or_a_switch_has_its_transceiver():
    cf = build("dgx-h100-superpod", sus=4).to_dict()["compute_fabric"]
    # endpoint side: 2 links per DGX cage, 1 per UFM cage
    assert 2 * cf["node_transceivers"] + cf["ufm_transceivers"] == cf["node_to_leaf_cables"]
    # switch side: twin-port cages, down and up links never sharing one (32 leaves, 16 spines)
    assert cf["switch_transceivers"] == 32 * (16 + 16) + 16 * 32


def test_the_ufm_appliances_are_powered_and_managed_with_the_management_servers():
    four = build("dgx-h100-superpod", sus=4)
    b200 = build("dgx-b200-superpod", sus=4)  # its UFM appliances are not modelled
    assert four.to_dict()["ufm_appliances"] == 4 and b200.to_dict()["ufm_appliances"] == 0
    nodes_kw = 127 * 10.2
    switches_kw = (48 + 20) * 1.72 + 8 * 0.8 + 5 * 0.1
    assert four.power_kw == round(nodes_kw + switches_kw + 5 * 1.0 + 4 * 0.6, 1)

"""Where each node sits: its SU, slot, rack and leaf group, and the compute leaves it uses.

Nodes fill the SUs in order, slot by slot; the slots given up for the UFM appliance follow the
last node (so they sit in the last SU). Racks are numbered across the whole system, SU by SU.

*Leaf groups* (``Node.leaf``): in a rail-optimised SU every node reaches the same rail leaves,
so the fabric alone would make the whole SU one leaf group. We split each SU into runs of
``RefArch.leaf_group_nodes`` consecutive slots (8 nodes = 64 GPUs on the SuperPODs: a rack pair
of DGX H100, a quarter SU) because the engine packs gangs by leaf group, then by SU: small
multi-node jobs then stay inside a few neighbouring racks, which keeps whole SUs free for large
gangs. See docs/arch.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aitc.arch.catalog import RefArch
from aitc.domain.cluster import Cluster, Node


@dataclass(frozen=True, slots=True)
class Slot:
    """A node position: SU and slot index in the SU."""

    su: int
    slot: int


def node_name(index: int, total: int) -> str:
    """``dgx001`` … : zero-padded to three digits, or more when the cluster needs them."""
    return f"dgx{index + 1:0{max(3, len(str(total)))}d}"


def slot_of(ra: RefArch, index: int) -> Slot:
    return Slot(index // ra.su_nodes, index % ra.su_nodes)


def racks_per_su(ra: RefArch) -> int:
    return math.ceil(ra.su_nodes / ra.nodes_per_rack)


def groups_per_su(ra: RefArch) -> int:
    return math.ceil(ra.su_nodes / ra.leaf_group_nodes)


def place_node(ra: RefArch, index: int, total: int) -> Node:
    """Node ``index`` of ``total`` with its SU, leaf group and rack set."""
    s = slot_of(ra, index)
    return Node(
        name=node_name(index, total),
        model=ra.node_model,
        leaf=s.su * groups_per_su(ra) + s.slot // ra.leaf_group_nodes,
        su=s.su,
        rack=s.su * racks_per_su(ra) + s.slot // ra.nodes_per_rack,
    )


def layout_cluster(ra: RefArch, nodes: int, name: str) -> Cluster:
    """The cluster of ``nodes`` nodes of ``ra``."""
    return Cluster(name, tuple(place_node(ra, i, nodes) for i in range(nodes)), ra.name)


def nodes_per_su(ra: RefArch, nodes: int, sus: int) -> list[int]:
    """Nodes in each SU (the slot given up for UFM holds cables, not a node: the UFM
    appliances stand in the management racks)."""
    return [max(0, min(ra.su_nodes, nodes - su * ra.su_nodes)) for su in range(sus)]


def rail_leaf_down(ra: RefArch, nodes: int, sus: int) -> list[int]:
    """Ports used down on each rail leaf, SU by SU, rail by rail.

    Each SU has, per rail, ``ceil(su_nodes / (radix / 2))`` leaves, each serving a run of slots.
    The UFM appliance's links land on rails ``0 .. ufm_links - 1`` of the slot after the last
    node.
    """
    half = ra.compute_switch.ports // 2
    parts = math.ceil(ra.su_nodes / half)
    ufm = slot_of(ra, nodes) if ra.ufm_links else None
    out: list[int] = []
    for su in range(sus):
        for rail in range(ra.node_model.compute_links):
            for part in range(parts):
                lo = su * ra.su_nodes + part * half
                hi = min(lo + half, su * ra.su_nodes + ra.su_nodes)
                down = max(0, min(hi, nodes) - lo)
                if ufm and ufm.su == su and rail < ra.ufm_links and ufm.slot // half == part:
                    down += 1
                out.append(down)
    return out

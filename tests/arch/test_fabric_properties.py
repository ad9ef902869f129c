"""Property tests: every RA at every size, from one node to 64 SUs, gives a physical design.

Cables have a port at both ends, no switch uses more ports than its radix, GPUs = nodes × 8,
the cluster holds exactly the nodes the BOM counts, and tiers never shrink as the size grows.
"""

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.arch import REFERENCE_ARCHITECTURES, build
from aitc.arch.builder import Design, max_nodes
from aitc.arch.fabric import Fabric

SETTINGS = settings(max_examples=150, deadline=None)


def _limit(ra_name: str) -> int:
    ra = REFERENCE_ARCHITECTURES[ra_name]
    return min(max_nodes(ra), 64 * ra.su_nodes - ra.ufm_slots)


@st.composite
def designs(draw: st.DrawFn) -> Design:
    ra = draw(st.sampled_from(sorted(REFERENCE_ARCHITECTURES)))
    return build(ra, nodes=draw(st.integers(1, _limit(ra))))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[str, int, int]:
    ra = draw(st.sampled_from(sorted(REFERENCE_ARCHITECTURES)))
    a = draw(st.integers(1, _limit(ra)))
    return ra, a, draw(st.integers(a, _limit(ra)))


def _fabrics(d: Design) -> list[Fabric]:
    return [d.compute.fabric, d.edge.storage, d.edge.inband, d.edge.oob]


@SETTINGS
@given(designs())
def test_every_cable_has_a_port_at_both_ends(d):
    f = d.compute.fabric
    model = d.ra.node_model
    assert f.cables_into("leaf") == d.nodes * model.compute_links + d.ra.ufm_links
    for lower, upper in pairwise(f.tiers):
        assert sum(lower.up) == sum(upper.down) > 0
    assert sum(f.tiers[-1].up) == 0


@SETTINGS
@given(designs())
def test_no_switch_exceeds_its_radix(d):
    for fabric in _fabrics(d):
        for tier in fabric.tiers:
            assert all(0 <= used <= fabric.switch.ports for used in tier.ports_used())


@SETTINGS
@given(designs())
def test_every_edge_fabric_carries_its_uplinks(d):
    for fabric in (d.edge.storage, d.edge.inband):
        for lower, upper in pairwise(fabric.tiers):
            assert sum(lower.up) == sum(upper.down)


@SETTINGS
@given(designs())
def test_gpus_are_eight_per_node_and_the_cluster_matches_the_bom(d):
    assert d.gpus == d.nodes * 8 == d.cluster.total_gpus
    assert len({n.name for n in d.cluster}) == d.nodes
    assert d.scalable_units == -(-(d.nodes + d.ra.ufm_slots) // d.ra.su_nodes)
    assert max(n.su for n in d.cluster) < d.scalable_units
    assert max(n.rack for n in d.cluster) < d.rack_counts.compute
    for nodes in d.cluster.leaves().values():
        assert len({n.su for n in nodes}) == 1  # a leaf group never spans SUs


@SETTINGS
@given(two_sizes())
def test_tiers_grow_monotonically_with_size(sizes):
    ra, small, large = sizes
    a, b = build(ra, nodes=small), build(ra, nodes=large)
    assert len(a.compute.fabric.tiers) <= len(b.compute.fabric.tiers)
    assert a.compute.fabric.switch_count("leaf") <= b.compute.fabric.switch_count("leaf")
    assert a.racks <= b.racks
    assert a.power_kw <= b.power_kw


def test_every_ra_builds_at_its_smallest_and_largest_tested_size():
    for ra in REFERENCE_ARCHITECTURES:
        for nodes in (1, _limit(ra)):
            d = build(ra, nodes=nodes)
            assert d.nodes == nodes

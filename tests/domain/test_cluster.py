"""The cluster model: lookups and topological distance."""

import pytest

from aitc.domain.cluster import ACROSS_SUS, SAME_LEAF, SAME_NODE, SAME_SU, Cluster, Node
from aitc.domain.node import NODE_MODELS
from aitc.errors import CatalogError, ConfigError

H100 = NODE_MODELS["dgx-h100"]


def rig() -> Cluster:
    """Two SUs; SU 0 has two leaves of two nodes, SU 1 one leaf of one node."""
    spec = [("n1", 0, 0), ("n2", 0, 0), ("n3", 1, 0), ("n4", 1, 0), ("n5", 2, 1)]
    return Cluster("rig", tuple(Node(name, H100, leaf, su) for name, leaf, su in spec))


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("n1", "n1", SAME_NODE),
        ("n1", "n2", SAME_LEAF),
        ("n1", "n3", SAME_SU),
        ("n4", "n5", ACROSS_SUS),
        ("n5", "n1", ACROSS_SUS),
    ],
)
def test_distance_follows_the_tree(a, b, distance):
    assert rig().distance(a, b) == distance


def test_totals_and_groups():
    c = rig()
    assert c.total_gpus == 40
    assert c.max_gpus_per_node == 8
    assert c.gpu_models == ("H100-80GB",)
    assert {leaf: [n.name for n in ns] for leaf, ns in c.leaves().items()} == {
        0: ["n1", "n2"],
        1: ["n3", "n4"],
        2: ["n5"],
    }
    assert c.position("n3") == 2


def test_duplicate_node_names_are_refused():
    with pytest.raises(ConfigError, match="duplicate node name 'n1'"):
        Cluster("bad", (Node("n1", H100, 0, 0), Node("n1", H100, 0, 0)))


def test_unknown_node_is_a_catalog_error():
    with pytest.raises(CatalogError, match="unknown node 'zz'"):
        rig().distance("n1", "zz")

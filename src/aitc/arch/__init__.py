"""Reference architectures: the catalog (as data) and the builder from a size to a cluster + BOM.

Imports ``aitc.domain`` only.
"""

from aitc.arch.builder import Design, build
from aitc.arch.catalog import REFERENCE_ARCHITECTURES, RefArch, SwitchModel, reference_architecture
from aitc.arch.clusterfile import cluster_from_nodes, dump_cluster, load_cluster
from aitc.arch.nodespec import NodeSpec

__all__ = [
    "REFERENCE_ARCHITECTURES",
    "Design",
    "NodeSpec",
    "RefArch",
    "SwitchModel",
    "build",
    "cluster_from_nodes",
    "dump_cluster",
    "load_cluster",
    "reference_architecture",
]

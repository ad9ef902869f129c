"""Reference architectures: the catalog (as data) and the builder from a size to a cluster + BOM.

Imports ``aitc.domain`` only. The cluster file's functions (``aitc.arch.clusterfile``, which
reads and writes YAML) are imported on first use: building from a catalog entry needs no YAML.
"""

from typing import TYPE_CHECKING, Any

from aitc.arch.builder import Design, build
from aitc.arch.catalog import REFERENCE_ARCHITECTURES, RefArch, SwitchModel, reference_architecture
from aitc.arch.nodespec import NodeSpec

if TYPE_CHECKING:
    from aitc.arch.clusterfile import cluster_from_nodes, dump_cluster, load_cluster

_CLUSTER_FILE = ("cluster_from_nodes", "dump_cluster", "load_cluster")


def __getattr__(name: str) -> Any:
    if name in _CLUSTER_FILE:
        from aitc.arch import clusterfile

        return getattr(clusterfile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

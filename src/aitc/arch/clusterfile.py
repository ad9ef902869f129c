"""Cluster files: a cluster as YAML, written by ``aitc arch build --out`` and read by
``aitc sim --cluster``, ``aitc serve``, the Slurm config renderer and lab.yaml
(``cluster: {file: ...}``).

The format::

    name: dgx-h100-superpod-127
    reference_architecture: dgx-h100-superpod     # optional
    nodes:
      - {name: dgx001, model: dgx-h100, leaf: 0, su: 0, rack: 0}
      - ...

``rack`` is optional (default 0). Errors name the file, the line and the field
(``cluster.yaml:7: nodes[3].model: unknown node model 'dgx-h1OO' (known: ...)``).

A file named ``*.csv`` (or ``*.csv.gz``) is a node list instead: one row per node with its GPU
model and count (``arch.nodelist``), the form cluster traces publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from aitc.arch.clusterparse import parse_cluster
from aitc.arch.nodelist import is_node_list, load_node_list
from aitc.arch.nodespec import NodeSpec, node_from_spec
from aitc.domain.cluster import Cluster
from aitc.errors import AitcError, ConfigError

__all__ = ["NodeSpec", "cluster_from_nodes", "dump_cluster", "load_cluster", "node_from_spec"]


def cluster_from_nodes(
    name: str, specs: Iterable[NodeSpec], *, reference_architecture: str | None = None
) -> Cluster:
    """A cluster from explicit node specs (lab.yaml ``cluster: {nodes: [...]}``)."""
    nodes = tuple(node_from_spec(s, field=f"nodes[{i}]") for i, s in enumerate(specs))
    if not nodes:
        raise ConfigError("a cluster needs at least one node", field="nodes")
    return Cluster(name, nodes, reference_architecture)


def cluster_to_data(cluster: Cluster) -> dict[str, object]:
    """The plain data of a cluster file."""
    data: dict[str, object] = {"name": cluster.name}
    if cluster.reference_architecture:
        data["reference_architecture"] = cluster.reference_architecture
    data["nodes"] = [
        {"name": n.name, "model": n.model.name, "leaf": n.leaf, "su": n.su, "rack": n.rack}
        for n in cluster.nodes
    ]
    return data


def dump_cluster(cluster: Cluster, path: str | Path) -> None:
    """Write ``cluster`` to ``path`` as a cluster file, one node per line."""
    data = cluster_to_data(cluster)
    nodes = data.pop("nodes")
    assert isinstance(nodes, list)
    lines = [yaml.safe_dump(data, sort_keys=False, width=200), "nodes:\n"]
    for n in nodes:
        flow = yaml.safe_dump(n, default_flow_style=True, sort_keys=False, width=200)
        lines.append(f"  - {flow.strip()}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def load_cluster(path: str | Path) -> Cluster:
    """Read a cluster file; ConfigError with file, line and field for anything wrong."""
    p = Path(path)
    if is_node_list(p):
        return load_node_list(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(p)) from None
    try:
        return parse_cluster(text, str(p))
    except ConfigError:
        raise
    except AitcError as e:
        raise ConfigError(str(e), file=str(p)) from None

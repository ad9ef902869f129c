"""A node as cluster files and lab.yaml list it, and its conversion to a domain ``Node``."""

from __future__ import annotations

from dataclasses import dataclass

from aitc.domain.cluster import Node
from aitc.domain.node import NODE_MODELS
from aitc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node as a file or lab.yaml lists it: name, node model name and topology ids."""

    name: str
    model: str
    leaf: int
    su: int
    rack: int = 0


def node_from_spec(spec: NodeSpec, *, field: str = "nodes") -> Node:
    """The :class:`Node` for ``spec``; ConfigError naming ``field`` for an unknown model."""
    try:
        model = NODE_MODELS[spec.model]
    except KeyError:
        known = ", ".join(NODE_MODELS)
        raise ConfigError(
            f"unknown node model {spec.model!r} (known: {known})", field=f"{field}.model"
        ) from None
    for key in ("leaf", "su", "rack"):
        if getattr(spec, key) < 0:
            raise ConfigError("must be >= 0", field=f"{field}.{key}")
    return Node(spec.name, model, spec.leaf, spec.su, spec.rack)

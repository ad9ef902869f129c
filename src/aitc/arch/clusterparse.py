"""Parsing a cluster file with line numbers: YAML is composed into nodes that keep their marks,
so every error says the file, the line and the field (``nodes[3].leaf``).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from aitc.arch.catalog import REFERENCE_ARCHITECTURES
from aitc.arch.nodespec import NodeSpec, node_from_spec
from aitc.domain.cluster import Cluster, Node
from aitc.errors import ConfigError

_TOP_KEYS = ("name", "reference_architecture", "nodes")
_NODE_KEYS = ("name", "model", "leaf", "su", "rack")


@dataclass(frozen=True, slots=True)
class _Ctx:
    file: str

    def error(self, node: yaml.Node, field: str, reason: str) -> ConfigError:
        return ConfigError(reason, file=self.file, line=node.start_mark.line + 1, field=field)

    def mapping(self, node: yaml.Node, field: str, keys: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, field or "(top level)", "must be a mapping")
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            where = f"{field}.{key}" if field else key
            if key not in keys:
                raise self.error(k, where, f"unknown field (known: {', '.join(keys)})")
            if key in out:
                raise self.error(k, where, "given twice")
            out[key] = v
        return out

    def required(
        self, m: dict[str, yaml.Node], key: str, field: str, parent: yaml.Node
    ) -> yaml.Node:
        if key not in m:
            raise self.error(parent, field, "missing")
        return m[key]

    def text(self, node: yaml.Node, field: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.error(node, field, "must be a string")
        if not node.value.strip():
            raise self.error(node, field, "must not be empty")
        return str(node.value)

    def integer(self, node: yaml.Node, field: str) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            raise self.error(node, field, "must be an integer")
        value = int(node.value)
        if value < 0:
            raise self.error(node, field, f"must be >= 0, got {value}")
        return value


def _compose(text: str, file: str) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ConfigError(f"not valid YAML: {e.problem}", file=file, line=line) from None
    if root is None:
        raise ConfigError("empty cluster file", file=file, line=1)
    return root


def _node(ctx: _Ctx, item: yaml.Node, i: int) -> Node:
    field = f"nodes[{i}]"
    m = ctx.mapping(item, field, _NODE_KEYS)
    spec = NodeSpec(
        name=ctx.text(ctx.required(m, "name", f"{field}.name", item), f"{field}.name"),
        model=ctx.text(ctx.required(m, "model", f"{field}.model", item), f"{field}.model"),
        leaf=ctx.integer(ctx.required(m, "leaf", f"{field}.leaf", item), f"{field}.leaf"),
        su=ctx.integer(ctx.required(m, "su", f"{field}.su", item), f"{field}.su"),
        rack=ctx.integer(m["rack"], f"{field}.rack") if "rack" in m else 0,
    )
    try:
        return node_from_spec(spec, field=field)
    except ConfigError as e:
        raise ctx.error(m.get("model", item), e.field or field, e.reason) from None


def _nodes(ctx: _Ctx, seq: yaml.Node) -> tuple[Node, ...]:
    if not isinstance(seq, yaml.SequenceNode):
        raise ctx.error(seq, "nodes", "must be a list of nodes")
    if not seq.value:
        raise ctx.error(seq, "nodes", "must list at least one node")
    seen: dict[str, int] = {}
    out = []
    for i, item in enumerate(seq.value):
        node = _node(ctx, item, i)
        if node.name in seen:
            raise ctx.error(
                item,
                f"nodes[{i}].name",
                f"duplicate node name {node.name!r} (also nodes[{seen[node.name]}])",
            )
        seen[node.name] = i
        out.append(node)
    return tuple(out)


def parse_cluster(text: str, file: str) -> Cluster:
    """The cluster described by cluster-file ``text`` (``file`` names it in errors)."""
    ctx = _Ctx(file)
    root = _compose(text, file)
    top = ctx.mapping(root, "", _TOP_KEYS)
    name = ctx.text(ctx.required(top, "name", "name", root), "name")
    ra = None
    if "reference_architecture" in top:
        ra = ctx.text(top["reference_architecture"], "reference_architecture")
        if ra not in REFERENCE_ARCHITECTURES:
            known = ", ".join(REFERENCE_ARCHITECTURES)
            raise ctx.error(
                top["reference_architecture"],
                "reference_architecture",
                f"unknown reference architecture {ra!r} (known: {known})",
            )
    nodes = _nodes(ctx, ctx.required(top, "nodes", "nodes", root))
    return Cluster(name, nodes, ra)

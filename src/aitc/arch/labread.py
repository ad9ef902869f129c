"""Reading lab.yaml with every error: the one validation of a lab file.

``read_lab(path)`` returns the parts of a valid lab (``LabParts``) or raises ``ConfigErrors``
naming every problem it finds, each with file, line and field, in file order:

1. the YAML itself (a syntax error or a repeated key stops here: nothing after it is known);
2. every key's type and range (the pydantic models of ``aitc.arch.labschema``), and every row
   of the roster CSV;
3. the cluster (a reference architecture and a size, a cluster file, or a node list);
4. what spans several keys (``aitc.arch.labchecks``);
5. the scheduling policy and its parameters, by the check the caller hands in
   (``policy_check``: the engine's own rules, ``aitc.engine.registry.policy_errors``, which
   this layer may not import), so that a file this accepts is one that ``aitc serve`` and
   ``aitc sim --lab`` run with; its errors name fields, which are found here in the file.

Where a part fails the schema, the rest is still checked: an item of ``organisations``,
``members`` or ``courses`` that fails is left out of the checks across keys (the ids it gives
count as existing, so a reference to it is not reported a second time), a failing section
takes its default, and a cluster that cannot be built leaves out the checks against its size.
``aitc lab check``, ``aitc lab apply``, ``aitc serve --lab``, ``aitc sim --lab`` and
``aitc plan`` all read labs through ``aitc.plan.lab.load_lab``, which hands the engine's check
to ``aitc.arch.labfile.load_lab``, which calls this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aitc.arch.builder import build
from aitc.arch.catalog import reference_architecture
from aitc.arch.clusterfile import cluster_from_nodes, load_cluster
from aitc.arch.labchecks import Sourced, Unresolved, check_lab
from aitc.arch.labschema import ClusterSpec, LabSpec, MemberSpec
from aitc.arch.labsource import (
    Loc,
    Renumbered,
    Source,
    Within,
    YamlSource,
    data_loc,
    pydantic_errors,
    read_yaml,
)
from aitc.arch.nodespec import NodeSpec
from aitc.arch.roster import read_roster
from aitc.domain.cluster import Cluster
from aitc.errors import AitcError, ConfigError, ConfigErrors

# Sections whose items are checked one by one: a bad item leaves the others checkable.
_LISTS = ("organisations", "members", "courses")
# The same error in more places than this is named this often, then once for the rest.
SAME_SHOWN = 3
# Required keys that, when wrong, are replaced by a stand-in so that the rest is checked.
_STAND_INS: Mapping[str, Any] = {"name": "lab", "cluster": {"file": "-"}}

# Every problem of a lab's policy section (its name, its parameters), each naming its field
# (``policy.name``, ``policy.params.<key>``); empty when the scheduler accepts them.
PolicyCheck = Callable[[str, Mapping[str, object]], Sequence[ConfigError]]


@dataclass(frozen=True)
class LabParts:
    """A valid lab as read: the schema's view, the members with where each came from (the
    file or a roster row), and the cluster."""

    spec: LabSpec
    members: list[Sourced[MemberSpec]]
    cluster: Cluster


@dataclass(frozen=True)
class _Schema:
    """What passed the schema: the spec of the good parts, a source that points into the
    file, the ids of bad items, and the top-level keys that failed (stand-ins or defaults)."""

    spec: LabSpec
    source: Source
    unresolved: Unresolved
    failed: frozenset[str]


def read_lab(path: Path, *, policy_check: PolicyCheck) -> LabParts:
    """The lab at ``path``, or ``ConfigErrors`` with every problem of it and its roster;
    ``policy_check`` judges the policy section."""
    source = read_yaml(path, str(path))
    if not isinstance(source.data, dict):
        raise ConfigError(
            "a lab file must be a mapping of keys (name, cluster, ...)",
            file=source.file,
            line=source.line(()),
        )
    problems: list[ConfigError] = []
    schema = _schema(source, problems)
    if schema is None:
        raise _every(problems, source.file)
    spec, where = schema.spec, schema.source
    members, unresolved = _members(schema, path, problems)
    cluster = None
    if "cluster" not in schema.failed:
        try:
            cluster = resolve_cluster(spec.cluster, where, path, spec.name)
        except ConfigError as e:
            problems.append(e)
    problems += check_lab(spec, members, cluster, where, unresolved)
    if "policy" not in schema.failed:
        problems += _policy(spec, where, policy_check)
    if problems or cluster is None:
        raise _every(problems, source.file)
    return LabParts(spec, members, cluster)


def _every(problems: list[ConfigError], lab_file: str) -> ConfigErrors:
    """The problems once each, the lab file's first, then by file and line; the same error
    in more than ``SAME_SHOWN`` rows (every member of a removed organisation, say) is named
    ``SAME_SHOWN`` times and then once for the rest, with their lines."""
    unique = list({str(p): p for p in problems}.values())
    unique.sort(key=lambda p: (p.file != lab_file, p.file or "", p.line or 0))
    same: dict[tuple[str | None, str | None, str], list[ConfigError]] = {}
    for p in unique:
        same.setdefault((p.file, p.field, p.reason), []).append(p)
    out = []
    for p in unique:
        group = same[(p.file, p.field, p.reason)]
        if len(group) <= SAME_SHOWN or p in group[:SAME_SHOWN]:
            out.append(p)
        elif p is group[SAME_SHOWN]:
            more = group[SAME_SHOWN + 1 :]
            if more:
                lines = _runs([r.line or 0 for r in more])
                why = f"{p.reason} (and the same on {len(more)} more lines: {lines})"
            else:
                why = p.reason
            out.append(ConfigError(why, file=p.file, line=p.line, field=p.field))
    return ConfigErrors(out)


def _runs(numbers: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``3-5, 9``."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


# ------------------------------------------------------------------------------------ schema
def _schema(source: YamlSource, problems: list[ConfigError]) -> _Schema | None:
    """The lab's schema view; with errors, of the parts that pass (None: nothing does)."""
    try:
        return _Schema(LabSpec.model_validate(source.data), source, Unresolved(), frozenset())
    except ValidationError as e:
        problems += pydantic_errors(e, source, source.data, LabSpec)
        locs = [data_loc(d["loc"], source.data) for d in e.errors(include_url=False)]
    return _salvage(source, locs)


def _salvage(source: YamlSource, locs: list[Loc]) -> _Schema | None:
    """The lab without the items and sections the errors at ``locs`` point into."""
    raw: dict[Any, Any] = source.data
    bad: dict[str, set[int]] = {s: set() for s in _LISTS}
    failed: set[str] = set()
    for loc in locs:
        if not loc:
            return None
        key = str(loc[0])
        if key in bad and len(loc) > 1 and isinstance(loc[1], int):
            bad[key].add(loc[1])
        else:
            failed.add(key)
    if "organisations" in failed:
        return None  # every check across keys starts from the organisations
    data = {k: v for k, v in raw.items() if k not in failed}
    data |= {k: v for k, v in _STAND_INS.items() if k in failed}
    kept: dict[str, list[int]] = {}
    for section in _LISTS:
        items = data.get(section)
        if isinstance(items, list):
            kept[section] = [i for i in range(len(items)) if i not in bad[section]]
            data[section] = [items[i] for i in kept[section]]
    try:
        spec = LabSpec.model_validate(data)
    except ValidationError:
        return None
    unresolved = Unresolved(
        organisations=_ids(_items(raw, "organisations", bad)),
        projects=_ids(p for o in _items(raw, "organisations", bad) for p in _list(o, "projects")),
        members=_ids(_items(raw, "members", bad)),
        any_member="roster" in failed or "members" in failed,
        courses=_ids(_items(raw, "courses", bad)),
    )
    return _Schema(spec, Renumbered(source, kept), unresolved, frozenset(failed))


def _items(raw: Mapping[Any, Any], section: str, bad: Mapping[str, set[int]]) -> list[Any]:
    items = _list(raw, section)
    return [items[i] for i in sorted(bad[section]) if i < len(items)]


def _list(parent: Any, key: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


def _ids(items: Any) -> frozenset[str]:
    return frozenset(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)


# ----------------------------------------------------------------------------------- members
def _members(
    schema: _Schema, lab_file: Path, problems: list[ConfigError]
) -> tuple[list[Sourced[MemberSpec]], Unresolved]:
    """Inline members first, then the roster's rows, each with where it came from; and the
    unresolved ids, with the roster's bad rows added."""
    spec, where, unresolved = schema.spec, schema.source, schema.unresolved
    out: list[Sourced[MemberSpec]] = [
        (m, Within(where, ("members", i))) for i, m in enumerate(spec.members)
    ]
    if spec.roster is None:
        return out, unresolved
    path = lab_file.parent / spec.roster
    shown = str(path)  # next to the lab file, as the user would type it from here
    if not path.is_file():
        problems.append(where.error(("roster",), f"file not found: {shown}"))
        return out, _with_any_member(unresolved)
    try:
        roster = read_roster(path, shown)
    except ConfigError as e:
        problems.append(e)
        return out, _with_any_member(unresolved)
    problems += roster.errors
    out.extend(roster.members)
    if roster.errors and not roster.members:  # the header is wrong: no row was read
        return out, _with_any_member(unresolved)
    return out, replace(unresolved, members=unresolved.members | roster.unresolved)


def _with_any_member(u: Unresolved) -> Unresolved:
    return replace(u, any_member=True)


# ----------------------------------------------------------------------------------- cluster
def resolve_cluster(spec: ClusterSpec, source: Source, lab_file: Path, name: str) -> Cluster:
    """The cluster the ``cluster`` section describes (a cluster file is next to
    ``lab_file``); errors point at its keys."""
    if spec.file is not None:
        path = lab_file.parent / spec.file
        return _cluster_file(path, str(path), source)
    if isinstance(spec.nodes, list):
        return _node_list(spec, source, name)
    ra = spec.reference_architecture
    assert ra is not None  # ClusterSpec guarantees one of the three forms

    try:
        reference_architecture(ra)
    except AitcError as e:
        raise source.error(("cluster", "reference_architecture"), str(e)) from None
    size_key = "sus" if spec.sus is not None else "nodes"
    try:
        return build(ra, sus=spec.sus, nodes=spec.nodes).cluster
    except ConfigError as e:
        raise source.error(("cluster", size_key), e.reason) from None
    except (AitcError, ValueError) as e:
        raise source.error(("cluster", size_key), str(e)) from None


def _cluster_file(path: Path, shown: str, source: Source) -> Cluster:
    if not path.is_file():
        raise source.error(("cluster", "file"), f"file not found: {shown}")
    try:
        return load_cluster(path)
    except ConfigError:
        raise
    except AitcError as e:
        raise ConfigError(str(e), file=shown) from None


def _node_list(spec: ClusterSpec, source: Source, name: str) -> Cluster:
    assert isinstance(spec.nodes, list)
    seen: dict[str, int] = {}
    for i, n in enumerate(spec.nodes):
        if n.name in seen:
            raise source.error(
                ("cluster", "nodes", i, "name"),
                f"duplicate node name {n.name!r} (also nodes[{seen[n.name]}])",
            )
        seen[n.name] = i
    specs = [NodeSpec(n.name, n.model, n.leaf, n.su, n.rack) for n in spec.nodes]
    try:
        return cluster_from_nodes(name, specs)
    except ConfigError as e:
        raise source.error(("cluster", *_node_loc(e.field)), e.reason) from None


def _node_loc(field: str | None) -> Loc:
    """``nodes[3].model`` (a field name of the cluster builder) as a path."""
    match = re.fullmatch(r"nodes\[(\d+)\]\.(\w+)", field or "")
    return ("nodes", int(match[1]), match[2]) if match else ("nodes",)


# ------------------------------------------------------------------------------------ policy
def _policy(spec: LabSpec, where: Source, policy_check: PolicyCheck) -> list[ConfigError]:
    """The check's verdict on the policy and its parameters, pointing into the file."""
    out = []
    for e in policy_check(spec.policy.name, spec.policy.params):
        loc: Loc = tuple((e.field or "policy").split(".", 2))
        out.append(where.error(loc, e.reason))
    return out

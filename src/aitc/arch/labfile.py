"""Read lab.yaml into a ``aitc.domain.lab.Lab``, checking everything on the way.

Three stages, each raising ``ConfigError`` with file, line and field:

1. parse the YAML (remembering the line of every key) and check each key's type and range with
   the pydantic models of ``aitc.arch.labschema``; read the roster CSV the same way;
2. resolve the cluster (a reference architecture and a size, a cluster file, or a node list);
3. check what spans several keys (``aitc.arch.labchecks``) and build the domain dataclasses.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType

from pydantic import ValidationError

from aitc.arch.builder import build
from aitc.arch.catalog import reference_architecture
from aitc.arch.clusterfile import cluster_from_nodes, load_cluster
from aitc.arch.labchecks import Sourced, check_lab
from aitc.arch.labschema import (
    ClusterSpec,
    CostsSpec,
    CourseSpec,
    LabLimitsSpec,
    LabSpec,
    LimitsSpec,
    MemberSpec,
    OidcSpec,
    OrganisationSpec,
    PlanSpecModel,
    PolicySpecModel,
    TargetsSpec,
    WorkloadSpecModel,
)
from aitc.arch.labsource import Loc, Within, YamlSource, pydantic_error, read_yaml
from aitc.arch.nodespec import NodeSpec
from aitc.arch.roster import read_roster
from aitc.domain.cluster import Cluster
from aitc.domain.lab import Certification, Course, Lab, OidcSignIn, PolicySpec
from aitc.domain.org import Limits, Member, Organisation, OrgKind, Project, Role, WorkloadSpec
from aitc.domain.targets import Costs, PartnerContract, PlanSpec, Targets
from aitc.errors import AitcError, ConfigError


def load_lab(path: str | Path) -> Lab:
    """The lab described by the YAML file at ``path`` (``ConfigError`` if anything is wrong)."""
    path = Path(path)
    source = read_yaml(path, str(path))
    if not isinstance(source.data, dict):
        raise ConfigError(
            "a lab file must be a mapping of keys (name, cluster, ...)",
            file=source.file,
            line=source.line(()),
        )
    try:
        spec = LabSpec.model_validate(source.data)
    except ValidationError as e:
        raise pydantic_error(e, source, source.data, LabSpec) from None
    members = _members(spec, source, path.parent)
    cluster = resolve_cluster(spec.cluster, source, path.parent, spec.name)
    check_lab(spec, members, cluster, source)
    defaults, by_role = _limits(spec.limits), _role_limits(spec.limits)
    return Lab(
        name=spec.name,
        cluster=cluster,
        organisations=tuple(_organisation(o) for o in spec.organisations),
        members=tuple(_member(m, defaults, by_role) for m, _ in members),
        courses=tuple(_course(c) for c in spec.courses),
        policy=_policy(spec.policy),
        limits=defaults,
        role_limits=MappingProxyType(by_role),
        targets=_targets(spec.targets),
        costs=_costs(spec.costs) if spec.costs else None,
        plan=_plan(spec.plan),
        oidc=_oidc(spec.sign_in.oidc, path.parent) if spec.sign_in.oidc else None,
    )


def _members(spec: LabSpec, source: YamlSource, base: Path) -> list[Sourced[MemberSpec]]:
    """Inline members first, then the roster's rows, each with where it came from."""
    out: list[Sourced[MemberSpec]] = [
        (m, Within(source, ("members", i))) for i, m in enumerate(spec.members)
    ]
    if spec.roster is not None:
        shown = _shown(source.file, spec.roster)
        if not (base / spec.roster).is_file():
            raise source.error(("roster",), f"file not found: {shown}")
        out.extend(read_roster(base / spec.roster, shown))
    return out


def _shown(lab_file: str, relative: str) -> str:
    """A path next to the lab file, as the user would type it from here."""
    return str(Path(lab_file).parent / relative)


def resolve_cluster(spec: ClusterSpec, source: YamlSource, base: Path, name: str) -> Cluster:
    """The cluster the ``cluster`` section describes; errors point at its keys."""
    if spec.file is not None:
        return _cluster_file(base / spec.file, _shown(source.file, spec.file), source)
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


def _cluster_file(path: Path, shown: str, source: YamlSource) -> Cluster:
    if not path.is_file():
        raise source.error(("cluster", "file"), f"file not found: {shown}")
    try:
        return load_cluster(path)
    except ConfigError:
        raise
    except AitcError as e:
        raise ConfigError(str(e), file=shown) from None


def _node_list(spec: ClusterSpec, source: YamlSource, name: str) -> Cluster:
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


def _organisation(o: OrganisationSpec) -> Organisation:
    return Organisation(
        id=o.id,
        name=o.name,
        kind=OrgKind(o.kind),
        share=o.share,
        projects=tuple(Project(p.id, p.name, o.id, p.share) for p in o.projects),
        quota=o.quota,
        borrow_limit=o.borrow_limit,
        workload=_workload(o.workload) if o.workload else None,
    )


def _workload(w: WorkloadSpecModel) -> WorkloadSpec:
    return WorkloadSpec(
        jobs_per_day=w.jobs_per_day,
        gpu_mix=tuple(sorted(w.gpu_mix.items())),
        median_runtime_s=w.median_runtime_s,
        runtime_sigma=w.runtime_sigma,
        time_of_day=tuple(w.time_of_day) if w.time_of_day is not None else None,
    )


def _limits(spec: LimitsSpec | None) -> Limits:
    if spec is None:
        return Limits()
    return Limits(spec.max_pending_jobs, spec.max_running_gpus, spec.submissions_per_minute)


def _role_limits(spec: LabLimitsSpec) -> dict[Role, Limits]:
    return {Role(role): _limits(limits) for role, limits in spec.roles.items()}


def _member(m: MemberSpec, defaults: Limits, by_role: dict[Role, Limits]) -> Member:
    """The member, with effective limits: defaults, then their role's, then their own."""
    limits = defaults.over(by_role.get(Role(m.role), Limits())).over(_limits(m.limits))
    return Member(
        m.id,
        m.name,
        m.email,
        m.organisation,
        Role(m.role),
        tuple(m.projects),
        unix_user=m.unix_user,
        uid=m.uid,
        gid=m.gid,
        limits=limits,
    )


def _course(c: CourseSpec) -> Course:
    return Course(
        c.id,
        c.name,
        c.org,
        c.instructor,
        c.seats,
        c.mig_profile,
        hours=c.hours,
        description=c.description,
        gpus_per_seat=c.gpus_per_seat,
        lab_command=tuple(c.lab_command),
        assessment_command=tuple(c.assessment_command),
        criteria=c.criteria,
        certified=tuple(
            Certification(x.member, x.expires.isoformat() if x.expires else None)
            for x in c.certified
        ),
    )


def _policy(p: PolicySpecModel) -> PolicySpec:
    return PolicySpec(p.name, MappingProxyType(dict(p.params)))


def _targets(t: TargetsSpec) -> Targets:
    contract = t.partner_contract
    return Targets(
        max_wait_min=MappingProxyType({str(k): v for k, v in t.max_wait_min.items()}),
        wait_percentile=t.wait_percentile,
        workshop_seats=t.workshop_seats,
        partner_contract=PartnerContract(contract.within_min, contract.share) if contract else None,
        min_utilisation=t.min_utilisation,
    )


def _costs(c: CostsSpec) -> Costs:
    return Costs(
        c.currency,
        c.node,
        c.switch,
        c.rack,
        c.years,
        c.energy_per_kwh,
        c.pue,
        MappingProxyType({str(k): v for k, v in c.rate_card.items()}),
    )


def _plan(p: PlanSpecModel) -> PlanSpec:
    return PlanSpec(tuple(p.policies), p.seeds, p.days, p.min_nodes, p.max_nodes, str(p.step))


def _oidc(o: OidcSpec, base: Path) -> OidcSignIn:
    """The OpenID Connect sign-in; a relative secret file is next to the lab file."""
    secret_file = str((base / o.client_secret_file).resolve()) if o.client_secret_file else None
    return OidcSignIn(
        o.issuer,
        o.client_id,
        secret_file,
        o.client_secret_env,
        o.claim,
        o.matches,
        tuple(o.scopes),
        o.redirect_uri,
        o.label,
    )

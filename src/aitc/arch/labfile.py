"""Read lab.yaml into a ``aitc.domain.lab.Lab``.

``aitc.arch.labread`` checks everything (the YAML, each key, the roster, the cluster, what
spans several keys, the policy with the check it is handed) and raises ``ConfigErrors``
naming every problem with file, line and field; here the valid parts become the domain
dataclasses. Commands read labs through ``aitc.plan.lab.load_lab``, which hands in the
engine's policy check (this layer imports only the domain).
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from aitc.arch.labread import PolicyCheck, read_lab
from aitc.arch.labschema import (
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
from aitc.domain.lab import Certification, Course, Lab, OidcSignIn, PlannedSession, PolicySpec
from aitc.domain.org import Limits, Member, Organisation, OrgKind, Project, Role, WorkloadSpec
from aitc.domain.targets import Costs, PartnerContract, PlanSpec, Targets


def load_lab(path: str | Path, *, policy_check: PolicyCheck) -> Lab:
    """The lab described by the YAML file at ``path`` (``ConfigError``, a ``ConfigErrors``
    with every problem, if anything is wrong); ``policy_check`` judges its policy section."""
    path = Path(path)
    parts = read_lab(path, policy_check=policy_check)
    spec, members, cluster = parts.spec, parts.members, parts.cluster
    defaults, by_role = _limits(spec.limits), _role_limits(spec.limits)
    return Lab(
        name=spec.name,
        cluster=cluster,
        organisations=tuple(_organisation(o) for o in spec.organisations),
        members=tuple(_member(m, defaults, by_role) for m, _ in members),
        courses=tuple(_course(c) for c in spec.courses),
        calendar=_calendar(spec),
        policy=_policy(spec.policy),
        limits=defaults,
        role_limits=MappingProxyType(by_role),
        targets=_targets(spec.targets),
        costs=_costs(spec.costs) if spec.costs else None,
        plan=_plan(spec.plan),
        oidc=_oidc(spec.sign_in.oidc, path.parent) if spec.sign_in.oidc else None,
    )


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


def _calendar(spec: LabSpec) -> tuple[PlannedSession, ...]:
    """One session per start of each calendar entry (seats, hours and instructors defaulting
    to the course's; waitlist, location and remote as the entry says), by start."""
    courses = {c.id: c for c in spec.courses}
    sessions = [
        PlannedSession(
            e.course,
            start.isoformat(timespec="minutes"),
            e.seats or courses[e.course].seats,
            e.hours or courses[e.course].hours,
            tuple(e.instructors) or _lead(courses[e.course]),
            e.waitlist,
            e.location,
            e.remote,
        )
        for e in spec.calendar
        for start in e.starts
    ]
    return tuple(sorted(sessions, key=lambda s: (s.start, s.course)))


def _lead(c: CourseSpec) -> tuple[str, ...]:
    return (c.instructor,) if c.instructor else ()


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
        rules=c.rules(),
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

"""The checks of lab.yaml that span several keys.

Each key on its own is checked by the schema; here the lab is checked as a whole: ids are
unique, every reference (a member's organisation and projects, a course's organisation,
instructor and MIG profile) names something that exists, and the guaranteed quotas fit in the
cluster. Each failure points at the key that is wrong, in lab.yaml or in the roster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from aitc.arch.labschema import CourseSpec, LabSpec, MemberSpec
from aitc.arch.labsource import Loc, Source, field_name
from aitc.domain.cluster import Cluster
from aitc.domain.gpu import gpu_model

T = TypeVar("T")
Sourced = tuple[T, Source]


def check_lab(
    spec: LabSpec, members: list[Sourced[MemberSpec]], cluster: Cluster, source: Source
) -> None:
    """Raise ``ConfigError`` at the first key that contradicts another part of the lab."""
    _check_organisations(spec, cluster, source)
    _check_members(spec, members)
    _check_courses(spec, members, cluster, source)


def _unique(items: Iterable[tuple[str, Loc]], source: Source, what: str) -> None:
    """Each id once; a repeat is reported where it repeats, naming the first occurrence."""
    first: dict[str, Loc] = {}
    for value, loc in items:
        if value in first:
            raise source.error(
                loc, f"duplicate {what} {value!r} (first: {field_name(first[value])})"
            )
        first[value] = loc


def _check_organisations(spec: LabSpec, cluster: Cluster, source: Source) -> None:
    orgs = spec.organisations
    _unique(((o.id, ("organisations", i, "id")) for i, o in enumerate(orgs)), source, "id")
    _unique(
        (
            (p.id, ("organisations", i, "projects", j, "id"))
            for i, o in enumerate(orgs)
            for j, p in enumerate(o.projects)
        ),
        source,
        "project id",
    )
    total, gpus = 0, cluster.total_gpus
    for i, o in enumerate(orgs):
        total += o.quota or 0
        if o.quota and total > gpus:
            raise source.error(
                ("organisations", i, "quota"),
                f"quotas add up to {total} GPUs here, more than the cluster's {gpus}",
            )
        _check_workload(spec, i, cluster, source)


def _check_workload(spec: LabSpec, i: int, cluster: Cluster, source: Source) -> None:
    workload = spec.organisations[i].workload
    if workload is None:
        return
    for size in workload.gpu_mix:
        if size > cluster.total_gpus:
            raise source.error(
                ("organisations", i, "workload", "gpu_mix", size),
                f"jobs of {size} GPUs cannot run on a cluster of {cluster.total_gpus} GPUs",
            )


def _check_members(spec: LabSpec, members: list[Sourced[MemberSpec]]) -> None:
    orgs = {o.id for o in spec.organisations}
    projects = {p.id for o in spec.organisations for p in o.projects}
    seen_ids: dict[str, Source] = {}
    seen_emails: dict[str, Source] = {}
    for m, where in members:
        _once(m.id, "id", where, seen_ids)
        _once(m.email.lower(), "email", where, seen_emails)
        if m.organisation not in orgs:
            raise where.error(
                ("organisation",),
                f"unknown organisation {m.organisation!r} (known: {', '.join(sorted(orgs))})",
            )
        for j, p in enumerate(m.projects):
            if p not in projects:
                raise where.error(("projects", j), f"unknown project {p!r}")


def _once(value: str, key: str, where: Source, seen: dict[str, Source]) -> None:
    if value in seen:
        first = seen[value].place((key,))
        raise where.error((key,), f"duplicate member {key} {value!r} (first at {first})")
    seen[value] = where


def _check_courses(
    spec: LabSpec, members: list[Sourced[MemberSpec]], cluster: Cluster, source: Source
) -> None:
    courses = spec.courses
    _unique(((c.id, ("courses", i, "id")) for i, c in enumerate(courses)), source, "course id")
    orgs = {o.id for o in spec.organisations}
    roles = {m.id: m.role for m, _ in members}
    for i, c in enumerate(courses):
        if c.org not in orgs:
            raise source.error(("courses", i, "org"), f"unknown organisation {c.org!r}")
        if c.instructor is not None and roles.get(c.instructor) != "instructor":
            raise source.error(("courses", i, "instructor"), _not_instructor(c, roles))
        if c.mig_profile is not None:
            _check_mig(c, i, cluster, source)
        for k, cert in enumerate(c.certified):
            if roles.get(cert.member) != "instructor":
                field = ("courses", i, "certified", k, "member")
                raise source.error(field, _not_instructor_id(cert.member, roles))


def _not_instructor_id(who: str, roles: Mapping[str, str]) -> str:
    if who not in roles:
        return f"unknown member {who!r}"
    return f"member {who!r} has role {roles[who]}, not instructor"


def _not_instructor(course: CourseSpec, roles: Mapping[str, str]) -> str:
    who = course.instructor
    if who not in roles:
        return f"unknown member {who!r}"
    return f"member {who!r} has role {roles[str(who)]}, not instructor"


def _check_mig(course: CourseSpec, i: int, cluster: Cluster, source: Source) -> None:
    models = [gpu_model(name) for name in cluster.gpu_models]
    if any(course.mig_profile in {p.name for p in g.mig_profiles} for g in models):
        return
    known = dict.fromkeys(p.name for g in models for p in g.mig_profiles)  # catalog order
    raise source.error(
        ("courses", i, "mig_profile"),
        f"unknown MIG profile {course.mig_profile!r} on {', '.join(cluster.gpu_models)} "
        f"(known: {', '.join(known)})",
    )

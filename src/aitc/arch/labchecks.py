"""The checks of lab.yaml that span several keys.

Each key on its own is checked by the schema; here the lab is checked as a whole: ids are
unique, every reference (a member's organisation and projects, a course's organisation,
instructor and MIG profile, a calendar entry's course and instructors) names something that
exists, a course's lab limits work together, and the guaranteed quotas fit in the cluster.
Each failure points at the key that is wrong, in lab.yaml or in the roster, and every failure
is returned, not only the first.

The checks run on the parts of the lab that passed the schema. Ids that items failing the
schema give are ``Unresolved``: a reference to one of them is not reported a second time.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from aitc.arch.labschema import CalendarSpec, CourseSpec, LabSpec, MemberSpec
from aitc.arch.labsource import Loc, Source, field_name
from aitc.domain.cluster import Cluster
from aitc.domain.courselab import check_rules
from aitc.domain.gpu import gpu_model
from aitc.errors import ConfigError, did_you_mean

T = TypeVar("T")
Sourced = tuple[T, Source]


@dataclass(frozen=True)
class Unresolved:
    """Ids named by organisations, projects, members and courses that failed the schema;
    ``any_member``: the members are not all known (the roster could not be read)."""

    organisations: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()
    any_member: bool = False
    courses: frozenset[str] = frozenset()


def check_lab(
    spec: LabSpec,
    members: list[Sourced[MemberSpec]],
    cluster: Cluster | None,
    source: Source,
    unresolved: Unresolved = Unresolved(),
) -> list[ConfigError]:
    """Every key that contradicts another part of the lab (``cluster`` None: it could not be
    built, so the checks against its size and GPUs are left out)."""
    return [
        *_check_organisations(spec, cluster, source),
        *_check_members(spec, members, unresolved),
        *_check_courses(spec, members, cluster, source, unresolved),
        *_check_calendar(spec, members, cluster, source, unresolved),
    ]


def _unique(items: Iterable[tuple[str, Loc]], source: Source, what: str) -> list[ConfigError]:
    """Each id once; a repeat is reported where it repeats, naming the first occurrence."""
    first: dict[str, Loc] = {}
    out = []
    for value, loc in items:
        if value in first:
            out.append(
                source.error(loc, f"duplicate {what} {value!r} (first: {field_name(first[value])})")
            )
        else:
            first[value] = loc
    return out


def _check_organisations(
    spec: LabSpec, cluster: Cluster | None, source: Source
) -> list[ConfigError]:
    orgs = spec.organisations
    out = _unique(((o.id, ("organisations", i, "id")) for i, o in enumerate(orgs)), source, "id")
    out += _unique(
        (
            (p.id, ("organisations", i, "projects", j, "id"))
            for i, o in enumerate(orgs)
            for j, p in enumerate(o.projects)
        ),
        source,
        "project id",
    )
    if cluster is None:
        return out
    total, gpus, over = 0, cluster.total_gpus, False
    for i, o in enumerate(orgs):
        total += o.quota or 0
        if o.quota and total > gpus and not over:  # once, where the sum first passes
            over = True
            out.append(
                source.error(
                    ("organisations", i, "quota"),
                    f"quotas add up to {total} GPUs here, more than the cluster's {gpus}",
                )
            )
        out += _check_workload(spec, i, cluster, source)
    return out


def _check_workload(spec: LabSpec, i: int, cluster: Cluster, source: Source) -> list[ConfigError]:
    workload = spec.organisations[i].workload
    if workload is None:
        return []
    return [
        source.error(
            ("organisations", i, "workload", "gpu_mix", size),
            f"jobs of {size} GPUs cannot run on a cluster of {cluster.total_gpus} GPUs",
        )
        for size in workload.gpu_mix
        if size > cluster.total_gpus
    ]


def _check_members(
    spec: LabSpec, members: list[Sourced[MemberSpec]], unresolved: Unresolved
) -> list[ConfigError]:
    orgs = {o.id for o in spec.organisations} | unresolved.organisations
    projects = {p.id for o in spec.organisations for p in o.projects} | unresolved.projects
    seen_ids: dict[str, Source] = {}
    seen_emails: dict[str, Source] = {}
    out = []
    for m, where in members:
        out += _once(m.id, "id", where, seen_ids)
        out += _once(m.email.lower(), "email", where, seen_emails)
        if m.organisation not in orgs:
            out.append(
                where.error(
                    ("organisation",),
                    f"unknown organisation {m.organisation!r}{did_you_mean(m.organisation, orgs)}"
                    f" (known: {', '.join(sorted(orgs))})",
                )
            )
        for j, p in enumerate(m.projects):
            if p not in projects:
                out.append(
                    where.error(
                        ("projects", j), f"unknown project {p!r}{did_you_mean(p, projects)}"
                    )
                )
    return out


def _once(value: str, key: str, where: Source, seen: dict[str, Source]) -> list[ConfigError]:
    if value in seen:
        first = seen[value].place((key,))
        return [where.error((key,), f"duplicate member {key} {value!r} (first at {first})")]
    seen[value] = where
    return []


def _check_courses(
    spec: LabSpec,
    members: list[Sourced[MemberSpec]],
    cluster: Cluster | None,
    source: Source,
    unresolved: Unresolved,
) -> list[ConfigError]:
    courses = spec.courses
    out = _unique(
        ((c.id, ("courses", i, "id")) for i, c in enumerate(courses)), source, "course id"
    )
    orgs = {o.id for o in spec.organisations} | unresolved.organisations
    roles = {m.id: m.role for m, _ in members}
    for i, c in enumerate(courses):
        if c.org not in orgs:
            out.append(
                source.error(
                    ("courses", i, "org"),
                    f"unknown organisation {c.org!r}{did_you_mean(c.org, orgs)}",
                )
            )
        who: list[tuple[Loc, str]] = [(("instructor",), c.instructor)] if c.instructor else []
        who += [(("certified", k, "member"), x.member) for k, x in enumerate(c.certified)]
        for key, member in who:
            known = member in roles or not (unresolved.any_member or member in unresolved.members)
            if known and roles.get(member) != "instructor":
                out.append(source.error(("courses", i, *key), _not_instructor(member, roles)))
        if c.mig_profile is not None and cluster is not None:
            out += _check_mig(c, i, cluster, source)
        try:
            check_rules(c.rules())
        except ConfigError as e:
            at: Loc = (e.field,) if e.field else ()
            out.append(source.error(("courses", i, *at), e.reason))
    return out


def _not_instructor(who: str, roles: Mapping[str, str]) -> str:
    if who not in roles:
        return f"unknown member {who!r}{did_you_mean(who, roles)}"
    return f"member {who!r} has role {roles[who]}, not instructor"


def _check_mig(course: CourseSpec, i: int, cluster: Cluster, source: Source) -> list[ConfigError]:
    models = [gpu_model(name) for name in cluster.gpu_models]
    if any(course.mig_profile in {p.name for p in g.mig_profiles} for g in models):
        return []
    known = dict.fromkeys(p.name for g in models for p in g.mig_profiles)  # catalog order
    return [
        source.error(
            ("courses", i, "mig_profile"),
            f"unknown MIG profile {course.mig_profile!r} on {', '.join(cluster.gpu_models)} "
            f"(known: {', '.join(known)})",
        )
    ]


def _check_calendar(
    spec: LabSpec,
    members: list[Sourced[MemberSpec]],
    cluster: Cluster | None,
    source: Source,
    unresolved: Unresolved,
) -> list[ConfigError]:
    """Each calendar entry names a course, has seats and instructors certified for it, and
    fits in the cluster on its own (whether overlapping sessions fit together is the engine's
    to say: in the twin, and when ``aitc lab apply`` creates them)."""
    courses = {c.id: c for c in spec.courses}
    roles = {m.id: m.role for m, _ in members}
    out = _check_starts(spec, source)
    for i, entry in enumerate(spec.calendar):
        course = courses.get(entry.course)
        if course is None:
            if entry.course not in unresolved.courses:
                why = f"unknown course {entry.course!r}{did_you_mean(entry.course, courses)}"
                out.append(source.error(("calendar", i, "course"), why))
            continue
        out += _check_teachers(entry, i, course, roles, source, unresolved)
        seats = entry.seats or course.seats
        if not seats:
            why = f"course {course.id} has no default seats: give the sessions' seats"
            out.append(source.error(("calendar", i, "course"), why))
        elif (
            cluster is not None and (need := _gpus_for(course, seats, cluster)) > cluster.total_gpus
        ):
            where = ("calendar", i, "seats") if entry.seats else ("calendar", i, "course")
            why = f"{seats} seats need {need} GPUs, more than the cluster's {cluster.total_gpus}"
            out.append(source.error(where, why))
    return out


def _check_starts(spec: LabSpec, source: Source) -> list[ConfigError]:
    """A course and a start name one planned session (``aitc lab apply`` keeps the store's
    sessions by them), so a course starts at most one session at a time."""
    seen: dict[tuple[str, datetime.datetime], int] = {}
    out = []
    for i, entry in enumerate(spec.calendar):
        for k, start in enumerate(entry.starts):
            first = seen.setdefault((entry.course, start), i)
            if first != i or entry.starts.index(start) != k:
                why = (
                    f"{entry.course} already has a session starting at "
                    f"{start.isoformat(timespec='minutes')} (calendar[{first}]): a course "
                    "starts one session at a time"
                )
                out.append(source.error(("calendar", i, "starts", k), why))
    return out


def _check_teachers(
    entry: CalendarSpec,
    i: int,
    course: CourseSpec,
    roles: Mapping[str, str],
    source: Source,
    unresolved: Unresolved,
) -> list[ConfigError]:
    """A calendar entry's instructors (default: the course's lead) are instructors certified
    for the course in the lab."""
    if not entry.instructors and not course.instructor:
        why = f"course {course.id} has no lead instructor: give the sessions' instructors"
        return [source.error(("calendar", i, "course"), why)]
    out = []
    for k, member in enumerate(entry.instructors):
        known = member in roles or not (unresolved.any_member or member in unresolved.members)
        if known and roles.get(member) != "instructor":
            out.append(
                source.error(("calendar", i, "instructors", k), _not_instructor(member, roles))
            )
        elif member not in course.teachers():
            why = f"{member} is not certified to teach {course.id} (its instructor or certified)"
            out.append(source.error(("calendar", i, "instructors", k), why))
    return out


def _gpus_for(course: CourseSpec, seats: int, cluster: Cluster) -> int:
    """GPUs that ``seats`` seats of ``course`` take (0 for a MIG profile the cluster lacks,
    which ``_check_mig`` reports)."""
    if course.mig_profile is None:
        return seats * course.gpus_per_seat
    for name in cluster.gpu_models:
        for profile in gpu_model(name).mig_profiles:
            if profile.name == course.mig_profile:
                return -(-seats // profile.per_gpu)
    return 0

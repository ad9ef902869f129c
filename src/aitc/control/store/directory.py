"""Organisations, projects and members in the store.

``put_*`` functions insert or update one object from its domain type and return the list of
changes they made in words (empty when the stored object already matched), which is how
``aitc lab apply`` reports what it did and proves that a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from aitc.control.store.models import (
    JobRow,
    MemberRow,
    OrganisationRow,
    ProjectMemberRow,
    ProjectRow,
)
from aitc.domain.job import JobState
from aitc.domain.org import Member, Organisation, Project, Role
from aitc.errors import ConflictError, NotFoundError

MEMBER_DISABLED = "member_disabled"
# The operators' organisation and project: ``aitc serve`` makes the bootstrap admin a member,
# so that an operator's first ``aitc submit`` needs no --project. Not managed by lab.yaml
# (unless a lab defines an organisation or project of this id itself).
OPERATORS = "operators"


def _apply(row: object, label: str, values: dict[str, object]) -> list[str]:
    changes = []
    for key, value in values.items():
        old = getattr(row, key)
        if old != value:
            setattr(row, key, value)
            changes.append(f"{label}: {key} {old!r} -> {value!r}")
    return changes


def put_organisation(*, session: Session, org: Organisation) -> list[str]:
    row = session.get(OrganisationRow, org.id)
    values: dict[str, object] = {
        "name": org.name,
        "kind": str(org.kind),
        "share": org.share,
        "quota": org.quota,
        "borrow_limit": org.borrow_limit,
        "enabled": True,
    }
    if row is None:
        session.add(OrganisationRow(id=org.id, **values))
        return [f"organisation {org.id}: created"]
    return _apply(row, f"organisation {org.id}", values)


def put_project(*, session: Session, project: Project) -> list[str]:
    row = session.get(ProjectRow, project.id)
    values: dict[str, object] = {
        "name": project.name,
        "org_id": project.org,
        "share": project.share,
        "enabled": True,
    }
    if row is None:
        session.add(ProjectRow(id=project.id, **values))
        return [f"project {project.id}: created"]
    return _apply(row, f"project {project.id}", values)


def put_member(*, session: Session, member: Member) -> list[str]:
    """Insert or update a member and set their projects to exactly ``member.projects``."""
    row = session.get(MemberRow, member.id)
    values: dict[str, object] = {
        "name": member.name,
        "email": member.email,
        "org_id": member.org,
        "role": str(member.role),
        "enabled": True,
        "unix_user": member.unix_user,
        "uid": member.uid,
        "gid": member.gid,
        "limits": member.limits.to_json(),
    }
    if row is None:
        session.add(MemberRow(id=member.id, **values))
        session.flush()
        changes = [f"member {member.id}: created"]
    else:
        changes = _apply(row, f"member {member.id}", values)
    return changes + _set_projects(session, member.id, set(member.projects))


def _set_projects(session: Session, member_id: str, wanted: set[str]) -> list[str]:
    stmt = select(ProjectMemberRow.project_id).where(ProjectMemberRow.member_id == member_id)
    have = set(session.scalars(stmt))
    for project in sorted(wanted - have):
        session.add(ProjectMemberRow(project_id=project, member_id=member_id))
    gone = sorted(have - wanted)
    if gone:
        session.execute(
            delete(ProjectMemberRow).where(
                ProjectMemberRow.member_id == member_id, ProjectMemberRow.project_id.in_(gone)
            )
        )
    return [f"member {member_id}: joined {p}" for p in sorted(wanted - have)] + [
        f"member {member_id}: left {p}" for p in gone
    ]


def disable_missing(
    *, session: Session, model: type, keep: Iterable[str], label: str, only_with_org: bool = False
) -> list[str]:
    """Disable every enabled row of ``model`` whose id is not in ``keep`` (never delete)."""
    keep_set = set(keep)
    stmt: Any = select(model).where(model.enabled.is_(True))  # type: ignore[attr-defined]
    changes = []
    for row in session.scalars(stmt):
        if row.id in keep_set or (only_with_org and row.org_id is None) or row.id == OPERATORS:
            continue
        row.enabled = False
        changes.append(f"{label} {row.id}: disabled")
    return changes


def list_organisations(*, session: Session) -> list[OrganisationRow]:
    return list(session.scalars(select(OrganisationRow).order_by(OrganisationRow.id)))


def list_projects(*, session: Session) -> list[ProjectRow]:
    return list(session.scalars(select(ProjectRow).order_by(ProjectRow.id)))


def list_members(
    *, session: Session, search: str | None = None, limit: int | None = None, offset: int = 0
) -> list[tuple[MemberRow, list[str]]]:
    """Members by id (those whose id, name or organisation contains ``search``, a page of
    ``limit`` from ``offset`` when given) with the ids of their projects."""
    stmt = select(MemberRow).where(*_member_search(search)).order_by(MemberRow.id)
    members = list(session.scalars(stmt.limit(limit).offset(offset)))
    links: dict[str, list[str]] = {}
    projects = select(ProjectMemberRow).order_by(ProjectMemberRow.project_id)
    if limit is not None:
        projects = projects.where(ProjectMemberRow.member_id.in_([m.id for m in members]))
    for pm in session.scalars(projects):
        links.setdefault(pm.member_id, []).append(pm.project_id)
    return [(m, links.get(m.id, [])) for m in members]


def count_members(*, session: Session, search: str | None = None) -> int:
    stmt = select(func.count()).select_from(MemberRow).where(*_member_search(search))
    return int(session.scalar(stmt) or 0)


def _member_search(search: str | None) -> list[Any]:
    if not search:
        return []
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [
        or_(
            MemberRow.id.ilike(pattern, escape="\\"),
            MemberRow.name.ilike(pattern, escape="\\"),
            MemberRow.org_id.ilike(pattern, escape="\\"),
        )
    ]


def held_reason(member_id: str) -> dict[str, Any]:
    """Why a pending job of a disabled member waits (a ``jobs.pending_reasons`` entry)."""
    return {
        "code": MEMBER_DISABLED,
        "message": f"member disabled: {member_id} is disabled, so their jobs are held; an "
        "admin can enable them again (aitc member enable)",
        "details": {"member": member_id},
    }


def disable_member(
    *, session: Session, member_id: str, stop_running: bool, by: str, now: float
) -> tuple[int, int]:
    """Disable a member: their tokens stop working and their pending jobs are held (the
    controller leaves them out of scheduling); with ``stop_running`` their starting and running
    jobs are asked to stop. Returns (pending jobs held, running jobs stopping). The last enabled
    admin cannot be disabled (``ConflictError``)."""
    row = session.get(MemberRow, member_id)
    if row is None:
        raise NotFoundError(f"no member {member_id!r}")
    if row.role == Role.ADMIN.value and row.enabled and _enabled_admins(session) <= 1:
        raise ConflictError(
            f"{member_id} is the last enabled admin; disabling them would lock every admin out"
        )
    row.enabled = False
    jobs = select(JobRow).where(JobRow.member_id == member_id)
    pending = list(session.scalars(jobs.where(JobRow.state == JobState.PENDING.value)))
    for job in pending:
        job.pending_reasons, job.estimated_start = [held_reason(member_id)], None
    stopping = 0
    if stop_running:
        active = (JobState.STARTING.value, JobState.RUNNING.value)
        for job in session.scalars(jobs.where(JobRow.state.in_(active)).with_for_update()):
            if not job.cancel_requested:
                job.cancel_requested = True
                job.cause = f"stopped: member {member_id} disabled by {by}"
                stopping += 1
    return len(pending), stopping


def enable_member(*, session: Session, member_id: str) -> None:
    """Enable a member again; their held jobs are scheduled at the controller's next pass."""
    row = session.get(MemberRow, member_id)
    if row is None:
        raise NotFoundError(f"no member {member_id!r}")
    row.enabled = True


def _enabled_admins(session: Session) -> int:
    stmt = select(func.count()).where(
        MemberRow.role == Role.ADMIN.value, MemberRow.enabled.is_(True)
    )
    return int(session.scalar(stmt) or 0)


def ensure_operators_project(*, session: Session, admin_id: str = "admin") -> list[str]:
    """Make sure the operators' organisation and project exist (enabled) and that the
    bootstrap admin belongs to the project, so that the admin's jobs need no --project.

    The organisation weighs like any other (share 1, no quota); fair share only counts it while
    it has jobs pending. Existing rows are left as they are, so an operator (or a lab that
    defines them) may change their share.
    """
    changes: list[str] = []
    org = session.get(OrganisationRow, OPERATORS)
    if org is None:
        session.add(OrganisationRow(id=OPERATORS, name="Operators", kind="research", share=1.0))
        changes.append(f"organisation {OPERATORS}: created")
    else:
        org.enabled = True
    session.flush()
    project = session.get(ProjectRow, OPERATORS)
    if project is None:
        session.add(ProjectRow(id=OPERATORS, name="Operators", org_id=OPERATORS, share=1.0))
        changes.append(f"project {OPERATORS}: created")
    else:
        project.enabled = True
    session.flush()
    link = session.get(ProjectMemberRow, (OPERATORS, admin_id))
    if link is None and session.get(MemberRow, admin_id) is not None:
        session.add(ProjectMemberRow(project_id=OPERATORS, member_id=admin_id))
        changes.append(f"member {admin_id}: joined {OPERATORS}")
    return changes

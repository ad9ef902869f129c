"""Who may see and do what: the caller and the scoping rules every query goes through.

- admin: everything.
- instructor: the jobs of their organisation; may cancel them.
- member: the jobs of their projects, and their own.
- partner: like a member, but never anything outside their own organisation.
- learner: only their own jobs.

Everyone may cancel their own jobs. An object the caller may not see is reported as missing
(``NotFoundError``), so that its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from aitc.control.store.models import JobRow, MemberRow, ProjectMemberRow, ProjectRow
from aitc.domain.org import Role
from aitc.errors import AccessDeniedError, NotFoundError


@dataclass(frozen=True, slots=True)
class Caller:
    """The member behind a request, with what scoping needs."""

    member_id: str
    role: Role
    org_id: str | None
    projects: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def load_caller(*, session: Session, member_id: str) -> Caller:
    """The ``Caller`` for an enabled member (``NotFoundError`` if missing or disabled)."""
    member = session.get(MemberRow, member_id)
    if member is None or not member.enabled:
        raise NotFoundError(f"no enabled member {member_id!r}")
    rows = session.scalars(
        select(ProjectMemberRow.project_id).where(ProjectMemberRow.member_id == member_id)
    )
    return Caller(member.id, Role(member.role), member.org_id, frozenset(rows))


def visible_jobs(caller: Caller) -> ColumnElement[bool]:
    """A WHERE clause selecting the jobs ``caller`` may see."""
    own = JobRow.member_id == caller.member_id
    projects = JobRow.project_id.in_(sorted(caller.projects)) if caller.projects else false()
    match caller.role:
        case Role.ADMIN:
            return true()
        case Role.INSTRUCTOR:
            return or_(own, JobRow.org_id == caller.org_id) if caller.org_id else own
        case Role.MEMBER:
            return or_(own, projects)
        case Role.PARTNER:
            return and_(JobRow.org_id == caller.org_id, or_(own, projects))
        case _:
            return own


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise AccessDeniedError("only an admin may do this")


def check_may_cancel(caller: Caller, job: JobRow) -> None:
    """Raise ``AccessDeniedError`` unless ``caller`` may cancel ``job`` (which it can see)."""
    if caller.is_admin or job.member_id == caller.member_id:
        return
    if caller.role is Role.INSTRUCTOR and job.org_id == caller.org_id:
        return
    raise AccessDeniedError(f"you may not cancel job {job.id}: it belongs to {job.member_id}")


def project_for_submit(*, session: Session, caller: Caller, project_id: str) -> ProjectRow:
    """The enabled project ``caller`` may submit to; unknown and forbidden look the same."""
    project = session.get(ProjectRow, project_id)
    own_org = project is not None and project.org_id == caller.org_id
    member_of = project_id in caller.projects and (own_org or caller.role is not Role.PARTNER)
    allowed = (
        project is not None
        and project.enabled
        and (caller.is_admin or member_of or (caller.role is Role.INSTRUCTOR and own_org))
    )
    if not allowed or project is None:
        raise NotFoundError(f"unknown project {project_id!r}, or you are not one of its members")
    return project

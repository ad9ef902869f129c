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

from sqlalchemy import ColumnElement, and_, bindparam, false, func, or_, select, true
from sqlalchemy.orm import Session

from aitc.control.store.models import JobRow, MemberRow, ProjectMemberRow, ProjectRow
from aitc.domain.job import JobState
from aitc.domain.org import Limits, Role
from aitc.errors import AccessDeniedError, AitcError, NotFoundError


class LimitExceededError(AitcError):
    """A per-member limit refuses the request (the API answers 429 with ``Retry-After``).

    ``limit`` names the limit (``max_pending_jobs``, ...); the message says its value and what
    to do; ``retry_after`` is when, in seconds, the request may succeed again.
    """

    def __init__(self, limit: str, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.limit, self.retry_after = limit, retry_after


@dataclass(frozen=True, slots=True)
class Caller:
    """The member behind a request, with what scoping needs."""

    member_id: str
    role: Role
    org_id: str | None
    projects: frozenset[str]
    limits: Limits = Limits()

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def load_caller(*, session: Session, member_id: str) -> Caller:
    """The ``Caller`` for an enabled member (``NotFoundError`` if missing or disabled)."""
    stmt = select(MemberRow.id, MemberRow.role, MemberRow.org_id, MemberRow.limits).where(
        MemberRow.id == member_id, MemberRow.enabled.is_(True)
    )
    member = session.connection().execute(stmt).first()
    if member is None:
        raise NotFoundError(f"no enabled member {member_id!r}")
    return caller_of(session, member.id, member.role, member.org_id, member.limits)


_PROJECTS_OF = select(ProjectMemberRow.project_id).where(
    ProjectMemberRow.member_id == bindparam("member_id")
)
_PROJECT = select(ProjectRow.org_id, ProjectRow.enabled).where(ProjectRow.id == bindparam("id"))


def caller_of(
    session: Session,
    member_id: str,
    role: str,
    org_id: str | None,
    limits: dict[str, int] | None = None,
) -> Caller:
    """A ``Caller`` with the member's projects read from the store."""
    params = {"member_id": member_id}
    projects = frozenset(session.connection().execute(_PROJECTS_OF, params).scalars())
    return Caller(member_id, Role(role), org_id, projects, Limits.from_json(limits))


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


def check_may_cancel(caller: Caller, job: JobRow, verb: str = "cancel") -> None:
    """Raise ``AccessDeniedError`` unless ``caller`` may cancel ``job`` (which it can see); the
    same rule says who may hold and release it (``verb``)."""
    if caller.is_admin or job.member_id == caller.member_id:
        return
    if caller.role is Role.INSTRUCTOR and job.org_id == caller.org_id:
        return
    raise AccessDeniedError(f"you may not {verb} job {job.id}: it belongs to {job.member_id}")


def project_for_submit(*, session: Session, caller: Caller, project_id: str) -> str:
    """The organisation of the enabled project ``caller`` may submit to (``NotFoundError``
    otherwise: an unknown project and a forbidden one look the same)."""
    row = session.connection().execute(_PROJECT, {"id": project_id}).first()
    own_org = row is not None and row.org_id == caller.org_id
    member_of = project_id in caller.projects and (own_org or caller.role is not Role.PARTNER)
    allowed = (
        row is not None
        and row.enabled
        and (caller.is_admin or member_of or (caller.role is Role.INSTRUCTOR and own_org))
    )
    if not allowed or row is None:
        raise NotFoundError(f"unknown project {project_id!r}, or you are not one of its members")
    return str(row.org_id)


def check_gpu_limit(caller: Caller, gpus: int) -> None:
    """``LimitExceededError`` when one job of ``gpus`` GPUs passes the caller's
    ``max_running_gpus`` (at submission, and when a pending job asks for more)."""
    cap = caller.limits.max_running_gpus
    if cap is not None and gpus > cap:
        raise LimitExceededError(
            "max_running_gpus",
            f"gpus: {gpus} GPUs is more than your limit max_running_gpus={cap} (the GPUs your "
            "running jobs may hold at once); ask for fewer",
            retry_after=None,
        )


_PENDING_OF = (
    select(func.count())
    .select_from(JobRow)
    .where(JobRow.member_id == bindparam("member_id"), JobRow.state == JobState.PENDING.value)
)
# The n-th most recent submission of a member (n = the rate limit): within the last minute,
# and the member is at their limit.
_NTH_RECENT = (
    select(JobRow.submitted_at)
    .where(JobRow.member_id == bindparam("member_id"))
    .order_by(JobRow.id.desc())
    .limit(1)
    .offset(bindparam("nth"))
)
PENDING_RETRY_S = 60.0


def check_limits(*, session: Session, caller: Caller, gpus: int, now: float, jobs: int = 1) -> None:
    """Raise ``LimitExceededError`` when a submission of ``jobs`` jobs (an array has several)
    of ``gpus`` GPUs each by ``caller`` passes one of their limits (``Caller.limits``); a limit
    that is not set costs no query."""
    limits, conn = caller.limits, session.connection()
    params = {"member_id": caller.member_id}
    check_gpu_limit(caller, gpus)
    cap = limits.max_pending_jobs
    pending = 0 if cap is None else int(conn.execute(_PENDING_OF, params).scalar() or 0)
    if cap is not None and pending + jobs > cap:
        adding = f" and this submission adds {jobs}" if jobs > 1 else ""
        raise LimitExceededError(
            "max_pending_jobs",
            f"you have {pending} jobs pending{adding}, your limit is max_pending_jobs={cap}; "
            "submit again once some have started, or cancel some",
            retry_after=PENDING_RETRY_S,
        )
    cap = limits.submissions_per_minute
    if cap is not None:
        nth = conn.execute(_NTH_RECENT, {**params, "nth": max(cap - 1, 0)}).scalar()
        if cap == 0 or (nth is not None and nth > now - 60.0):
            retry = 60.0 if nth is None else nth + 60.0 - now
            raise LimitExceededError(
                "submissions_per_minute",
                f"you submitted {cap} jobs in the last minute, your limit "
                f"submissions_per_minute={cap}; retry in {max(1, round(retry))} s",
                retry_after=retry,
            )

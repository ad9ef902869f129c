"""``aitc lab apply``: make the store's organisations, projects and members match a lab (and
its courses, and with ``calendar`` its calendar's sessions: created, updated and removed).

Idempotent: a second run with the same lab changes nothing and reports nothing. What the lab no
longer lists is disabled, never deleted, so jobs and events keep their owners. Members without
an organisation (operators' accounts such as the bootstrap admin) are not managed by the lab.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.clock import SystemClock
from aitc.control.store.directory import (
    disable_missing,
    put_member,
    put_organisation,
    put_project,
)
from aitc.control.store.models import LabApplyRow, MemberRow, OrganisationRow, ProjectRow
from aitc.domain.lab import Lab


def apply_lab(
    *,
    session: Session,
    lab: Lab,
    now: float | None = None,
    calendar: bool = False,
    prune_enrolled: bool = False,
) -> list[str]:
    """Sync ``lab`` into the store; return the changes made, in words, and record them
    (``lab_applies``, shown on the admins' page). ``now`` dates the instructor certifications
    it gives and the record (default: the system clock). ``calendar``: also make the
    calendar's sessions what it plans: create, update and remove them
    (``aitc.control.courses.calendar``; ``ConfigErrors`` naming each one that cannot be, and
    the caller's transaction must then store nothing); ``prune_enrolled``: remove sessions no
    longer planned even with learners enrolled, cancelling their enrolments."""
    changes: list[str] = []
    for org in lab.organisations:
        changes += put_organisation(session=session, org=org)
    session.flush()
    for org in lab.organisations:
        for project in org.projects:
            changes += put_project(session=session, project=project)
    session.flush()
    for member in lab.members:
        changes += put_member(session=session, member=member)
    projects = [p.id for o in lab.organisations for p in o.projects]
    changes += disable_missing(
        session=session,
        model=MemberRow,
        label="member",
        keep=[m.id for m in lab.members],
        only_with_org=True,
    )
    changes += disable_missing(session=session, model=ProjectRow, label="project", keep=projects)
    changes += disable_missing(
        session=session,
        model=OrganisationRow,
        label="organisation",
        keep=[o.id for o in lab.organisations],
    )
    session.flush()
    # imported here: aitc.control.courses builds on this package (its models), not under it
    from aitc.control.courses.calendar import apply_calendar
    from aitc.control.courses.catalog import apply_courses

    when = SystemClock().now() if now is None else now
    changes += apply_courses(session=session, lab=lab, now=when)
    if calendar:
        session.flush()
        changes += apply_calendar(session=session, lab=lab, now=when, prune_enrolled=prune_enrolled)
    session.add(LabApplyRow(applied_at=when, lab=lab.name, changes=changes))
    return changes


def last_apply(*, session: Session) -> LabApplyRow | None:
    """The latest application of a lab to the store (None if none was ever applied)."""
    return session.scalar(select(LabApplyRow).order_by(LabApplyRow.id.desc()).limit(1))

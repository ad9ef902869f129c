"""Courses and instructor certifications in the store (from lab.yaml or the API).

``aitc lab apply`` adds and updates the lab's courses (their labs' limits included) and
certifications; it never removes a course (sessions, enrolments and certificates refer to it)
nor a certification given by hand. A course's lead ``instructor`` is certified without an end
date.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.models import CourseRow, InstructorCertificationRow, MemberRow
from aitc.domain.courselab import LabRules, check_rules
from aitc.domain.lab import Course, Lab
from aitc.errors import ConfigError, NotFoundError


def expiry_of(day: str | None) -> float | None:
    """A certification valid through ``day`` (``YYYY-MM-DD``) ends at the next UTC midnight."""
    if day is None:
        return None
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise ConfigError(f"{day!r} is not a date (YYYY-MM-DD)", field="expires") from None
    return (
        datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + timedelta(days=1).total_seconds()
    )


def put_course(*, session: Session, course: Course, rules: LabRules | None = None) -> list[str]:
    """Insert or update a course; return the change in words (nothing when unchanged).
    ``rules``: its labs' limits (None: as they are, the defaults for a new course)."""
    values: dict[str, object] = {
        "title": course.name,
        "org_id": course.org,
        "hours": course.hours,
        "description": course.description,
        "mig_profile": course.mig_profile,
        "gpus_per_seat": course.gpus_per_seat,
        "seats": course.seats,
        "lab_command": list(course.lab_command),
        "assessment_command": list(course.assessment_command),
        "criteria": course.criteria,
        "enabled": True,
    }
    if rules is not None:
        check_rules(rules)
        values.update(dataclasses.asdict(rules))
    row = session.get(CourseRow, course.id)
    if row is None:
        session.add(CourseRow(id=course.id, **values))
        return [f"course {course.id}: created"]
    changed = [k for k, v in values.items() if getattr(row, k) != v]
    for k in changed:
        setattr(row, k, values[k])
    return [f"course {course.id}: {', '.join(changed)} changed"] if changed else []


def certify(
    *, session: Session, course_id: str, member_id: str, now: float, expires_at: float | None
) -> list[str]:
    """Certify ``member_id`` to teach ``course_id`` until ``expires_at`` (None: no end)."""
    member = session.get(MemberRow, member_id)
    if member is None or not member.enabled:
        raise NotFoundError(f"no enabled member {member_id!r}")
    if member.role != "instructor":
        raise ConfigError(
            f"member {member_id!r} has role {member.role}, not instructor", field="member"
        )
    if session.get(CourseRow, course_id) is None:
        raise NotFoundError(f"no course {course_id!r}")
    row = session.get(InstructorCertificationRow, (member_id, course_id))
    if row is None:
        session.add(
            InstructorCertificationRow(
                member_id=member_id, course_id=course_id, issued_at=now, expires_at=expires_at
            )
        )
        return [f"course {course_id}: {member_id} certified"]
    if row.expires_at != expires_at:
        row.expires_at = expires_at
        return [f"course {course_id}: {member_id} certification renewed"]
    return []


def apply_courses(*, session: Session, lab: Lab, now: float) -> list[str]:
    """Sync the lab's courses and their certifications into the store (see the module)."""
    changes: list[str] = []
    for course in lab.courses:
        changes += put_course(session=session, course=course, rules=course.rules)
    session.flush()
    for course in lab.courses:
        certs = {c.member: expiry_of(c.expires) for c in course.certified}
        if course.instructor is not None:
            certs.setdefault(course.instructor, None)
        for member, expires_at in sorted(certs.items()):
            changes += certify(
                session=session,
                course_id=course.id,
                member_id=member,
                now=now,
                expires_at=expires_at,
            )
    return changes


def get_course(*, session: Session, course_id: str) -> CourseRow:
    row = session.get(CourseRow, course_id)
    if row is None or not row.enabled:
        raise NotFoundError(f"no course {course_id!r} (see aitc course list)")
    return row


def list_courses(*, session: Session) -> list[CourseRow]:
    stmt = select(CourseRow).where(CourseRow.enabled.is_(True)).order_by(CourseRow.id)
    return list(session.scalars(stmt))


def certifications(*, session: Session, course_id: str) -> list[InstructorCertificationRow]:
    stmt = (
        select(InstructorCertificationRow)
        .where(InstructorCertificationRow.course_id == course_id)
        .order_by(InstructorCertificationRow.member_id)
    )
    return list(session.scalars(stmt))

"""Certificates: an Open Badges 3.0 ``OpenBadgeCredential`` for each passed enrolment.

The credential (W3C VC 2.0 data model) names the lab's issuer by its ``did:key``, the learner by
a salted SHA-256 of their e-mail address (``identityHash``, as OB 3.0's ``IdentityObject``
writes it), the course as the ``achievement`` (name, description, criteria, hours), and the
session as ``evidence``, and its place in the issuer's revocation list as ``credentialStatus``
(``statuslist``); it is signed with eddsa-jcs-2022 (``credentials.sign``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.courses import statuslist
from aitc.control.courses.credentials import OB_CONTEXT, VC_CONTEXT, did_key, iso, sign
from aitc.control.courses.sessions import require_teacher
from aitc.control.store.access import Caller
from aitc.control.store.models import (
    CertificateRow,
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    MemberRow,
    OrganisationRow,
)
from aitc.errors import AccessDeniedError


def identity_hash(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def build_credential(
    *,
    course: CourseRow,
    row: CourseSessionRow,
    member: MemberRow,
    issuer_name: str,
    issuer_did: str,
    now: float,
    salt: str,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsigned credential for ``member`` having passed session ``row`` of ``course``
    (``status``: its ``credentialStatus`` entry)."""
    where = "remote" if row.remote else (row.location or "on site")
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{course.title}: certificate of achievement",
        "issuer": {"id": issuer_did, "type": ["Profile"], "name": issuer_name},
        "validFrom": iso(now),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": identity_hash(member.email, salt),
                    "salt": salt,
                }
            ],
            "achievement": {
                "id": f"urn:aitc:course:{course.id}",
                "type": ["Achievement"],
                "achievementType": "Course",
                "name": course.title,
                "description": course.description or course.title,
                "criteria": {"narrative": course.criteria or "Passed the course's assessment."},
                "creditsAvailable": course.hours,
            },
        },
        "evidence": [
            {
                "id": f"urn:aitc:course-session:{row.id}",
                "type": ["Evidence"],
                "name": f"Session {row.id} of {course.id}",
                "description": f"{iso(row.start_at)} to {iso(row.end_at)}, {where}",
            }
        ],
    }
    return credential if status is None else {**credential, "credentialStatus": status}


def issue_certificates(
    *,
    session: Session,
    caller: Caller,
    session_id: int,
    key: Ed25519PrivateKey,
    now: float,
    status_base: str,
) -> list[CertificateRow]:
    """Sign and store a credential for every passed enrolment of the session that has none;
    each names its status list on the server at ``status_base`` (its public URL)."""
    row = require_teacher(session=session, caller=caller, session_id=session_id)
    course = session.get(CourseRow, row.course_id)
    assert course is not None
    org = session.get(OrganisationRow, course.org_id)
    issuer = org.name if org is not None else course.org_id
    done = select(CertificateRow.enrolment_id)
    passed = select(EnrolmentRow).where(
        EnrolmentRow.session_id == session_id,
        EnrolmentRow.state == "passed",
        EnrolmentRow.id.not_in(done),
    )
    issued = []
    for enrolment in session.scalars(passed.order_by(EnrolmentRow.id)).all():
        member = session.get(MemberRow, enrolment.member_id)
        assert member is not None
        unsigned = build_credential(
            course=course, row=row, member=member, issuer_name=issuer,
            issuer_did=did_key(key.public_key()), now=now, salt=secrets.token_hex(8),
            status=statuslist.entry(status_base, enrolment.id),
        )  # fmt: skip
        credential = sign(unsigned, key, created=now)
        cert = CertificateRow(
            id=credential["id"], enrolment_id=enrolment.id, member_id=member.id,
            issued_at=now, credential=credential,
        )  # fmt: skip
        session.add(cert)
        issued.append(cert)
    return issued


def list_certificates(*, session: Session, caller: Caller, session_id: int) -> list[CertificateRow]:
    """The session's certificates (for its instructors and admins; a learner sees their own)."""
    stmt = (
        select(CertificateRow)
        .join(EnrolmentRow, EnrolmentRow.id == CertificateRow.enrolment_id)
        .where(EnrolmentRow.session_id == session_id)
        .order_by(CertificateRow.issued_at, CertificateRow.id)
    )
    try:
        require_teacher(session=session, caller=caller, session_id=session_id)
    except AccessDeniedError:  # not a teacher: only their own
        stmt = stmt.where(CertificateRow.member_id == caller.member_id)
    return list(session.scalars(stmt))

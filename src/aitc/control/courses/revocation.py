"""Revoking certificates, publishing the status lists, and verifying a stored certificate.

The store side of ``statuslist``: a certificate is revoked by setting its ``revoked_at`` (for
good: a revoked credential is never reinstated; issue a new one instead); status list ``N``
is built from the revoked certificates whose enrolment numbers fall in it and signed when
asked for. The server verifies a stored credential with the same steps as any verifier,
reading its own status lists from the store instead of over HTTP.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.courses import statuslist
from aitc.control.courses.credentials import Failure, did_key, iso, sign, verify
from aitc.control.courses.sessions import require_teacher
from aitc.control.store.access import Caller
from aitc.control.store.models import CertificateRow, EnrolmentRow
from aitc.errors import ConflictError, NotFoundError

_LIST_PATH = re.compile(re.escape(statuslist.LIST_PATH) + r"/([0-9]{1,9})$")


def credential_id(text: str) -> str:
    """A credential id as stored (``urn:uuid:…``); a bare UUID is taken as one."""
    try:
        return f"urn:uuid:{uuid.UUID(text)}"
    except ValueError:
        return text


def get_certificate(*, session: Session, credential: str) -> CertificateRow:
    row = session.get(CertificateRow, credential_id(credential))
    if row is None:
        raise NotFoundError(f"no credential {credential!r} was issued here")
    return row


def revoke(*, session: Session, caller: Caller, credential: str, now: float) -> CertificateRow:
    """Revoke a credential (its session's instructors, admins): its bit is set in its status
    list from now on."""
    row = get_certificate(session=session, credential=credential)
    enrolment = session.get(EnrolmentRow, row.enrolment_id)
    assert enrolment is not None
    require_teacher(session=session, caller=caller, session_id=enrolment.session_id)
    if row.revoked_at is not None:
        raise ConflictError(f"credential {row.id} was already revoked at {iso(row.revoked_at)}")
    row.revoked_at = now
    return row


def last_list(*, session: Session) -> int:
    """The highest status list number in use (1 when nothing was issued yet)."""
    highest = session.scalar(select(func.max(CertificateRow.enrolment_id))) or 0
    return statuslist.position(int(highest))[0]


def status_list(
    *, session: Session, list_no: int, key: Ed25519PrivateKey, base: str, now: float
) -> dict[str, Any]:
    """Status list ``list_no``, signed (``NotFoundError`` for a list not in use).

    It is valid from its last change (the latest revocation in it, else the first credential
    it covers), not from the moment it is read: a verifier whose clock reads a little behind
    the server's (or that read its clock before fetching the list) must not find a list
    issued a moment ago "not yet valid"."""
    if not 1 <= list_no <= last_list(session=session):
        raise NotFoundError(f"no status list {list_no}")
    low = (list_no - 1) * statuslist.LIST_BITS
    in_list = (
        CertificateRow.enrolment_id >= low,
        CertificateRow.enrolment_id < low + statuslist.LIST_BITS,
    )
    revoked = session.scalars(
        select(CertificateRow.enrolment_id).where(CertificateRow.revoked_at.is_not(None), *in_list)
    )
    changed = session.execute(
        select(func.max(CertificateRow.revoked_at), func.min(CertificateRow.issued_at)).where(
            *in_list
        )
    ).one()
    since = min(now, changed[0] if changed[0] is not None else changed[1] or now)
    unsigned = statuslist.list_credential(
        url=statuslist.list_url(base, list_no),
        issuer=did_key(key.public_key()),
        revoked=(statuslist.position(n)[1] for n in revoked),
        now=since,
    )
    return sign(unsigned, key, created=now)


def local_lists(
    *, session: Session, key: Ed25519PrivateKey, now: float
) -> Callable[[str], dict[str, Any]]:
    """Reads this server's status lists from the store, by their URL (whatever its host)."""

    def fetch(url: str) -> dict[str, Any]:
        found = _LIST_PATH.search(url.split("#")[0])
        if found is None:
            raise statuslist.StatusListUnavailable("not a status list of this server")
        try:
            return status_list(
                session=session, list_no=int(found[1]), key=key, base=url[: found.start()], now=now
            )
        except NotFoundError as exc:
            raise statuslist.StatusListUnavailable(str(exc)) from None

    return fetch


def verify_stored(
    *, session: Session, credential: str, key: Ed25519PrivateKey, now: float
) -> tuple[CertificateRow, Failure | None]:
    """A stored credential checked as any verifier would (schema, signature by this server's
    issuer, status, validity window)."""
    row = get_certificate(session=session, credential=credential)
    check = statuslist.checker(local_lists(session=session, key=key, now=now))
    failure = verify(row.credential, now=now, issuer=did_key(key.public_key()), status=check)
    return row, failure

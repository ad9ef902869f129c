"""API tokens: a random secret shown once; only its SHA-256 is stored.

A token is ``aitc_`` followed by 43 URL-safe characters (256 random bits), so a plain SHA-256
is enough to make the stored hash useless to a thief (no password stretching is needed for a
secret nobody chose). ``prefix`` (the first 12 characters) lets people tell tokens apart.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, caller_of
from aitc.control.store.models import ApiTokenRow, MemberRow
from aitc.domain.org import Role
from aitc.errors import NotFoundError

TOKEN_PREFIX = "aitc_"


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(
    *, session: Session, member_id: str, name: str, now: float
) -> tuple[ApiTokenRow, str]:
    """A new token for an enabled member; returns the row and the secret (shown once)."""
    member = session.get(MemberRow, member_id)
    if member is None or not member.enabled:
        raise NotFoundError(f"no enabled member {member_id!r}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        member_id=member_id,
        name=name,
        token_hash=hash_token(secret),
        prefix=secret[:12],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, secret


_BY_TOKEN = (
    select(MemberRow.id, MemberRow.role, MemberRow.org_id)
    .join(ApiTokenRow, ApiTokenRow.member_id == MemberRow.id)
    .where(
        ApiTokenRow.token_hash == bindparam("token_hash"),
        ApiTokenRow.revoked_at.is_(None),
        MemberRow.enabled.is_(True),
    )
)


def authenticate(*, session: Session, secret: str) -> Caller | None:
    """The caller a token belongs to, or ``None`` if it is unknown, revoked or disabled."""
    params = {"token_hash": hash_token(secret)}
    member = session.connection().execute(_BY_TOKEN, params).first()
    if member is None:
        return None
    return caller_of(session, member.id, member.role, member.org_id)


def revoke_token(*, session: Session, token_id: int, now: float) -> ApiTokenRow:
    """Revoke a token for good (revoking twice keeps the first time)."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFoundError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def list_tokens(*, session: Session, member_id: str | None = None) -> list[ApiTokenRow]:
    stmt = select(ApiTokenRow).order_by(ApiTokenRow.id)
    if member_id is not None:
        stmt = stmt.where(ApiTokenRow.member_id == member_id)
    return list(session.scalars(stmt))


def bootstrap_admin(*, session: Session, now: float, member_id: str = "admin") -> str:
    """Make sure an operators' admin exists (no organisation) and give it a new token.

    Members without an organisation are not managed by lab.yaml, so ``aitc lab apply`` never
    disables this one.
    """
    member = session.get(MemberRow, member_id)
    if member is None:
        member = MemberRow(
            id=member_id,
            name="Administrator",
            email="",
            org_id=None,
            role=Role.ADMIN.value,
            enabled=True,
        )
        session.add(member)
    member.role, member.enabled = Role.ADMIN.value, True
    session.flush()
    return create_token(session=session, member_id=member_id, name="bootstrap", now=now)[1]

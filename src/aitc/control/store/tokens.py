"""API tokens: a random secret shown once; only its SHA-256 is stored.

A token is ``aitc_`` followed by 43 URL-safe characters (256 random bits), so a plain SHA-256
is enough to make the stored hash useless to a thief (no password stretching is needed for a
secret nobody chose). ``prefix`` (the first 12 characters) lets people tell tokens apart.

A token expires (``expires_at``; by default ``DEFAULT_TOKEN_DAYS`` after it was made; tokens
made before expiry existed have none and keep working). ``last_used_at`` is written by the API
at most once a minute per token (``authcache``), so using a token costs no write per request.
The last live token of the last enabled admin cannot be revoked: that would lock every admin
out of the API.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, caller_of
from aitc.control.store.models import ApiTokenRow, MemberRow
from aitc.domain.org import Role
from aitc.errors import AitcError, ConflictError, NotFoundError

TOKEN_PREFIX = "aitc_"
DEFAULT_TOKEN_DAYS = 90.0
DAY_S = 86400.0


class TokenExpiredError(AitcError):
    """The token is known but past its ``expires_at`` (the API answers 401 saying so)."""


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who a valid token acts for, and until when."""

    caller: Caller
    token_id: int
    expires_at: float | None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(
    *,
    session: Session,
    member_id: str,
    name: str,
    now: float,
    lifetime_s: float | None = DEFAULT_TOKEN_DAYS * DAY_S,
) -> tuple[ApiTokenRow, str]:
    """A new token for an enabled member, valid ``lifetime_s`` seconds (None: until revoked);
    returns the row and the secret (shown once)."""
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
        expires_at=None if lifetime_s is None else now + lifetime_s,
    )
    session.add(row)
    session.flush()
    return row, secret


_BY_TOKEN = (
    select(
        MemberRow.id,
        MemberRow.role,
        MemberRow.org_id,
        MemberRow.limits,
        ApiTokenRow.id.label("token_id"),
        ApiTokenRow.prefix,
        ApiTokenRow.expires_at,
    )
    .join(ApiTokenRow, ApiTokenRow.member_id == MemberRow.id)
    .where(
        ApiTokenRow.token_hash == bindparam("token_hash"),
        ApiTokenRow.revoked_at.is_(None),
        MemberRow.enabled.is_(True),
    )
)


def authenticate(*, session: Session, secret: str, now: float) -> TokenOwner | None:
    """Who a token acts for, or ``None`` if it is unknown, revoked or its member disabled;
    ``TokenExpiredError`` (saying when) if it has expired."""
    params = {"token_hash": hash_token(secret)}
    row = session.connection().execute(_BY_TOKEN, params).first()
    if row is None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        day = datetime.fromtimestamp(row.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise TokenExpiredError(
            f"the API token {row.prefix}… expired on {day}; ask an admin for a new one "
            "(aitc token create)"
        )
    caller = caller_of(session, row.id, row.role, row.org_id, row.limits)
    return TokenOwner(caller, row.token_id, row.expires_at)


def touch_tokens(*, session: Session, used: dict[str, float]) -> None:
    """Record when tokens (by hash) were last used (a few rows a minute, see ``authcache``)."""
    stmt = (
        update(ApiTokenRow)
        .where(ApiTokenRow.token_hash == bindparam("h"))
        .values(last_used_at=bindparam("at"))
        .execution_options(synchronize_session=False)
    )
    rows = [{"h": h, "at": at} for h, at in used.items()]
    if rows:
        session.connection().execute(stmt, rows)


def revoke_token(*, session: Session, token_id: int, now: float) -> ApiTokenRow:
    """Revoke a token for good (revoking twice keeps the first time). ``ConflictError`` if it
    is the last live token of the enabled admins."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFoundError(f"no token {token_id}")
    if row.revoked_at is None:
        if (
            _is_live_admin(session, row, now)
            and _live_admin_tokens(session, now, but=token_id) == 0
        ):
            raise ConflictError(
                f"token {token_id} is the last live token of an enabled admin; revoking it "
                "would lock every admin out. Create another admin token first "
                "(aitc token create admin)"
            )
        row.revoked_at = now
    return row


def _live(now: float) -> list[object]:
    return [
        ApiTokenRow.revoked_at.is_(None),
        or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
        MemberRow.enabled.is_(True),
        MemberRow.role == Role.ADMIN.value,
    ]


def _live_admin_tokens(session: Session, now: float, but: int) -> int:
    stmt = (
        select(func.count())
        .select_from(ApiTokenRow)
        .join(MemberRow, MemberRow.id == ApiTokenRow.member_id)
        .where(*_live(now), ApiTokenRow.id != but)  # type: ignore[arg-type]
    )
    return int(session.scalar(stmt) or 0)


def _is_live_admin(session: Session, row: ApiTokenRow, now: float) -> bool:
    stmt = (
        select(ApiTokenRow.id)
        .join(MemberRow, MemberRow.id == ApiTokenRow.member_id)
        .where(*_live(now), ApiTokenRow.id == row.id)  # type: ignore[arg-type]
    )
    return session.scalar(stmt) is not None


def list_tokens(
    *,
    session: Session,
    member_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[ApiTokenRow]:
    """Tokens by number (of one member; a page of ``limit`` from ``offset``)."""
    order = ApiTokenRow.id.desc() if newest_first else ApiTokenRow.id
    stmt = select(ApiTokenRow).order_by(order)
    if member_id is not None:
        stmt = stmt.where(ApiTokenRow.member_id == member_id)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def count_tokens(*, session: Session, member_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(ApiTokenRow)
    if member_id is not None:
        stmt = stmt.where(ApiTokenRow.member_id == member_id)
    return int(session.scalar(stmt) or 0)


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

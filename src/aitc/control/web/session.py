"""The browser's session: a signed cookie, its CSRF token, and the member behind it.

Signing in exchanges an API token, or an ID token of the institution's OpenID Connect
provider (``oidcpages``), for a session cookie (``aitc_session``): HttpOnly, SameSite=Lax,
Secure when the page came over TLS. The cookie holds no secret the API would accept: only the
token's number (none after an OpenID Connect sign-in), its member, a CSRF token and when the
session ends, signed with HMAC-SHA256 under a key of the server's. Every request checks again,
in the store, that the token is neither revoked nor expired and its member still enabled, so
revoking a token or disabling a member signs their browsers out at once, as it does their API
clients; a session from the provider holds while its member is enabled.

The key lives in ``web-session.key`` beside a SQLite store's file (the private state
directory, mode 0600); with another database it is drawn per process, so a restart signs
everyone out.

Every form carries the session's CSRF token in a hidden field (``csrf``), compared in constant
time; a visitor who is not signed in gets an anonymous session with a CSRF token of its own,
so even the sign-in form is protected. Signing in draws a new CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, caller_of, load_caller
from aitc.control.store.db import Store
from aitc.control.store.models import ApiTokenRow, MemberRow
from aitc.errors import NotFoundError

COOKIE = "aitc_session"
SESSION_S = 12 * 3600.0
KEY_FILE = "web-session.key"


@dataclass(frozen=True, slots=True)
class WebSession:
    """What the cookie says: the CSRF token, and when signed in, the token, member and end."""

    csrf: str
    token_id: int | None = None
    member_id: str | None = None
    expires_at: float = 0.0

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32))

    def signed_in(self, token_id: int | None, member_id: str, expires_at: float) -> WebSession:
        return WebSession(secrets.token_urlsafe(32), token_id, member_id, expires_at)

    def to_json(self) -> dict[str, object]:
        return {"c": self.csrf, "t": self.token_id, "m": self.member_id, "e": self.expires_at}


class SessionCodec:
    """Signs and checks cookies under the server's key (read or made on first use)."""

    def __init__(self, store: Store) -> None:
        self._store, self._key, self._lock = store, b"", threading.Lock()

    def key(self) -> bytes:
        with self._lock:
            if not self._key:
                self._key = _load_key(self._store)
            return self._key

    def dump(self, web: WebSession) -> str:
        return self.seal(web.to_json())

    def load(self, cookie: str | None, now: float) -> WebSession | None:
        """The session in a cookie with a valid signature, not past its end; else None."""
        data: dict[str, Any] | None = self.unseal(cookie)
        if data is None:
            return None
        try:
            web = WebSession(str(data["c"]), data["t"], data["m"], float(data["e"]))
        except (KeyError, TypeError, ValueError):
            return None
        if web.member_id is not None and web.expires_at <= now:
            return replace(web, token_id=None, member_id=None)
        return web

    def seal(self, data: dict[str, object], purpose: bytes = b"") -> str:
        """``data`` as JSON with its signature; ``purpose`` keeps cookies of one kind from
        passing for another."""
        body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
        return f"{body.decode()}.{self._mac(purpose + body)}"

    def unseal(self, cookie: str | None, purpose: bytes = b"") -> dict[str, Any] | None:
        """What ``seal`` signed for ``purpose``, if the signature holds; else None."""
        if not cookie or "." not in cookie:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(purpose + body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self.key(), body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _load_key(store: Store) -> bytes:
    url = make_url(str(store.engine.url))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return secrets.token_bytes(32)
    path = Path(url.database).expanduser().resolve().parent / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
        raise RuntimeError(f"{path}: the web session key is shorter than 32 bytes") from None
    with os.fdopen(fd, "wb") as out:
        key = secrets.token_bytes(32)
        out.write(key)
    return key


def csrf_ok(web: WebSession | None, sent: str | None) -> bool:
    """Whether a form's ``csrf`` field matches the session's token."""
    return web is not None and bool(sent) and hmac.compare_digest(web.csrf, sent or "")


_BY_ID = (
    select(MemberRow.id, MemberRow.role, MemberRow.org_id, MemberRow.limits)
    .join(ApiTokenRow, ApiTokenRow.member_id == MemberRow.id)
    .where(
        ApiTokenRow.revoked_at.is_(None),
        MemberRow.enabled.is_(True),
    )
)


def session_caller(*, session: Session, web: WebSession, now: float) -> Caller | None:
    """The ``Caller`` of a signed-in session whose token still holds (not revoked, not
    expired, its member enabled), built as the API builds it (``caller_of``); else None.
    A session from the OpenID Connect provider (no token) needs its member enabled."""
    if web.member_id is None:
        return None
    if web.token_id is None:
        try:
            return load_caller(session=session, member_id=web.member_id)
        except NotFoundError:
            return None
    stmt = _BY_ID.where(
        ApiTokenRow.id == web.token_id,
        MemberRow.id == web.member_id,
        or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
    )
    row = session.connection().execute(stmt).first()
    if row is None:
        return None
    return caller_of(session, row.id, row.role, row.org_id, row.limits)

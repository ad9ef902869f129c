"""/api/v1/credentials: status lists, a credential, its verification and revocation, and the
``--check`` of a new session (see docs/courses.md).

Status lists, credentials and their verification answer without a token: whoever holds a
credential (an employer, another university) must be able to check it. They read the store
in short read-only transactions, at most ``PUBLIC_READERS`` at a time (others wait, then get
503), so anonymous requests cannot take the connections that members' requests need.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep, StoreDep
from aitc.control.api.errors import Utf8Route
from aitc.control.api.schemas import when
from aitc.control.api.settings import Settings
from aitc.control.courses import revocation
from aitc.control.courses.credentials import STEPS
from aitc.control.courses.issuer import load_or_create_key
from aitc.control.courses.schemas import (
    CredentialRevoked,
    SessionCheckBody,
    SessionCheckPublic,
    VerificationPublic,
    session_request,
)
from aitc.control.store.db import Store
from aitc.errors import NotFoundError

router = APIRouter(tags=["credentials"], route_class=Utf8Route)
CredentialId = Annotated[str, Path(min_length=1, max_length=100)]
PUBLIC_READERS = 4
_readers = threading.BoundedSemaphore(PUBLIC_READERS)


def issuer_key(settings: Settings) -> Ed25519PrivateKey:
    if settings.credential_key is None:
        raise NotFoundError("this server issues no credentials (it has no issuer key)")
    return load_or_create_key(settings.credential_key)


def public_base(request: Request) -> str:
    """This server's address as the caller reached it: what issued credentials name."""
    return str(request.base_url).rstrip("/")


@contextmanager
def _public_session(store: Store) -> Iterator[Session]:
    if not _readers.acquire(timeout=10.0):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "busy; try again shortly")
    try:
        with store.session(readonly=True) as session:
            yield session
    finally:
        _readers.release()


@router.get("/credentials/status/{list_no}", response_model=dict[str, Any])
def read_status_list(
    list_no: Annotated[int, Path(ge=1, le=10**9)],
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """A signed Bitstring Status List credential: bit N set = credential N revoked (no token)."""
    key = issuer_key(settings)
    with _public_session(store) as s:
        return revocation.status_list(
            session=s, list_no=list_no, key=key, base=public_base(request),
            now=settings.clock.now(),
        )  # fmt: skip


@router.get("/credentials/{credential}", response_model=dict[str, Any])
def read_credential(credential: CredentialId, store: StoreDep) -> dict[str, Any]:
    """A credential as issued, by its id (``urn:uuid:…`` or the bare UUID; no token)."""
    with _public_session(store) as s:
        return revocation.get_certificate(session=s, credential=credential).credential


@router.get("/credentials/{credential}/verify", response_model=VerificationPublic)
def verify_credential(
    credential: CredentialId, store: StoreDep, settings: SettingsDep
) -> VerificationPublic:
    """Check a credential issued here: schema, signature, status and validity window; say
    which check failed and why (no token)."""
    key = issuer_key(settings)
    with _public_session(store) as s:
        row, failure = revocation.verify_stored(
            session=s, credential=credential, key=key, now=settings.clock.now()
        )
        return VerificationPublic(
            id=row.id,
            verified=failure is None,
            checks=list(STEPS),
            failed_check=failure.step if failure else None,
            reason=failure.reason if failure else None,
            message=failure.message if failure else None,
            revoked_at=when(row.revoked_at),
        )


@router.post("/credentials/{credential}/revoke", response_model=CredentialRevoked)
def revoke_credential(
    credential: CredentialId, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> CredentialRevoked:
    """Revoke a credential for good (the session's instructors, admins)."""
    row = revocation.revoke(
        session=session, caller=caller, credential=credential, now=settings.clock.now()
    )
    return CredentialRevoked(id=row.id, member=row.member_id, revoked_at=when(row.revoked_at))


@router.post("/course-sessions/check", response_model=SessionCheckPublic)
def check_session(
    body: SessionCheckBody, store: StoreDep, caller: CallerDep, settings: SettingsDep
) -> SessionCheckPublic:
    """What a session would cost research, before it is created: the last ``weeks`` of
    recorded load replayed in the twin over the next ``weeks``, with and without its seats.
    Refused as creating it would be; nothing is stored."""
    from aitc.control.courses import impact  # the twin, loaded only when a check asks for it

    found = impact.check_session(
        store=store, caller=caller, req=session_request(body), now=settings.clock.now(),
        weeks=body.weeks, policy=settings.policy,
    )  # fmt: skip
    return SessionCheckPublic.of(found)

"""FastAPI dependencies, as typed aliases (``SessionDep``, ``CallerDep``, ``SettingsDep``).

The session dependency ends *before* the response is sent (``scope="function"``): a job is
committed before its submission is acknowledged, so an acknowledged job survives a crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from aitc.control.api.settings import Settings
from aitc.control.store.access import Caller
from aitc.control.store.db import Store
from aitc.control.store.tokens import authenticate

WAKE = "aitc.wake"
bearer = HTTPBearer(auto_error=False, description="An API token (`aitc token create`).")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request; after it commits, wake the controller if asked to."""
    with get_store(request).session() as session:
        yield session
    if session.info.pop(WAKE, False):
        notify(get_settings(request))


def after_commit(session: Session, settings: Settings) -> None:
    """Wake the controller once this request's transaction has committed."""
    if settings.wake is not None:
        session.info[WAKE] = True


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]


def get_caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The member behind the bearer token; 401 when it is missing, unknown or revoked."""
    caller = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        caller = authenticate(session=session, secret=credentials.credentials)
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def notify(settings: Settings) -> None:
    """Wake the controller (submit, cancel); a failing hook never fails the request."""
    if settings.wake is not None:
        with contextlib.suppress(Exception):  # the job is stored; the next tick will see it
            settings.wake()

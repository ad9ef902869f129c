"""FastAPI dependencies, as typed aliases (``SessionDep``, ``CallerDep``, ``SettingsDep``).

The session dependency ends *before* the response is sent (``scope="function"``): a job is
committed before its submission is acknowledged, so an acknowledged job survives a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from aitc.control.api.authcache import AuthCache
from aitc.control.api.settings import Settings
from aitc.control.store.access import Caller
from aitc.control.store.batch import GroupCommit
from aitc.control.store.db import Store
from aitc.control.store.tokens import authenticate

AFTER_COMMIT = "aitc.after_commit"
T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="An API token (`aitc token create`).")


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request; what ``on_commit`` registered runs after it commits."""
    store: Store = request.app.state.store
    with store.session(readonly=request.method in ("GET", "HEAD")) as session:
        yield session
    for action in session.info.pop(AFTER_COMMIT, ()):
        action()


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once this request's transaction has committed (never if it fails)."""
    session.info.setdefault(AFTER_COMMIT, []).append(action)


def after_commit(session: Session, settings: Settings) -> None:
    """Wake the controller once this request's transaction has committed."""
    if settings.wake is not None:
        on_commit(session, lambda: notify(settings))


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The member behind the bearer token; 401 when it is missing, unknown or revoked.

    A remembered caller (``AuthCache``) is answered on the event loop; a miss reads the store in
    a short read-only transaction of its own, in a worker thread.
    """
    caller = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        cache: AuthCache = request.app.state.auth_cache
        secret = credentials.credentials
        caller = cache.get(secret)
        if caller is None:
            caller = await run_in_threadpool(_authenticate, request.app.state.store, secret)
            if caller is not None:
                cache.put(secret, caller)
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


async def group_commit(request: Request, work: Callable[[Session], T]) -> T:
    """``work(session)``'s result, run in the app's next group commit and committed (see
    ``store.batch``); its error is raised here."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def done(result: T, error: BaseException | None) -> None:
        loop.call_soon_threadsafe(_settle, future, result, error)

    writer: GroupCommit = request.app.state.group_commit
    writer.put(work, done)
    return await future


def _settle(future: asyncio.Future[T], result: T, error: BaseException | None) -> None:
    if future.cancelled():  # the client left; the work was done all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _authenticate(store: Store, secret: str) -> Caller | None:
    with store.session(readonly=True) as session:
        return authenticate(session=session, secret=secret)


CallerDep = Annotated[Caller, Depends(get_caller)]


def notify(settings: Settings) -> None:
    """Wake the controller (submit, cancel); a failing hook never fails the request."""
    if settings.wake is not None:
        with contextlib.suppress(Exception):  # the job is stored; the next tick will see it
            settings.wake()

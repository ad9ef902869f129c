"""FastAPI dependencies, as typed aliases (``SessionDep``, ``CallerDep``, ``SettingsDep``).

The session dependency ends *before* the response is sent (``scope="function"``): a job is
committed before its submission is acknowledged, so an acknowledged job survives a crash.

Database connections and worker threads are both limited (the pool, anyio's 40 threads), and a
request holds a connection from its session's start to its end, across several threads. So
that a burst of requests cannot take every thread while waiting for connections that other
requests, which need a thread to finish, hold (a deadlock the pool's timeout turns into 500s):

- a request's session is opened only once its caller is known (an anonymous request never
  takes a connection), and at most ``REQUEST_SESSIONS`` requests hold one at a time (the
  others wait on the event loop, holding nothing);
- authentication runs in at most ``AUTH_THREADS`` threads, log-follow re-checks in at most
  ``logs.FOLLOW_THREADS``: together below both the pool and the thread limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from aitc.control.api.authcache import AuthCache
from aitc.control.api.settings import Settings
from aitc.control.store.access import Caller
from aitc.control.store.batch import GroupCommit
from aitc.control.store.db import Store
from aitc.control.store.tokens import TokenExpiredError, TokenOwner, authenticate, touch_tokens

AFTER_COMMIT = "aitc.after_commit"
REQUEST_SESSIONS = 24
AUTH_THREADS = 8
T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="An API token (`aitc token create`).")


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once this request's transaction has committed (never if it fails)."""
    session.info.setdefault(AFTER_COMMIT, []).append(action)


def after_commit(session: Session, settings: Settings) -> None:
    """Wake the controller once this request's transaction has committed."""
    if settings.wake is not None:
        on_commit(session, lambda: notify(settings))


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The member behind the bearer token; 401 when it is missing, unknown, revoked or expired
    (saying which it is when the token is known to have expired).

    A remembered caller (``AuthCache``) is answered on the event loop; a miss reads the store in
    a short read-only transaction of its own, in a worker thread.
    """
    caller = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        cache: AuthCache = request.app.state.auth_cache
        secret = credentials.credentials
        caller = cache.get(secret)
        if caller is None:
            try:
                owner = await anyio.to_thread.run_sync(
                    _authenticate,
                    request.app.state.store,
                    secret,
                    request.app.state.settings.clock.now(),
                    limiter=request.app.state.auth_limiter,
                )
            except TokenExpiredError as exc:
                raise _unauthorized(str(exc)) from None
            if owner is not None:
                cache.put(secret, owner)
                caller = owner.caller
        if caller is not None:
            note_use(request, secret)
    if caller is None:
        raise _unauthorized("a valid API token is required (Authorization: Bearer <token>)")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def connection_caller(conn: HTTPConnection) -> Caller | None:
    """The member behind a connection's bearer token (a websocket's, which FastAPI's
    ``HTTPBearer`` does not read); None if there is none or it is not valid."""
    scheme, _, secret = (conn.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    secret = secret.strip()
    cache: AuthCache = conn.app.state.auth_cache
    caller = cache.get(secret)
    if caller is None:
        try:
            owner = await anyio.to_thread.run_sync(
                _authenticate,
                conn.app.state.store,
                secret,
                conn.app.state.settings.clock.now(),
                limiter=conn.app.state.auth_limiter,
            )
        except TokenExpiredError:
            return None
        if owner is None:
            return None
        cache.put(secret, owner)
        caller = owner.caller
    return caller


def note_use(request: Request, secret: str) -> None:
    """Write the token's ``last_used_at`` in the next group commit, at most once a minute."""
    cache: AuthCache = request.app.state.auth_cache
    due = cache.due_touch(secret)
    if due is not None:
        writer: GroupCommit = request.app.state.group_commit
        work = partial(_touch, {due[0]: due[1]})
        writer.put(work, lambda _result, _error: None)  # best effort; never fails the request


def _touch(used: dict[str, float], session: Session) -> None:
    touch_tokens(session=session, used=used)


async def get_session(request: Request, caller: CallerDep) -> AsyncIterator[Session]:
    """One transaction per request, once the caller is known (see the module docstring);
    what ``on_commit`` registered runs after it commits."""
    store: Store = request.app.state.store
    slots: anyio.Semaphore = request.app.state.session_slots
    async with slots:
        opened = store.session(readonly=request.method in ("GET", "HEAD"))
        session = await run_in_threadpool(opened.__enter__)
        try:
            yield session
        except BaseException as exc:
            await run_in_threadpool(opened.__exit__, type(exc), exc, exc.__traceback__)
            raise
        await run_in_threadpool(opened.__exit__, None, None, None)
    for action in session.info.pop(AFTER_COMMIT, ()):
        action()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


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


def _authenticate(store: Store, secret: str, now: float) -> TokenOwner | None:
    with store.session(readonly=True) as session:
        return authenticate(session=session, secret=secret, now=now)


def notify(settings: Settings) -> None:
    """Wake the controller (submit, cancel); a failing hook never fails the request."""
    if settings.wake is not None:
        with contextlib.suppress(Exception):  # the job is stored; the next tick will see it
            settings.wake()

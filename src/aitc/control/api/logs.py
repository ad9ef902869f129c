"""Serving a job's output from the files the executor writes (paths recorded in the job row).

What a log needs is looked up once, in the request's short session (``log_source``): the file,
and whose it may be. A follow stream then holds no database connection while it waits: it
reads the file as it grows and re-reads the job's state only every ``follow_check_s``, each
time in a short session of its own, in at most ``FOLLOW_THREADS`` worker threads, so a member
with many streams can neither exhaust the connection pool nor the threads other requests run
in. It stops once the job has ended and its file has been read to the end; a requeued job
writes a new attempt's files, and the stream switches to them.

Log files live in directories their members can write to, so a member could put a symbolic
link, a FIFO or another member's file there. A log is therefore opened with ``O_NOFOLLOW``
(and ``O_NONBLOCK``, so a FIFO cannot hang the open) and served only if it is a regular file
owned by the job's member's Unix account or by the server's own user (files it created).

A job's own file (``--output``/``--error``, anywhere its member chose) is served only if it is
a regular file owned by the member's account alone: the server's user (root) owns nothing there
that the job wrote, so a file reached through a link the member planted, in its place or in
place of a directory above it, belongs to someone else and is refused, never shown.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from aitc.control.accounts import resolve
from aitc.control.dispatch import log_paths
from aitc.control.store.access import Caller, LimitExceededError
from aitc.control.store.db import Store
from aitc.control.store.jobs import get_job
from aitc.control.store.models import JobRow, MemberRow
from aitc.control.store.specs import JobSpec
from aitc.domain.job import JobState
from aitc.errors import AccessDeniedError, ConflictError

CHUNK = 1 << 20
FOLLOW_THREADS = 4
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class LogSource:
    """One stream of one job, as looked up once: its file now, who may own it, and whether
    the job has ended."""

    job_id: int
    stream: str
    path: Path | None
    owners: frozenset[int]
    ended: bool
    own: bool = False  # the job's own file (--output/--error), not one of the server's logs


def _path(stdout: str | None, stderr: str | None, stream: str) -> Path | None:
    path = stdout if stream == "stdout" else stderr
    return Path(path) if path else None


def log_source(
    *,
    session: Session,
    caller: Caller,
    job_id: int,
    stream: str,
    attempt: int | None = None,
    log_dir: Path | None = None,
) -> LogSource:
    """The log of ``job_id`` that ``caller`` may see (``NotFoundError`` otherwise): its
    current attempt's, or an earlier ``attempt``'s, read from ``log_dir`` where the controller
    wrote it (``dispatch.log_paths``; ``ConflictError`` saying why when there is none)."""
    job = get_job(session=session, caller=caller, job_id=job_id)
    unix_user = session.scalar(select(MemberRow.unix_user).where(MemberRow.id == job.member_id))
    account = resolve(unix_user or job.member_id)
    member = {account.uid} if account is not None else set()
    spec = JobSpec.from_json(job.spec)
    own = spec.output is not None or (stream == "stderr" and spec.error is not None)
    path = _path(job.stdout_path, job.stderr_path, stream)
    ended = JobState(job.state).terminal
    if attempt is not None and attempt != job.attempt:
        path = _earlier(job, attempt, stream, own, log_dir, unix_user or job.member_id)
        ended = True  # an earlier attempt is over: its file does not grow
    return LogSource(
        job_id=job.id,
        stream=stream,
        path=path,
        owners=frozenset(member if own else member | {os.geteuid()}),
        ended=ended,
        own=own,
    )


def _earlier(
    job: JobRow, attempt: int, stream: str, own: bool, log_dir: Path | None, unix_user: str
) -> Path:
    """Where an earlier attempt of ``job`` wrote ``stream`` (see ``log_source``)."""
    if not 1 <= attempt < job.attempt:
        runs = f"has run {job.attempt} attempts" if job.attempt else "has not run yet"
        raise ConflictError(f"job {job.id} has no attempt {attempt}: it {runs}")
    what = "output" if stream == "stdout" else "error"
    if own:
        raise ConflictError(
            f"job {job.id} writes its {what} to its own file, one for all its attempts "
            f"(--open-mode): aitc logs {job.id} shows it"
        )
    if log_dir is None:
        raise ConflictError("this server keeps no earlier attempts' logs (no log directory)")
    out, err = log_paths(log_dir, unix_user, job.id, attempt)
    return Path(out if stream == "stdout" else err)


def _not_its_own(source: LogSource, path: Path) -> AccessDeniedError:
    what = "output" if source.stream == "stdout" else "error"
    return AccessDeniedError(
        f"job {source.job_id}'s {what} file {path} is no longer its own (a link or another "
        "owner's file): not shown"
    )


def open_log(source: LogSource, path: Path | None) -> int | None:
    """A file descriptor of ``path`` (None while it does not exist); ``AccessDeniedError``
    saying why when it is not a regular file of the job's member or of the server."""
    if path is None:
        return None
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP and source.own:
            raise _not_its_own(source, path) from None
        if exc.errno == errno.ELOOP:
            raise AccessDeniedError(
                f"the {source.stream} log of job {source.job_id} is a symbolic link; "
                "it is not served"
            ) from None
        raise AccessDeniedError(
            f"the {source.stream} log of job {source.job_id} cannot be opened ({exc.strerror})"
        ) from None
    try:
        _check_file(source, path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_file(source: LogSource, path: Path, st: os.stat_result) -> None:
    if source.own and (not stat.S_ISREG(st.st_mode) or st.st_uid not in source.owners):
        raise _not_its_own(source, path)
    what = f"the {source.stream} log of job {source.job_id}"
    if not stat.S_ISREG(st.st_mode):
        raise AccessDeniedError(f"{what} is not a regular file; it is not served")
    if st.st_uid not in source.owners:
        owners = ", ".join(str(u) for u in sorted(source.owners))
        raise AccessDeniedError(
            f"{what} is owned by uid {st.st_uid}, neither the job's member nor the server "
            f"(uid {owners}); it is not served"
        )


def read_log(source: LogSource, offset: int, limit: int = 16 * CHUNK) -> str:
    """The output on ``source`` from byte ``offset`` (invalid UTF-8 replaced)."""
    fd = open_log(source, source.path)
    if fd is None:
        return ""
    try:
        return os.pread(fd, limit, offset).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _recheck(store: Store, source: LogSource) -> tuple[Path | None, bool]:
    """The job's current file and whether it has ended, in a short read-only session."""
    stmt = select(JobRow.state, JobRow.stdout_path, JobRow.stderr_path).where(
        JobRow.id == source.job_id
    )
    with store.session(readonly=True) as session:
        row = session.execute(stmt).one()
    return _path(row.stdout_path, row.stderr_path, source.stream), JobState(row.state).terminal


async def follow_log(
    *,
    store: Store,
    source: LogSource,
    offset: int,
    poll_s: float,
    check_s: float,
    limiter: anyio.CapacityLimiter,
) -> AsyncIterator[bytes]:
    """Yield new output until the job has ended and everything has been sent."""
    path, ended, fd = source.path, source.ended, None
    next_check = anyio.current_time() + check_s
    try:
        while True:
            if fd is None:
                fd = open_log(source, path)
            # A read of at most CHUNK from the page cache: cheaper inline than a thread hop.
            data = os.pread(fd, CHUNK, offset) if fd is not None else b""
            offset += len(data)
            if data:
                yield data
                continue
            if ended:
                return
            if anyio.current_time() >= next_check:
                current, ended = await anyio.to_thread.run_sync(
                    _recheck, store, source, limiter=limiter
                )
                next_check = anyio.current_time() + check_s
                if current != path:  # a new attempt writes new files
                    path, offset = current, 0
                    if fd is not None:
                        os.close(fd)
                    fd = None
                continue
            await anyio.sleep(poll_s)
    except AccessDeniedError:
        return  # the file was swapped for one that is not served; end the stream
    finally:
        if fd is not None:
            os.close(fd)


class FollowSlots:
    """How many follow streams each member has open; more than ``per_member`` are refused."""

    def __init__(self, per_member: int) -> None:
        self.per_member = per_member
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, member: str) -> Callable[[], None]:
        """Take a slot for ``member`` (``LimitExceededError`` when none is left); returns the
        function that gives it back (once)."""
        with self._lock:
            if self._open.get(member, 0) >= self.per_member:
                raise LimitExceededError(
                    "follow streams",
                    f"you have {self.per_member} log streams open already "
                    f"(limit max_follows_per_member={self.per_member}); close one first",
                    retry_after=5,
                )
            self._open[member] = self._open.get(member, 0) + 1
        given = threading.Event()

        def give_back() -> None:
            if given.is_set():
                return
            given.set()
            with self._lock:
                left = self._open.get(member, 1) - 1
                if left:
                    self._open[member] = left
                else:
                    self._open.pop(member, None)

        return give_back

    def open(self, member: str) -> int:
        with self._lock:
            return self._open.get(member, 0)


class FollowResponse(StreamingResponse):
    """A follow stream that notices a client that left even while no output comes (Starlette
    only notices at the next write), then closes the file and gives its slot back."""

    def __init__(self, content: AsyncIterator[bytes], give_back: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/plain; charset=utf-8")
        self._give_back = give_back

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        except OSError:
            raise ClientDisconnect() from None
        finally:
            self._give_back()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()

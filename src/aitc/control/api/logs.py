"""Serving a job's output from the files the executor writes (paths recorded in the job row).

Following a log reads new bytes as they arrive and stops once the job has ended and its file
has been read to the end. A requeued job writes a new attempt's files: the stream switches to
them. Each poll uses its own short transaction, never the request's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from aitc.control.store.access import Caller
from aitc.control.store.db import Store
from aitc.control.store.jobs import get_job
from aitc.control.store.models import JobRow
from aitc.domain.job import JobState

CHUNK = 1 << 20


def log_path(job: JobRow, stream: str) -> Path | None:
    path = job.stdout_path if stream == "stdout" else job.stderr_path
    return Path(path) if path else None


def _read(path: Path | None, offset: int, limit: int = 16 * CHUNK) -> bytes:
    if path is None:
        return b""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read(limit)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return b""


def read_log(job: JobRow, stream: str, offset: int) -> str:
    """The output of ``job`` on ``stream`` from byte ``offset`` (invalid UTF-8 replaced)."""
    return _read(log_path(job, stream), offset).decode("utf-8", "replace")


def _poll(store: Store, caller: Caller, job_id: int, stream: str) -> tuple[Path | None, bool]:
    with store.session(readonly=True) as session:
        job = get_job(session=session, caller=caller, job_id=job_id)
        return log_path(job, stream), JobState(job.state).terminal


async def follow_log(
    *, store: Store, caller: Caller, job_id: int, stream: str, offset: int, poll_s: float
) -> AsyncIterator[bytes]:
    """Yield new output until the job has ended and everything has been sent."""
    path: Path | None = None
    while True:
        current, ended = await anyio.to_thread.run_sync(_poll, store, caller, job_id, stream)
        if current != path and path is not None:
            offset = 0  # a new attempt writes new files
        path = current
        data = await anyio.to_thread.run_sync(_read, path, offset, CHUNK)
        offset += len(data)
        if data:
            yield data
        elif ended:
            return
        else:
            await anyio.sleep(poll_s)

"""``/api/v1/jobs/{id}/terminal``: the websocket that attaches ``aitc run`` to its job.

Only the job's own member may attach, to a job submitted with a ``terminal`` (``pty`` or
``pipes``) once it is starting or running. The server connects to the attempt's ``io.sock``
(where the supervisor relays the job's streams, ``executors/terminal.py``) and passes frames
both ways, one websocket message per frame (its type byte, then the payload), after a first
``RESIZE`` with the client's window size (``?rows=&cols=``; default 24x80): ``INPUT``,
``RESIZE`` and ``EOF`` from the client, ``STDOUT`` and ``STDERR`` to it. When the job ends the
supervisor closes the socket and the server closes the websocket (1000); when the client
leaves, the socket closes and the job's terminal hangs up.

A refusal closes the websocket with a code the client turns into words:
``REFUSED`` (4403: no token, someone else's job, not an interactive job), ``NOT_RUNNING``
(4409: pending, or already ended) and ``NO_TERMINAL`` (4501: this server's executor relays no
terminal; ``aitc run`` then follows the job's output as ``aitc logs -f`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import anyio
from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy import select

from aitc.control.api.deps import connection_caller
from aitc.control.executors.terminal import RESIZE, FrameReader, frame, resize_payload
from aitc.control.store.db import Store
from aitc.control.store.models import JobRow
from aitc.control.store.specs import JobSpec
from aitc.domain.job import JobState

REFUSED, NOT_RUNNING, NO_TERMINAL = 4403, 4409, 4501
ATTACH_WAIT_S = 30.0  # how long a starting job's supervisor may take to open its socket
TerminalSocket = Callable[[int, int], Path]


async def attach(websocket: WebSocket, job_id: int) -> None:
    """Relay the websocket to job ``job_id``'s terminal (see the module docstring)."""
    # Accepted first, so that a refusal reaches the client as a close code with its reason
    # (a websocket closed before it is accepted is answered 403, whatever the reason).
    await websocket.accept()
    caller = await connection_caller(websocket)
    if caller is None:
        return await websocket.close(REFUSED, "a valid API token is required")
    store: Store = websocket.app.state.store
    job = await anyio.to_thread.run_sync(_job, store, job_id)
    if job is None or job[0] != caller.member_id:
        return await websocket.close(REFUSED, f"job {job_id} is not one of yours")
    if not job[2]:
        return await websocket.close(REFUSED, f"job {job_id} was not submitted with aitc run")
    sockets: TerminalSocket | None = getattr(websocket.app.state, "terminals", None)
    if sockets is None:
        return await websocket.close(NO_TERMINAL, "this server's executor relays no terminal")
    path = await _socket(store, job_id, sockets)
    if path is None:
        return await websocket.close(NOT_RUNNING, f"job {job_id} is not running")
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return await websocket.close(NOT_RUNNING, f"job {job_id} is not running")
    writer.write(frame(RESIZE, resize_payload(*_size(websocket))))  # the job starts on it
    await _relay(websocket, reader, writer)


def _size(websocket: WebSocket) -> tuple[int, int]:
    """The client's window (``?rows=&cols=``), or a classic 24x80 terminal."""
    try:
        rows, cols = int(websocket.query_params["rows"]), int(websocket.query_params["cols"])
    except (KeyError, ValueError):
        return 24, 80
    return min(max(rows, 1), 10_000), min(max(cols, 1), 10_000)


def _job(store: Store, job_id: int) -> tuple[str, str, str | None, int] | None:
    """(member, state, terminal, attempt) of the job."""
    with store.session(readonly=True) as s:
        row = s.execute(
            select(JobRow.member_id, JobRow.state, JobRow.spec, JobRow.attempt).where(
                JobRow.id == job_id
            )
        ).first()
    if row is None:
        return None
    return row.member_id, row.state, JobSpec.from_json(row.spec).terminal, row.attempt


async def _socket(store: Store, job_id: int, sockets: TerminalSocket) -> Path | None:
    """The current attempt's socket once it exists; None if the job is not (or no longer)
    starting or running."""
    deadline = anyio.current_time() + ATTACH_WAIT_S
    while anyio.current_time() < deadline:
        job = await anyio.to_thread.run_sync(_job, store, job_id)
        if job is None or job[1] not in (JobState.STARTING.value, JobState.RUNNING.value):
            return None
        path = sockets(job_id, job[3])
        if path.exists():
            return path
        await asyncio.sleep(0.1)
    return None


async def _relay(
    websocket: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    async def up() -> None:  # the client's input, resizes and end of input
        with contextlib.suppress(WebSocketDisconnect, OSError):
            while True:
                data = await websocket.receive_bytes()
                if data:
                    writer.write(frame(data[:1], data[1:]))
                    await writer.drain()

    async def down() -> None:  # what the job writes, until it ends
        frames = FrameReader()
        while data := await reader.read(65536):
            for kind, payload in frames.feed(data):
                await websocket.send_bytes(kind + payload)

    uplink, downlink = asyncio.create_task(up()), asyncio.create_task(down())
    try:
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await asyncio.wait([uplink, downlink], return_when=asyncio.FIRST_COMPLETED)
            if downlink.done() and not uplink.done():
                await websocket.close(1000, "the job ended")
    finally:
        for task in (uplink, downlink):
            task.cancel()
        writer.close()  # a client gone: the supervisor hangs the job's terminal up

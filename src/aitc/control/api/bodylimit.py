"""A limit on request bodies, counted as they stream (pure ASGI).

A declared ``Content-Length`` over the limit is refused before a byte of the body is read. A
body without one (``Transfer-Encoding: chunked``) is counted chunk by chunk as the app reads
it; the chunk that passes the limit ends the request with 413, so the server never holds more
than the limit (plus one chunk) of a body, whatever the client keeps sending. Routes read
their body before they check the token, so this also bounds what an anonymous client costs.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passed the limit."""


class BodyLimit:
    """Answer 413 (JSON, naming the limit) to a request body larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        await _Counted(self, receive, send).run(scope)

    async def _refuse(self, send: Send) -> None:
        detail = (
            f"request body: larger than the limit of {self.limit} bytes "
            "(settings.max_body_bytes); send a smaller request"
        )
        body = json.dumps({"detail": detail, "limit_bytes": self.limit}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _Counted:
    """One request: counts what ``receive`` hands over; once past the limit, the app's own
    answer (FastAPI turns a failed body read into a 400) is replaced by the 413."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self.limit, self._receive, self._send = limit, receive, send
        self.read, self.over, self.started = 0, False, False

    async def run(self, scope: Scope) -> None:
        with contextlib.suppress(BodyTooLarge):
            await self.limit.app(scope, self.receive, self.send)
        if self.over and not self.started:
            self.started = True
            await self.limit._refuse(self._send)

    async def receive(self) -> Message:
        if self.over:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limit.limit:
                self.over = True
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.over:
            return  # the app's answer to a body it could not read; ours goes out instead
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None

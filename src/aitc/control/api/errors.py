"""How aitc's errors become HTTP responses.

``ConfigError`` → 422 in FastAPI's own shape (``detail[].loc`` names the field), so clients read
every validation error the same way; ``NotFoundError`` → 404; ``AccessDeniedError`` → 403;
``ConflictError`` and other ``StoreError`` → 409; a body that is not UTF-8 JSON → 422;
``LimitExceededError`` (a member's limit) → 429 with ``Retry-After``.

A database that cannot take a write is the server's trouble, not the request's, and never a
bare 500: a full disk → 507, a database that is read-only, locked, unreachable or out of
connections → 503 with ``Retry-After``; the detail says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from aitc.control.store.access import LimitExceededError
from aitc.errors import AccessDeniedError, ConfigError, NotFoundError, StoreError


def validation_response(field: str | None, message: str, where: str = "body") -> JSONResponse:
    loc = [where, *(field.split(".", 1) if field else [])]
    body = {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}
    return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _config_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConfigError)
    return validation_response(exc.field, exc.reason)


def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


def _denied(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_403_FORBIDDEN)


def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


def _limited(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LimitExceededError)
    body = {"detail": str(exc), "limit": exc.limit}
    headers = {}
    if exc.retry_after is not None:  # None: retrying the same request cannot help
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return JSONResponse(body, status.HTTP_429_TOO_MANY_REQUESTS, headers=headers)


# (words in the database's message or SQLSTATE prefix, status, what to tell the client)
_STORE_TROUBLE: tuple[tuple[tuple[str, ...], int, str], ...] = (
    (
        ("database or disk is full", "no space left", "could not extend file", "53100"),
        status.HTTP_507_INSUFFICIENT_STORAGE,
        "the server's disk is full; nothing was stored (tell an operator)",
    ),
    (
        ("readonly database", "read-only", "25006"),
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the database is read-only; nothing was stored (tell an operator)",
    ),
    (
        ("unable to open database file",),
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the database file cannot be opened (missing, unreadable, or on a read-only or full "
        "disk); nothing was stored (tell an operator)",
    ),
    (
        ("database is locked", "lock timeout", "55p03"),
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the database is locked by another writer; retry shortly",
    ),
)


def store_trouble(exc: Exception) -> tuple[int, str]:
    """The status and reason for a database failure (``OperationalError`` and kin)."""
    if isinstance(exc, PoolTimeoutError):
        return status.HTTP_503_SERVICE_UNAVAILABLE, "the database has no free connection; retry"
    orig = getattr(exc, "orig", exc)
    text = f"{orig} {getattr(orig, 'sqlstate', '') or getattr(orig, 'pgcode', '') or ''}".lower()
    for words, code, reason in _STORE_TROUBLE:
        if any(w in text for w in words):
            return code, reason
    return status.HTTP_503_SERVICE_UNAVAILABLE, "the database is unavailable; retry shortly"


def _store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    code, reason = store_trouble(exc)
    orig = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    body = {"detail": f"{reason} (database: {orig})"}
    return JSONResponse(body, status_code=code, headers={"Retry-After": "5"})


def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without echoing the input back (it may be huge, or not encodable)."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "value_error")),
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


class Utf8Route(APIRoute):
    """A route that refuses a request body that is not UTF-8 with a 422 naming the body
    (FastAPI would answer a bare 400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH"):
                try:
                    (await request.body()).decode("utf-8")
                except UnicodeDecodeError as exc:
                    return validation_response(None, f"is not valid UTF-8 (byte {exc.start})")
            return await handler(request)

        return route


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(AccessDeniedError, _denied)
    app.add_exception_handler(StoreError, _conflict)
    app.add_exception_handler(LimitExceededError, _limited)
    app.add_exception_handler(OperationalError, _store_unavailable)
    app.add_exception_handler(PoolTimeoutError, _store_unavailable)

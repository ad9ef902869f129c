"""How aitc's errors become HTTP responses.

``ConfigError`` → 422 in FastAPI's own shape (``detail[].loc`` names the field), so clients read
every validation error the same way; ``NotFoundError`` → 404; ``AccessDeniedError`` → 403;
``ConflictError`` and other ``StoreError`` → 409; a body that is not UTF-8 JSON → 422.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

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

"""How aitc's errors become HTTP responses.

``ConfigError`` → 422 in FastAPI's own shape (``detail[].loc`` names the field), so clients read
every validation error the same way; ``NotFoundError`` → 404; ``AccessDeniedError`` → 403;
``ConflictError`` and other ``StoreError`` → 409; a body that is not UTF-8 JSON → 422.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

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


def install(app: FastAPI) -> None:
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(AccessDeniedError, _denied)
    app.add_exception_handler(StoreError, _conflict)

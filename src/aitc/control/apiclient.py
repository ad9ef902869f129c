"""A small HTTP client of the control-plane API (what ``aitc submit``, ``queue``, … use).

Where to connect, in order: the values given (command-line flags), the environment
(``AITC_URL``, ``AITC_TOKEN``), then ``$XDG_CONFIG_HOME/aitc/config.toml`` (default
``~/.config/aitc/config.toml``) with keys ``url`` and ``token``.

Every failure becomes an ``ApiError``: ``what`` names the flag, field or object at fault and
``why`` says what went wrong and what to do (a 422 carries one ``(field, reason)`` per field
in ``fields``); its ``exit_code`` is 2 for a request the server found invalid (422), 1
otherwise.
"""

from __future__ import annotations

import os
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aitc.errors import AitcError

DEFAULT_URL = "http://127.0.0.1:8600"
RETRIES = 3


class ApiError(AitcError):
    """The server could not be reached, or refused the request."""

    def __init__(
        self,
        what: str,
        why: str,
        *,
        status: int | None = None,
        exit_code: int = 1,
        fields: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"{what}: {why}")
        self.what, self.why, self.fields = what, why, fields
        self.status, self.exit_code = status, exit_code


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aitc" / "config.toml"


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str | None


def resolve(url: str | None = None, token: str | None = None) -> Target:
    """Where to connect and with which token (flags, then environment, then config file)."""
    file: dict[str, Any] = {}
    path = config_path()
    if path.exists():
        try:
            file = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(str(path), f"not valid TOML ({exc})", exit_code=2) from None
    url = url or os.environ.get("AITC_URL") or file.get("url") or DEFAULT_URL
    token = token or os.environ.get("AITC_TOKEN") or file.get("token")
    return Target(str(url).rstrip("/"), _checked(str(token)) if token else None)


def _checked(token: str) -> str:
    """``token``, unless it holds a character no token has (such as the `…` of a token
    copied as a page abbreviates it), which could not even be sent."""
    bad = next((c for c in token if not " " < c < "\x7f"), None)
    if bad is not None:
        raise ApiError(
            "--token",
            f"not a token: it holds {bad!r}, which no token has (a token is aitc_ and 43 "
            "letters, digits, - and _); give the whole token (--token, AITC_TOKEN or "
            f"token in {config_path()})",
            exit_code=2,
        )
    return token


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        return response.text[:500]


def _field_errors(detail: Any) -> tuple[tuple[str, str], ...]:
    """FastAPI's validation errors as (field, reason) pairs."""
    if not isinstance(detail, list):
        return (("request", str(detail)),)
    out = []
    for d in detail:
        loc = [str(p) for p in d.get("loc", ()) if p not in ("body", "query", "path")]
        msg = str(d.get("msg", "")).removeprefix("Value error, ")
        out.append((".".join(loc) or "request", msg))
    return tuple(out)


def raise_for(response: httpx.Response, url: str, subject: str | None = None) -> None:
    """Turn an error response into an ``ApiError`` for people; ``subject`` names the object
    the request was about (``job 12``), for 403, 404 and 409."""
    status = response.status_code
    if status < 400:
        return
    detail = _detail(response)
    if status == 422:
        fields = _field_errors(detail)
        raise ApiError(*fields[0], status=status, exit_code=2, fields=fields)
    detail = str(detail)
    what, why = subject or "request", detail
    if status == 401:
        what = "--token"
        if "expired" not in detail:
            why = (
                "the server refused the token (missing, unknown or revoked); pass --token, "
                f'set AITC_TOKEN or put token = "…" in {config_path()}'
            )
    elif status == 403:
        why = f"not allowed: {detail}"
    elif status == 404:
        why = "not found (no such object, or not one you may see)" if subject else detail
        what = subject or "not found"
    elif status == 429:
        retry = response.headers.get("Retry-After")
        what = "over a limit"
        why = detail + (f" (retry in {retry} s)" if retry else "")
    elif status in (503, 507):
        what, why = "server", f"{url} cannot store this now ({status}): {detail}"
    elif status >= 500:
        what, why = "server", f"{url} failed ({status}); see its log"
    raise ApiError(what, why, status=status)


class ApiClient:
    """Calls to /api/v1 with a bearer token."""

    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target = target
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self.http = httpx.Client(base_url=f"{target.url}/api/v1", headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, subject: str | None = None, **kwargs: Any) -> Any:
        """One call; retried on connection failures (submissions carry an Idempotency-Key)."""
        response = self.send(method, path, subject=subject, **kwargs)
        return response.json() if response.content else None

    def text(self, path: str, *, subject: str | None = None) -> str:
        """A ``GET`` whose answer is text (a job's batch script)."""
        return self.send("GET", path, subject=subject).text

    def send(
        self, method: str, path: str, *, subject: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried on connection failures; its response, refused ones raised."""
        for attempt in range(RETRIES):
            try:
                response = self.http.request(method, path, **kwargs)
                break
            except httpx.TransportError as exc:
                if attempt == RETRIES - 1:
                    raise self._unreachable(exc) from None
        raise_for(response, self.target.url, subject)
        return response

    def _unreachable(self, exc: Exception) -> ApiError:
        return ApiError(
            "--url",
            f"cannot reach the aitc server at {self.target.url} ({exc}); is `aitc serve` "
            "running? (set --url or AITC_URL)",
        )

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        result: dict[str, Any] = self.request("POST", "/jobs", json=body, headers=headers)
        return result

    def stream_logs(
        self, job_id: int, *, stream: str, follow: bool, attempt: int | None = None
    ) -> Iterator[bytes]:
        params = {"stream": stream, "follow": str(follow).lower()}
        if attempt is not None:
            params["attempt"] = str(attempt)
        try:
            with self.http.stream(
                "GET", f"/jobs/{job_id}/logs", params=params, timeout=httpx.Timeout(30.0, read=None)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise_for(response, self.target.url, f"job {job_id}")
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

"""What every client command shares: where the server is, and one way to call it and report
its errors (``aitc: <what>: <why>``, exit 2 for an invalid request, 1 otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import typer

from aitc.cli.output import echo

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient, ApiError

UrlOpt = typer.Option(
    None, "--url", help="Server URL (else AITC_URL, config.toml, http://127.0.0.1:8600)."
)
TokenOpt = typer.Option(None, "--token", help="API token (else AITC_TOKEN or config.toml).")


def run(
    url: str | None,
    token: str | None,
    call: Callable[[ApiClient], None],
    *,
    fields: Mapping[str, str] | None = None,
) -> None:
    """Run ``call`` with a client; print an ``ApiError`` as ``aitc: what: why`` (one line per
    field of an invalid request, named by its flag in ``fields``) and exit with its code."""
    from aitc.control.apiclient import ApiClient, ApiError, resolve  # httpx: only to call

    try:
        client = ApiClient(resolve(url, token))
    except ApiError as exc:
        _report(exc, fields or {})
    try:
        call(client)
    except ApiError as exc:
        _report(exc, fields or {})
    finally:
        client.close()


def _report(exc: ApiError, fields: Mapping[str, str]) -> None:
    say(exc, fields)
    raise typer.Exit(exc.exit_code)


def say(exc: ApiError, fields: Mapping[str, str] | None = None) -> None:
    """Print ``exc`` as ``aitc: what: why`` (a line per field of an invalid request)."""
    fields = fields or {}
    for what, why in exc.fields or ((exc.what, exc.why),):
        head, _, rest = what.partition(".")
        named = f"{fields[head]} {rest}".rstrip() if head in fields else what
        echo(f"aitc: {named}: {why}", err=True)

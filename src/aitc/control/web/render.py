"""The web pages' plumbing: templates, the visit (session cookie → caller → one transaction),
form bodies, CSRF checks, and how errors become pages instead of JSON.

Every page is served with a Content-Security-Policy that allows scripts and styles from this
server only (no inline script, no CDN), and may not be framed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller
from aitc.control.store.db import Store
from aitc.control.web.session import COOKIE, SessionCodec, WebSession, csrf_ok, session_caller
from aitc.domain.durations import slurm_duration
from aitc.errors import AccessDeniedError, ConflictError, NotFoundError

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM = 256 * 1024


class SignInRequired(Exception):
    """The page needs a signed-in member (answered with a redirect to the sign-in page)."""


class CsrfRefused(Exception):
    """A form arrived without the session's CSRF token (answered 403)."""


def _utc(value: datetime | float | None) -> str:
    if value is None:
        return "-"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    return "none" if seconds is None else slurm_duration(seconds)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("aitc.control.web", "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        utc=_utc,
        day=lambda v: _utc(v)[:10],
        duration=_duration,
        urlquote=lambda v: quote(str(v), safe=""),
    )
    env.globals["zip"] = zip
    return env


@dataclass
class Visit:
    """One request of a page: the cookie's session, the signed-in caller, a transaction."""

    request: Request
    web: WebSession
    session: Session
    caller: Caller | None
    new_cookie: bool

    @property
    def me(self) -> Caller:
        if self.caller is None:
            raise SignInRequired()
        return self.caller

    def render(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        env: Environment = self.request.app.state.web_templates
        html = env.get_template(template).render(
            caller=self.caller, csrf=self.web.csrf, path=self.request.url.path, **ctx
        )
        response = HTMLResponse(html, status, headers=HEADERS)
        if self.new_cookie:
            set_cookie(self.request, response, self.web)
        return response


def set_cookie(request: Request, response: Response, web: WebSession) -> None:
    codec: SessionCodec = request.app.state.web_codec
    response.set_cookie(
        COOKIE,
        codec.dump(web),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def now(request: Request) -> float:
    return float(request.app.state.settings.clock.now())


def read_session(request: Request) -> tuple[WebSession, bool]:
    """The cookie's session, or a new anonymous one (True: it must be set on the answer)."""
    codec: SessionCodec = request.app.state.web_codec
    web = codec.load(request.cookies.get(COOKIE), now(request))
    return (web, False) if web is not None else (WebSession.anonymous(), True)


@contextlib.contextmanager
def visit(request: Request, *, write: bool = False) -> Iterator[Visit]:
    """A page's visit in one transaction (read-only unless ``write``)."""
    web, new = read_session(request)
    store: Store = request.app.state.store
    with store.session(readonly=not write) as session:
        caller = session_caller(session=session, web=web, now=now(request))
        yield Visit(request, web, session, caller, new)


async def form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as one value per field, its CSRF token
    checked against the session's (``CsrfRefused`` otherwise)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise CsrfRefused("the form is too large")
    fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), True).items()}
    web, _ = read_session(request)
    if not csrf_ok(web, fields.get("csrf")):
        raise CsrfRefused("the form's security token is missing or stale")
    return fields


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    web, new = read_session(request)
    env: Environment = request.app.state.web_templates
    html = env.get_template("error.html").render(
        caller=None, csrf=web.csrf, path=request.url.path, title=title, message=message
    )
    response = HTMLResponse(html, status, headers=HEADERS)
    if new:
        set_cookie(request, response, web)
    return response


def _sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target)}", 303, headers=HEADERS)


class WebRoute(APIRoute):
    """A page route: missing objects, refusals, conflicts and CSRF failures answer with pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return _sign_in_redirect(request)
            except NotFoundError:
                return _error_page(
                    request, 404, "Not found", "There is nothing here that you may see."
                )
            except AccessDeniedError as exc:
                return _error_page(request, 403, "Not allowed", str(exc))
            except ConflictError as exc:  # (e.g. every task of an array has ended)
                return _error_page(request, 409, "Nothing to do", str(exc))
            except CsrfRefused as exc:
                return _error_page(
                    request,
                    403,
                    "Form refused",
                    f"{exc}. Reload the page and send the form again.",
                )

        return route

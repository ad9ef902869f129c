"""Signing in through the institution's OpenID Connect provider (lab.yaml ``sign_in.oidc``).

``GET /signin/oidc`` starts a sign-in: a new ``Flow`` (state, nonce, PKCE verifier, where to
go afterwards) goes into the cookie ``aitc_oidc`` (signed with the session key, HttpOnly,
SameSite=Lax, Secure over TLS, sent only to ``/signin/oidc``, ten minutes), and the browser
to the provider. ``GET /signin/oidc/callback`` is where the provider sends it back: the
``state`` must be the cookie's, the code is exchanged and the ID token checked
(``oidc.RelyingParty``), and the claim lab.yaml names must find exactly one enabled member.
That member is then signed in as with an API token (the same ``aitc_session`` cookie and the
same ``Caller``, so roles and scoping are the API's). An unknown person is refused with a page
saying so; no member is ever created here. The flow cookie is cleared either way: a return
from the provider is used once.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from aitc.control.store.models import MemberRow
from aitc.control.web.oidc import FLOW_S, Flow, RelyingParty, SignInRefused
from aitc.control.web.pages import safe_next
from aitc.control.web.render import HEADERS, WebRoute, now, set_cookie, visit
from aitc.control.web.session import SESSION_S, SessionCodec
from aitc.domain.lab import OidcSignIn
from aitc.errors import NotFoundError

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute, include_in_schema=False)
FLOW_COOKIE = "aitc_oidc"
FLOW_PATH = "/signin/oidc"
PURPOSE = b"oidc-flow."
Param = Annotated[str | None, Query(max_length=4096)]
WHAT = {"member": "member id", "unix_user": "Unix account", "email": "e-mail address"}


@router.get("/signin/oidc")
def start(request: Request, next: Param = None) -> Response:
    party = _party(request)
    flow = Flow.new(safe_next(next), now(request))
    try:
        url = party.authorization_url(flow, _redirect_uri(request, party.spec))
    except SignInRefused as exc:
        return _refused(request, exc, flow.next)
    response = RedirectResponse(url, 303, headers=HEADERS)
    codec: SessionCodec = request.app.state.web_codec
    _flow_cookie(request, response, codec.seal(flow.to_json(), PURPOSE))
    return response


@router.get("/signin/oidc/callback", name="oidc_callback")
def callback(
    request: Request,
    code: Param = None,
    state: Param = None,
    error: Param = None,
    error_description: Param = None,
) -> Response:
    party = _party(request)
    flow = _flow(request)
    try:
        if flow is None:
            raise SignInRefused(
                "this sign-in was not started in this browser, or took longer than "
                f"{FLOW_S / 60:.0f} minutes; start it again",
                400,
            )
        if not state or not hmac.compare_digest(state, flow.state):
            raise SignInRefused(
                "the provider's answer does not belong to the sign-in this browser started "
                "(state); start it again",
                400,
            )
        if error:
            more = f" ({error_description})" if error_description else ""
            raise SignInRefused(f"the provider did not sign you in: {error}{more}", 401)
        if not code:
            raise SignInRefused("the provider sent no sign-in code", 400)
        claims = party.identify(
            code=code, flow=flow, redirect_uri=_redirect_uri(request, party.spec)
        )
        with visit(request) as v:
            member = find_member(session=v.session, spec=party.spec, claims=claims)
            web = v.web.signed_in(None, member, now(request) + SESSION_S)
    except SignInRefused as exc:
        log.warning("OpenID Connect sign-in refused: %s", exc)
        response = _refused(request, exc, flow.next if flow else "/")
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return response
    log.info("OpenID Connect sign-in: %s (subject %s)", member, claims.get("sub"))
    response = RedirectResponse(flow.next, 303, headers=HEADERS)
    set_cookie(request, response, web)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


def find_member(*, session: Session, spec: OidcSignIn, claims: dict[str, object]) -> str:
    """The one enabled member the ID token's ``spec.claim`` names (``spec.matches``: by member
    id, Unix account or e-mail address); ``SignInRefused`` (403) otherwise."""
    value = claims.get(spec.claim)
    if not isinstance(value, str) or not value.strip():
        raise SignInRefused(
            f"the provider's ID token has no {spec.claim!r} claim to tell who you are "
            "(sign_in.oidc.claim); ask an admin",
            403,
        )
    if spec.claim == "email" and claims.get("email_verified") is False:
        raise SignInRefused(f"the provider has not verified the e-mail address {value}", 403)
    what = WHAT[spec.matches]
    stmt = select(MemberRow.id).where(MemberRow.enabled.is_(True), _matching(spec.matches, value))
    found = list(session.scalars(stmt.limit(2)))
    if not found:
        raise SignInRefused(
            f"no member of this lab has the {what} {value!r}; ask an admin to add you "
            "to the lab (lab.yaml)",
            403,
        )
    if len(found) > 1:
        raise SignInRefused(
            f"several members of this lab have the {what} {value!r}; ask an admin to make "
            "it unique",
            403,
        )
    return found[0]


def _matching(matches: str, value: str) -> ColumnElement[bool]:
    if matches == "email":
        return func.lower(MemberRow.email) == value.lower()
    if matches == "unix_user":  # no unix_user: the account is the member id
        return or_(
            MemberRow.unix_user == value,
            and_(MemberRow.unix_user.is_(None), MemberRow.id == value),
        )
    return MemberRow.id == value


def _party(request: Request) -> RelyingParty:
    party: RelyingParty | None = request.app.state.web_oidc
    if party is None:  # not configured: these pages do not exist
        raise NotFoundError("OpenID Connect sign-in is not configured")
    return party


def _redirect_uri(request: Request, spec: OidcSignIn) -> str:
    return spec.redirect_uri or str(request.url_for("oidc_callback"))


def _flow(request: Request) -> Flow | None:
    codec: SessionCodec = request.app.state.web_codec
    data = codec.unseal(request.cookies.get(FLOW_COOKIE), PURPOSE)
    try:
        flow = Flow.from_json(data) if data is not None else None
    except (KeyError, TypeError, ValueError):
        return None
    if flow is None or not 0 <= now(request) - flow.started <= FLOW_S:
        return None
    return flow


def _flow_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        FLOW_COOKIE,
        value,
        max_age=int(FLOW_S),
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _refused(request: Request, exc: SignInRefused, target: str) -> Response:
    """The sign-in page again, saying why (the token form stays below)."""
    with visit(request) as v:
        return v.render("signin.html", exc.status, next=target, error=None, oidc_error=str(exc))

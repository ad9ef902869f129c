"""A small but real OpenID Connect provider for the sign-in tests, on 127.0.0.1.

Built from Authlib's server components (``AuthorizationServer`` for Flask, the authorization
code grant with the ``OpenIDCode`` extension and PKCE ``CodeChallenge(required=True)``), served
by Werkzeug in a thread. It publishes a discovery document and its JWKS, authenticates the
client (``client_secret_basic``), asks the person for their user name on a login page, and
issues ID tokens signed RS256 with its own key. Nothing of the flow is faked.

``fault`` makes it misbehave the way an attacker or a broken provider would, so the tests can
show the dashboard refuses the result: ``expired`` (signed, but an hour old), ``tampered`` (a
claim changed after signing), ``foreign-key`` (signed by a key not in the JWKS, same ``kid``),
``audience`` (issued to another client), ``issuer`` (another issuer), ``nonce`` (another
nonce).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from markupsafe import escape
from werkzeug.serving import make_server

KID = "test-key-1"
FAULTS = ("expired", "tampered", "foreign-key", "audience", "issuer", "nonce")


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uri: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile", "email"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic" if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    """An authorization code as Authlib's grants read it."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    """The provider: ``start()`` serves it on a free port of 127.0.0.1 (``issuer``)."""

    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self.users = users
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self.foreign = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self.codes: dict[str, Code] = {}
        self.clients: dict[str, Client] = {}
        self.fault: str | None = None
        self.token_requests = 0
        self.issued: list[Code] = []  # every code issued, with what the client asked for
        self.app = self._app()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def register(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, secret, redirect_uri)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()

    def _app(self) -> Flask:
        app = Flask("test-oidc-provider")
        server = AuthorizationServer(app, query_client=self.clients.get, save_token=_ignore)
        server.register_grant(_grant(self), [CodeChallenge(required=True), _openid(self)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                jwks_uri=f"{self.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
                scopes_supported=["openid", "profile", "email"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            if request.method == "GET":
                server.get_consent_grant(end_user=None)  # checks the request before asking
                return _LOGIN.format(query=escape(request.query_string.decode()))
            grant = server.get_consent_grant(end_user=None)
            user = request.form.get("username", "")
            return server.create_authorization_response(grant=grant, grant_user=user or None)

        @app.post("/token")
        def token() -> Any:
            self.token_requests += 1
            return server.create_token_response()

        return app


def _ignore(token: Any, request: Any) -> None:
    """Access tokens are not kept: the dashboard uses only the ID token."""


def _grant(provider: Provider) -> type[grants.AuthorizationCodeGrant]:
    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            p = req.payload
            provider.codes[code] = issued = Code(
                code,
                req.client.client_id,
                p.redirect_uri,
                p.scope,
                req.user,
                p.data.get("nonce"),
                p.data.get("code_challenge"),
                p.data.get("code_challenge_method"),
            )
            provider.issued.append(issued)

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, code: Code) -> None:
            provider.codes.pop(code.code, None)

        def authenticate_user(self, code: Code) -> str:
            return code.user

    return CodeGrant


def _openid(provider: Provider) -> OpenIDCode:
    class Code_(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return any(c.nonce == nonce for c in provider.codes.values())

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return provider.foreign if provider.fault == "foreign-key" else provider.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": KID}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            now = int(time.time())
            claims: dict[str, Any] = {"iss": provider.issuer, "aud": [client.client_id]}
            claims.update(iat=now, exp=now + 300)
            if provider.fault == "expired":
                claims.update(iat=now - 3600, exp=now - 3000, auth_time=now - 3600)
            if provider.fault == "audience":
                claims["aud"] = ["another-client"]
            if provider.fault == "issuer":
                claims["iss"] = "http://127.0.0.1:9/elsewhere"
            return claims

        def get_authorization_code_claims(self, code: Code) -> dict[str, Any]:
            claims: dict[str, Any] = super().get_authorization_code_claims(code)
            if provider.fault == "nonce":
                claims["nonce"] = "not-the-one-asked-for"
            return claims

        def generate_user_info(self, user: str, scope: str) -> UserInfo:
            return UserInfo(sub=f"sub-{user}", **provider.users.get(user, {}))

        def encode_id_token(self, token: Any, req: Any) -> str:
            signed: str = super().encode_id_token(token, req)
            return _tamper(signed) if provider.fault == "tampered" else signed

    return Code_(require_nonce=True)


def _tamper(signed: str) -> str:
    """The same token with one claim changed after signing (the signature no longer holds)."""
    header, payload, signature = signed.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["preferred_username"] = "admin"
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{signature}"


_LOGIN = """<!doctype html><html lang="en"><head><title>Test provider</title></head><body>
<h1>Test provider: sign in</h1>
<form method="post" action="/authorize?{query}">
<label for="username">User name</label> <input id="username" name="username">
<button type="submit">Continue</button>
</form></body></html>"""

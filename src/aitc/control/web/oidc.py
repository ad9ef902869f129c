"""The web pages' OpenID Connect relying party: the authorization code flow with PKCE.

One sign-in, in order (OpenID Connect Core 1.0, section 3.1):

1. ``Flow.new``: draw ``state``, ``nonce`` and a PKCE ``code_verifier`` (kept by the browser
   in a signed cookie, see ``oidcpages``), and send the browser to the provider's
   authorization endpoint with the S256 ``code_challenge``;
2. on the way back, ``oidcpages`` checks ``state`` against the cookie;
3. ``identify`` exchanges the code (and the verifier) at the token endpoint, authenticating
   this client with its secret;
4. and checks the ID token: its signature against the provider's published keys (JWKS, an
   asymmetric algorithm the provider announces), ``iss`` equal to the configured issuer,
   ``aud`` naming this client (``azp`` too when there are several), ``exp``/``iat``/``nbf``
   against the server's clock with ``LEEWAY_S`` of skew, and ``nonce`` equal to this flow's.

The provider's metadata comes from its discovery document
(``ISSUER/.well-known/openid-configuration``, whose ``issuer`` must be the configured one
exactly), fetched on the first sign-in and again after ``METADATA_TTL_S``; its keys are
fetched again when an ID token names a key id they lack (the provider rotated its keys).
Authlib builds the requests and checks the claims; joserfc checks the signature.

Every refusal is a ``SignInRefused`` whose message says what went wrong, in words a member
can pass on to an admin.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from aitc.control.clock import Clock
from aitc.domain.lab import OidcSignIn
from aitc.errors import AitcError

LEEWAY_S = 60  # clock skew allowed between the provider and this server
METADATA_TTL_S = 3600.0
FLOW_S = 600.0  # how long a started sign-in may take at the provider
# Asymmetric algorithms only: an ID token must be signed with a key the provider publishes.
ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)


class SignInRefused(AitcError):
    """A sign-in through the provider did not succeed; ``status`` is the page's HTTP status
    (400 a stale or forged return, 401 an ID token that does not hold, 403 no such member,
    502 the provider unreachable or answering nonsense)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Flow:
    """One sign-in between the redirect and the return: kept in the browser's signed cookie."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    @classmethod
    def new(cls, next: str, now: float) -> Flow:
        draw = secrets.token_urlsafe
        return cls(draw(32), draw(32), draw(48), next, now)

    def to_json(self) -> dict[str, object]:
        return {
            "s": self.state,
            "n": self.nonce,
            "v": self.verifier,
            "x": self.next,
            "t": self.started,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Flow:
        return cls(str(data["s"]), str(data["n"]), str(data["v"]), str(data["x"]), float(data["t"]))


class RelyingParty:
    """This server as a client of the provider ``spec`` names (thread-safe)."""

    def __init__(
        self,
        spec: OidcSignIn,
        secret: str,
        clock: Clock,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self.spec, self._secret, self._clock = spec, secret, clock
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] = {}
        self._fetched = -METADATA_TTL_S
        self._keys: KeySet | None = None

    def close(self) -> None:
        self._http.close()

    def authorization_url(self, flow: Flow, redirect_uri: str) -> str:
        """Where to send the browser to start ``flow``."""
        return str(
            prepare_grant_uri(
                self._metadata_now()["authorization_endpoint"],
                self.spec.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=" ".join(self.spec.scopes),
                state=flow.state,
                nonce=flow.nonce,
                code_challenge=create_s256_code_challenge(flow.verifier),
                code_challenge_method="S256",
            )
        )

    def identify(self, *, code: str, flow: Flow, redirect_uri: str) -> dict[str, Any]:
        """The claims of the ID token the provider gives for ``code``, every check passed."""
        token = self._exchange(code, flow, redirect_uri)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("the provider answered without an ID token", 502)
        return self._verify(id_token, flow.nonce, token.get("access_token"))

    # -- the provider's metadata and keys

    def _metadata_now(self) -> dict[str, Any]:
        with self._lock:
            if self._clock.now() - self._fetched >= METADATA_TTL_S:
                self._metadata = self._discover()
                self._fetched, self._keys = self._clock.now(), None
            return self._metadata

    def _discover(self) -> dict[str, Any]:
        url = self.spec.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = self._get_json(url, "discovery document")
        if meta.get("issuer") != self.spec.issuer:
            raise SignInRefused(
                f"the provider's discovery document names the issuer {meta.get('issuer')!r}, "
                f"not the configured {self.spec.issuer!r} (sign_in.oidc.issuer)",
                502,
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise SignInRefused(f"the provider's discovery document has no {key}", 502)
        return meta

    def _key_set(self, refresh: bool) -> KeySet:
        meta = self._metadata_now()
        with self._lock:
            if self._keys is None or refresh:
                data = self._get_json(meta["jwks_uri"], "keys (JWKS)")
                try:
                    self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
                except (JoseError, ValueError, KeyError, TypeError) as exc:
                    raise SignInRefused(
                        f"the provider's keys (JWKS) are unusable: {exc}", 502
                    ) from None
            return self._keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInRefused(f"cannot read the provider's {what} at {url}: {exc}", 502) from None
        if not isinstance(data, dict):
            raise SignInRefused(f"the provider's {what} at {url} is not a JSON object", 502)
        return data

    # -- the code exchange and the ID token

    def _exchange(self, code: str, flow: Flow, redirect_uri: str) -> dict[str, Any]:
        meta = self._metadata_now()
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=flow.verifier
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        auth = ClientAuth(self.spec.client_id, self._secret, self._auth_method(meta))
        url, headers, body = auth.prepare("POST", meta["token_endpoint"], headers, body)
        try:
            response = self._http.post(url, content=body, headers=headers)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInRefused(f"cannot exchange the sign-in code at {url}: {exc}", 502) from None
        if response.status_code != 200 or not isinstance(data, dict) or "error" in data:
            error = data.get("error", response.status_code) if isinstance(data, dict) else ""
            more = data.get("error_description", "") if isinstance(data, dict) else ""
            raise SignInRefused(
                f"the provider refused the sign-in code: {error}" + (f" ({more})" if more else ""),
                502,
            )
        return data

    @staticmethod
    def _auth_method(meta: dict[str, Any]) -> str:
        """client_secret_basic unless the provider announces only client_secret_post."""
        offered = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" not in offered and "client_secret_post" in offered:
            return "client_secret_post"
        return "client_secret_basic"

    def _verify(self, id_token: str, nonce: str, access_token: Any) -> dict[str, Any]:
        meta = self._metadata_now()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ALGORITHMS]
        if not algorithms:
            raise SignInRefused(
                f"the provider signs ID tokens with {', '.join(map(str, offered))}; aitc "
                f"accepts only {', '.join(ALGORITHMS)}",
                502,
            )
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                token = jwt.decode(id_token, self._key_set(False), registry=registry)
            except InvalidKeyIdError:  # a new key: the provider rotated them
                token = jwt.decode(id_token, self._key_set(True), registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": self.spec.issuer},
                    "aud": {"essential": True, "value": self.spec.client_id},
                    "exp": {"essential": True},
                },
                {"nonce": nonce, "client_id": self.spec.client_id, "access_token": access_token},
            )
            claims.validate(now=int(self._clock.now()), leeway=LEEWAY_S)
        except JoseError as exc:
            raise SignInRefused(f"the ID token was refused: {_why(exc)}", 401) from None
        return dict(claims)


def _why(exc: JoseError) -> str:
    """A JOSE error in words."""
    if isinstance(exc, BadSignatureError):
        return "its signature does not match the provider's published keys"
    if isinstance(exc, InvalidKeyIdError):
        return "it is signed with a key the provider does not publish"
    if isinstance(exc, UnsupportedAlgorithmError):
        return "it is signed with an algorithm the provider does not announce"
    if isinstance(exc, ExpiredTokenError):
        return "it has expired (check that this server's clock is right)"
    if isinstance(exc, MissingClaimError):
        return f"it has no {exc.claim!r} claim"
    if isinstance(exc, ClaimError):
        return {
            "iss": "it was issued by another issuer than sign_in.oidc.issuer",
            "aud": "it was issued for another client than sign_in.oidc.client_id",
            "azp": "it was issued for another client than sign_in.oidc.client_id",
            "nonce": "it does not answer this sign-in (its nonce differs)",
            "iat": "it was issued in the future (check that this server's clock is right)",
            "nbf": "it is not valid yet (check that this server's clock is right)",
        }.get(exc.claim, f"its {exc.claim!r} claim is wrong")
    return f"it is not a valid signed token ({exc.error})"

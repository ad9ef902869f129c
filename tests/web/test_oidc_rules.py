"""The OpenID Connect sign-in's rules that need no browser: which member a claim names (on a
real SQLite store), and a provider whose discovery document names another issuer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from oidc_provider import Provider
from sqlalchemy import select

from aitc.control.clock import SystemClock
from aitc.control.store import Store, apply_lab
from aitc.control.store.models import MemberRow
from aitc.control.web.oidc import Flow, RelyingParty, SignInRefused
from aitc.control.web.oidcpages import find_member
from aitc.domain.cluster import Cluster
from aitc.domain.lab import Lab, OidcSignIn
from aitc.domain.org import Member, Organisation, OrgKind, Project, Role

SPEC = OidcSignIn("https://login.example.edu", "aitc", client_secret_env="X")
MEMBERS = (
    Member("alice", "Alice", "Alice@Uni.Example", "uni", Role.MEMBER, ("vision",)),
    Member("bob", "Bob", "bob@uni.example", "uni", Role.MEMBER, (), unix_user="bsmith"),
    Member("twin1", "Twin", "twins@uni.example", "uni", Role.MEMBER, ()),
    Member("twin2", "Twin", "twins@uni.example", "uni", Role.MEMBER, ()),
    Member("gone", "Gone", "gone@uni.example", "uni", Role.MEMBER, ()),
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    org = Organisation("uni", "University", OrgKind.RESEARCH, 1.0, (Project("vision", "V", "uni"),))
    s = Store.open(f"sqlite:///{tmp_path / 'aitc.db'}")
    with s.session() as session:
        apply_lab(session=session, lab=Lab("t", Cluster("c", ()), (org,), MEMBERS), now=0.0)
        session.get_one(MemberRow, "gone").enabled = False
    yield s
    s.close()


def who(store: Store, matches: str, claims: dict[str, object], claim: str = "sub") -> str:
    with store.session(readonly=True) as session:
        spec = replace(SPEC, claim=claim, matches=matches)
        return find_member(session=session, spec=spec, claims=claims)


def refusal(store: Store, matches: str, claims: dict[str, object], claim: str = "sub") -> str:
    with pytest.raises(SignInRefused) as caught:
        who(store, matches, claims, claim)
    assert caught.value.status == 403
    return str(caught.value)


def test_a_member_id_claim_names_exactly_that_member(store: Store) -> None:
    assert who(store, "member", {"sub": "alice"}) == "alice"
    assert "no member of this lab has the member id 'Alice'" in refusal(
        store, "member", {"sub": "Alice"}
    )


def test_a_unix_account_claim_is_the_members_account_or_else_their_id(store: Store) -> None:
    assert who(store, "unix_user", {"sub": "bsmith"}) == "bob"
    assert who(store, "unix_user", {"sub": "alice"}) == "alice"  # no unix_user: the id
    assert "Unix account 'bob'" in refusal(store, "unix_user", {"sub": "bob"})


def test_an_email_claim_matches_without_case_and_only_once(store: Store) -> None:
    assert who(store, "email", {"email": "alice@uni.example"}, "email") == "alice"
    twins = {"email": "twins@uni.example"}
    assert "several members of this lab have the e-mail address" in refusal(
        store, "email", twins, "email"
    )
    unverified = {"email": "alice@uni.example", "email_verified": False}
    assert "has not verified the e-mail address" in refusal(store, "email", unverified, "email")


def test_a_disabled_member_or_a_missing_claim_signs_nobody_in(store: Store) -> None:
    assert "no member of this lab has the member id 'gone'" in refusal(
        store, "member", {"sub": "gone"}
    )
    assert "has no 'preferred_username' claim" in refusal(
        store, "member", {"sub": "alice"}, "preferred_username"
    )


def test_a_discovery_document_naming_another_issuer_is_refused() -> None:
    provider = Provider({})
    provider.start()
    try:
        spec = replace(SPEC, issuer=provider.issuer + "/")  # one character off
        party = RelyingParty(spec, "secret", SystemClock())
        with pytest.raises(SignInRefused) as caught:
            party.authorization_url(Flow.new("/", 0.0), "http://127.0.0.1/cb")
        party.close()
    finally:
        provider.stop()
    assert caught.value.status == 502
    assert str(caught.value) == (
        f"the provider's discovery document names the issuer {provider.issuer!r}, not the "
        f"configured {provider.issuer + '/'!r} (sign_in.oidc.issuer)"
    )


LAB = """\
name: sign-in-lab
cluster: {reference_architecture: dgx-h100-superpod, sus: 1}
organisations:
  - {id: uni, name: University, kind: research, share: 1, projects: [{id: vision, name: V}]}
sign_in:
  oidc: {issuer: "https://login.example.edu", client_id: aitc, %s}
"""


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (
            "client_secret_file: missing",
            "sign_in.oidc.client_secret_file: cannot read {dir}/missing",
        ),
        (
            "client_secret_env: AITC_TEST_NO_SUCH_SECRET",
            "sign_in.oidc.client_secret_env: the "
            "environment variable AITC_TEST_NO_SUCH_SECRET is not set or empty",
        ),
    ],
)
def test_aitc_serve_stops_before_touching_the_store_when_the_secret_is_missing(
    tmp_path: Path, secret: str, message: str
) -> None:
    (tmp_path / "lab.yaml").write_text(LAB % secret)
    command = [sys.executable, "-c", "from aitc.cli.main import app; app()", "serve"]
    command += ["--lab", str(tmp_path / "lab.yaml"), "--state-dir", str(tmp_path / "state")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AITC_")}
    done = subprocess.run(
        command + ["--virtual-gpus", "1"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    first = done.stderr.splitlines()[0]
    assert first.startswith("aitc") and message.format(dir=tmp_path) in first, done.stderr
    with Store.open(f"sqlite:///{tmp_path / 'state' / 'aitc.db'}").session() as session:
        assert (
            session.get(MemberRow, "admin") is None
            and session.scalars(select(MemberRow)).all() == []
        )


def test_over_tls_the_flow_cookie_is_secure_httponly_lax_and_only_for_the_callback(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from aitc.control.api import Settings, create_app

    provider = Provider({})
    provider.start()
    try:
        spec = replace(SPEC, issuer=provider.issuer, label="Uni")
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'aitc.db'}", oidc=spec)
        with TestClient(create_app(settings), base_url="https://aitc.example.edu") as client:
            assert 'href="/signin/oidc?next=%2Fqueue"' in client.get("/signin?next=/queue").text
            answer = client.get("/signin/oidc?next=/queue", follow_redirects=False)
    finally:
        provider.stop()
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(provider.issuer + "/authorize?")
    assert (
        "redirect_uri=https%3A%2F%2Faitc.example.edu%2Fsignin%2Foidc%2Fcallback"
        in (answer.headers["location"])
    )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("aitc_oidc=")
    assert {"HttpOnly", "Max-Age=600", "Path=/signin/oidc", "SameSite=lax", "Secure"} <= {
        part.strip() for part in cookie.split(";")
    }

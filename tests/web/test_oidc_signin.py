"""Signing in through an OpenID Connect provider, in Chromium, against a real ``aitc serve``.

The provider is a real one run on 127.0.0.1 by the test (``oidc_provider``: Authlib's server
components, RS256 ID tokens, its own JWKS and discovery document, PKCE required). The server
reads it from lab.yaml ``sign_in.oidc`` with its client secret in a file, as an operator
would configure it. The browser goes the whole way: sign-in page, provider's login page,
back to the dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_check import axe_violations
from oidc_provider import FAULTS, Provider
from security_lab import ensure_user
from server_proc import LAB, ServerProcess

CLIENT, SECRET, LABEL = "aitc-web", "s3cret-of-the-dashboard", "Test University"
PEOPLE = {
    "bklein": {"preferred_username": "bklein", "email": "beatriz.klein@ai.example.edu"},
    "randersen": {"preferred_username": "randersen", "name": "Ravi Andersen"},
    "stranger": {"preferred_username": "stranger"},
}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    idp = Provider(PEOPLE)
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def oidc_server(base: Path, provider: Provider) -> Iterator[ServerProcess]:
    """``aitc serve`` with the example lab plus a ``sign_in.oidc`` section for ``provider``."""
    for account in ("bklein", "randersen"):
        ensure_user(account)
    folder = base / "oidc"
    folder.mkdir()
    (folder / "oidc-secret").write_text(SECRET + "\n")
    text = LAB.read_text().replace("roster: members.csv", f"roster: {LAB.parent / 'members.csv'}")
    lab = folder / "lab.yaml"
    lab.write_text(
        text + f"sign_in:\n  oidc:\n    issuer: {provider.issuer}\n    client_id: {CLIENT}\n"
        f"    client_secret_file: oidc-secret\n    label: {LABEL}\n"
    )
    server = ServerProcess(folder / "state", lab=lab)
    server.start()
    provider.register(CLIENT, SECRET, f"{server.url}/signin/oidc/callback")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def through_provider(page: Any, server: ServerProcess, provider: Provider, user: str) -> Any:
    """Start at ``/queue``, sign in at the provider as ``user``; the answer of the return."""
    page.goto(server.url + "/queue")
    assert "/signin?next=/queue" in page.url
    page.get_by_role("link", name=f"Sign in with {LABEL}").click()
    page.wait_for_url(provider.issuer + "/authorize?**")
    page.get_by_label("User name").fill(user)
    with page.expect_navigation(url=re.compile(re.escape(server.url) + ".*")) as answer:
        page.get_by_role("button", name="Continue").click()
    return answer.value


def signed_in_as(page: Any, server: ServerProcess) -> str | None:
    page.goto(server.url + "/")
    who = page.locator(".who")
    return str(who.inner_text()) if "/signin" not in page.url else None


def test_a_member_signs_in_through_the_provider_and_lands_where_they_were_going(
    oidc_server: ServerProcess, provider: Provider, page: Any, shots: Path
) -> None:
    page.goto(oidc_server.url + "/signin")
    page.screenshot(path=shots / "signin-oidc.png")
    assert axe_violations(page) == []
    answer = through_provider(page, oidc_server, provider, "bklein")
    assert answer.status == 200 and page.url == oidc_server.url + "/queue"
    assert page.locator(".who").inner_text() == "bklein (member)"
    issued = provider.issued[-1]  # what the provider was asked for: PKCE S256 and a nonce
    assert issued.code_challenge_method == "S256" and issued.nonce
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "aitc_oidc" not in cookies  # a return from the provider is used once
    session = cookies["aitc_session"]
    assert (session["httpOnly"], session["sameSite"], session["secure"]) == (True, "Lax", False)


def test_an_unknown_person_is_refused_with_a_page_saying_so(
    oidc_server: ServerProcess, provider: Provider, page: Any, shots: Path
) -> None:
    answer = through_provider(page, oidc_server, provider, "stranger")
    assert answer.status == 403
    alert = page.get_by_role("alert")
    assert alert.inner_text() == (
        "Sign-in refused: no member of this lab has the member id 'stranger'; ask an admin "
        "to add you to the lab (lab.yaml)"
    )
    page.screenshot(path=shots / "signin-refused.png")
    assert axe_violations(page) == []
    assert signed_in_as(page, oidc_server) is None
    with oidc_server.client() as admin:  # nobody was created
        assert "stranger" not in {m["id"] for m in admin.get("/members").json()["data"]}


REFUSALS = {
    "expired": "it has expired",
    "tampered": "its signature does not match the provider's published keys",
    "foreign-key": "its signature does not match the provider's published keys",
    "audience": "it was issued for another client than sign_in.oidc.client_id",
    "issuer": "it was issued by another issuer than sign_in.oidc.issuer",
    "nonce": "it does not answer this sign-in (its nonce differs)",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_an_id_token_that_does_not_hold_is_refused(
    oidc_server: ServerProcess, provider: Provider, page: Any, fault: str
) -> None:
    provider.fault = fault
    try:
        answer = through_provider(page, oidc_server, provider, "bklein")
    finally:
        provider.fault = None
    assert answer.status == 401
    assert (
        page.get_by_role("alert")
        .inner_text()
        .startswith(f"Sign-in refused: the ID token was refused: {REFUSALS[fault]}")
    )
    assert signed_in_as(page, oidc_server) is None


def test_a_return_this_browser_did_not_start_is_refused(
    oidc_server: ServerProcess, provider: Provider, page: Any
) -> None:
    callback = oidc_server.url + "/signin/oidc/callback"
    answer = page.goto(f"{callback}?code=stolen&state=guessed")
    assert answer.status == 400
    assert "was not started in this browser" in page.get_by_role("alert").inner_text()
    page.goto(oidc_server.url + "/signin")
    page.get_by_role("link", name=f"Sign in with {LABEL}").click()
    page.wait_for_url(provider.issuer + "/authorize?**")
    before = provider.token_requests
    answer = page.goto(f"{callback}?code=stolen&state=guessed")
    assert answer.status == 400
    assert "does not belong to the sign-in this browser started" in page.content()
    assert provider.token_requests == before  # no code was sent to the provider
    assert signed_in_as(page, oidc_server) is None


def test_a_member_from_the_provider_sees_exactly_what_their_token_shows(
    oidc_server: ServerProcess, provider: Provider, page: Any
) -> None:
    apis = {member: member_api(oidc_server, member) for member in ("bklein", "randersen")}
    jobs = {}
    for member, project in (("bklein", "vision"), ("randersen", "medical-imaging")):
        body = {"command": ["true"], "project": project, "name": f"{member}-held", "hold": True}
        answer = apis[member].post("/jobs", json=body)
        assert answer.status_code == 201, answer.text
        jobs[member] = answer.json()["id"]
    through_provider(page, oidc_server, provider, "randersen")
    assert page.locator(".who").inner_text() == "randersen (partner)"
    page.goto(oidc_server.url + "/queue?state=all")
    shown = set(re.findall(r"\b\w+-held\b", page.locator("#live").inner_text()))
    listed = apis["randersen"].get("/jobs", params={"state": "pending"}).json()["data"]
    assert shown == {j["name"] for j in listed} == {"randersen-held"}
    assert page.goto(f"{oidc_server.url}/jobs/{jobs['bklein']}").status == 404
    assert page.goto(f"{oidc_server.url}/jobs/{jobs['randersen']}").status == 200
    with oidc_server.client() as admin:
        assert admin.post("/members/randersen/disable", json={}).status_code == 200
        try:
            assert signed_in_as(page, oidc_server) is None  # disabling signs the browser out
        finally:
            assert admin.post("/members/randersen/enable").status_code == 200


def member_api(server: ServerProcess, member: str) -> httpx.Client:
    """An API client with a new token of ``member``'s (made by the admin)."""
    with server.client() as admin:
        made = admin.post("/tokens", json={"member": member, "name": "oidc tests"})
        assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    return httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=30)

"""Tokens expire (default 90 days), record when they were last used without a write per
request, and the last admin token cannot be revoked."""

from __future__ import annotations

import time

from conftest import Api
from sqlalchemy import select

from aitc.control.store import ApiTokenRow
from aitc.control.store.tokens import hash_token

DAY = 86400.0


def _create(api: Api, member: str, **extra: object) -> dict[str, object]:
    body = {"member": member, "name": "laptop", **extra}
    r = api.client.post("/api/v1/tokens", json=body, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _row(api: Api, secret: str) -> ApiTokenRow:
    with api.store.session() as s:
        row = s.scalars(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(secret)))
        return row.one()


def test_a_new_token_expires_after_90_days_by_default(api: Api) -> None:
    secret = str(_create(api, "alice")["token"])
    row = _row(api, secret)
    assert row.expires_at == api.clock.now() + 90 * DAY


def test_an_expired_token_is_refused_saying_it_expired(api: Api) -> None:
    created = _create(api, "alice", expires_in=60.0)
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/api/v1/me", headers=headers).status_code == 200
    api.clock.advance(61)
    r = api.client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert "aitc token create" in r.json()["detail"]


def test_expires_in_must_be_a_positive_number(api: Api) -> None:
    for bad in (0, -5, "60"):
        r = api.client.post(
            "/api/v1/tokens",
            json={"member": "alice", "expires_in": bad},
            headers=api.auth("admin"),
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "expires_in"


def test_tokens_without_an_expiry_keep_working(api: Api) -> None:
    """Tokens made before expiry existed (the bootstrap admin's of scripts/up) have none."""
    with api.store.session() as s:
        for row in s.scalars(select(ApiTokenRow).where(ApiTokenRow.member_id == "admin")):
            row.expires_at = None
    api.clock.advance(400 * DAY)
    assert api.client.get("/api/v1/me", headers=api.auth("admin")).status_code == 200


def _last_used(api: Api, secret: str, want: float) -> float | None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # written by the group-commit thread
        value = _row(api, secret).last_used_at
        if value == want:
            return value
        time.sleep(0.02)
    return _row(api, secret).last_used_at


def test_last_used_is_written_at_most_once_a_minute(api: Api) -> None:
    secret = str(_create(api, "bob")["token"])
    headers = {"Authorization": f"Bearer {secret}"}
    first = api.clock.now()
    api.client.get("/api/v1/me", headers=headers)
    assert _last_used(api, secret, first) == first
    api.clock.advance(30)
    for _ in range(5):
        api.client.get("/api/v1/jobs", headers=headers)
    time.sleep(0.2)
    assert _row(api, secret).last_used_at == first  # no write within the minute
    api.clock.advance(31)
    api.client.get("/api/v1/me", headers=headers)
    assert _last_used(api, secret, first + 61) == first + 61
    listed = api.client.get("/api/v1/tokens", headers=api.auth("admin")).json()["data"]
    assert any(t["last_used_at"] for t in listed)


def test_the_last_admin_token_cannot_be_revoked(api: Api) -> None:
    tokens = api.client.get("/api/v1/tokens", headers=api.auth("admin")).json()["data"]
    bootstrap = next(t for t in tokens if t["member"] == "admin")
    r = api.client.delete(f"/api/v1/tokens/{bootstrap['id']}", headers=api.auth("admin"))
    assert r.status_code == 409 and "last live token" in r.json()["detail"]
    spare = _create(api, "admin")
    r = api.client.delete(f"/api/v1/tokens/{bootstrap['id']}", headers=api.auth("admin"))
    assert r.status_code == 200
    spare_headers = {"Authorization": f"Bearer {spare['token']}"}
    r = api.client.delete(f"/api/v1/tokens/{spare['id']}", headers=spare_headers)
    assert r.status_code == 409

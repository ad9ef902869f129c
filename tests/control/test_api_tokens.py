"""Tokens: shown once, stored only as a hash, never logged, revocable; admins manage them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import Api
from sqlalchemy import inspect, select, text

from aitc.control.store import ApiTokenRow
from aitc.control.store.tokens import hash_token


def _create(api: Api, member: str) -> dict[str, object]:
    r = api.client.post(
        "/api/v1/tokens", json={"member": member, "name": "laptop"}, headers=api.auth("admin")
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_new_token_works_and_is_listed_without_its_secret(api: Api) -> None:
    created = _create(api, "alice")
    secret = str(created["token"])
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["id"] == "alice"
    listed = api.client.get("/api/v1/tokens", headers=api.auth("admin"))
    assert secret not in listed.text and created["prefix"] in listed.text


def test_a_revoked_token_stops_working_at_once(api: Api) -> None:
    created = _create(api, "bob")
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/api/v1/me", headers=headers).status_code == 200
    r = api.client.delete(f"/api/v1/tokens/{created['id']}", headers=api.auth("admin"))
    assert r.json()["revoked_at"] is not None
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401


def test_only_admins_create_tokens(api: Api) -> None:
    r = api.client.post("/api/v1/tokens", json={"member": "alice"}, headers=api.auth("alice"))
    assert r.status_code == 403


def test_a_disabled_member_cannot_use_their_token(api: Api) -> None:
    from aitc.control.store import MemberRow

    with api.store.session() as s:
        s.get_one(MemberRow, "alice").enabled = False
    assert api.client.get("/api/v1/me", headers=api.auth("alice")).status_code == 401


def _all_stored_text(api: Api) -> str:
    """Every value of every table, as text (and the raw SQLite files, WAL included)."""
    url = api.store.engine.url
    if url.get_backend_name() == "sqlite":
        files = Path(str(url.database)).parent.glob("aitc.db*")
        return "".join(f.read_bytes().decode("latin-1") for f in files)
    out = []
    with api.store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            out += [repr(row) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


def test_secrets_are_never_stored_or_logged_in_clear(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    caplog.set_level(logging.DEBUG)
    try:
        secret = str(_create(api, "alice")["token"])
        headers = {"Authorization": f"Bearer {secret}"}
        api.client.post("/api/v1/jobs", json={"command": ["true"]}, headers=headers)
        api.client.get("/api/v1/jobs", headers=headers)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    with api.store.session() as s:
        hashes = set(s.scalars(select(ApiTokenRow.token_hash)))
    assert hash_token(secret) in hashes
    assert "sqlalchemy" in caplog.text  # the SQL log was captured, so the check below means it
    for s in [secret, *api.tokens.values()]:
        assert s not in caplog.text
        assert s[12:] not in _all_stored_text(api)


def test_a_token_owner_is_remembered_for_the_cache_time_only(api: Api) -> None:
    from aitc.control.store import MemberRow

    assert api.client.get("/api/v1/me", headers=api.auth("bob")).status_code == 200
    with api.store.session() as s:  # as `aitc lab apply` would, from another process
        s.get_one(MemberRow, "bob").enabled = False
    assert api.client.get("/api/v1/me", headers=api.auth("bob")).status_code == 200
    api.clock.advance(api.app.state.settings.auth_cache_s)
    assert api.client.get("/api/v1/me", headers=api.auth("bob")).status_code == 401

"""``POST /api/v1/jobs`` answers alike on its fast path (a remembered token, a body that
validates) and on FastAPI's general path, and concurrent requests that share a group commit
each get their own job, or one job per Idempotency-Key."""

from __future__ import annotations

import asyncio
import json

import httpx
from conftest import Api
from sqlalchemy import func, select

from aitc.control.store import JobRow

JOB = {"command": ["python", "train.py"], "gpus": 1, "time_limit": 60}
GENERAL = "application/json; charset=utf-8"  # not the fast path's exact content type


def _post(
    api: Api, content_type: str, key: str | None = None, body: str | None = None
) -> httpx.Response:
    headers = {**api.auth("alice"), "Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/v1/jobs", content=body or json.dumps(JOB), headers=headers)


def _stored(api: Api) -> int:
    with api.store.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(JobRow)) or 0)


def test_fast_and_general_paths_answer_alike(api: Api) -> None:
    general, fast = _post(api, GENERAL), _post(api, "application/json")
    assert general.status_code == fast.status_code == 201
    one, two = general.json(), fast.json()
    assert two["id"] == one["id"] + 1
    assert {k: v for k, v in one.items() if k != "id"} == {
        k: v for k, v in two.items() if k != "id"
    }
    assert api.wakes == 2


def test_a_retry_on_the_other_path_returns_the_same_job(api: Api) -> None:
    first = _post(api, GENERAL, key="k1")
    retry = _post(api, "application/json", key="k1")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _stored(api) == 1


def test_bad_input_on_a_remembered_token_is_refused_naming_the_field(api: Api) -> None:
    _post(api, "application/json")  # the token is remembered from here on
    bad_body = _post(api, "application/json", body='{"command": [], "gpus": 1}')
    bad_key = _post(api, "application/json", key="k" * 201)
    assert bad_body.status_code == bad_key.status_code == 422
    assert bad_body.json()["detail"][0]["loc"] == ["body", "command"]
    assert bad_key.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert _stored(api) == 1


def test_concurrent_submissions_each_get_their_own_job(api: Api) -> None:
    statuses, ids = asyncio.run(_concurrently(api, [None] * 24))
    assert statuses == [201] * 24
    assert len(set(ids)) == 24 and _stored(api) == 24


def test_concurrent_retries_of_one_key_store_one_job(api: Api) -> None:
    statuses, ids = asyncio.run(_concurrently(api, ["same"] * 12))
    assert sorted(statuses) == [200] * 11 + [201]
    assert len(set(ids)) == 1 and _stored(api) == 1


async def _concurrently(api: Api, keys: list[str | None]) -> tuple[list[int], list[int]]:
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

        async def one(key: str | None) -> httpx.Response:
            headers = api.auth("alice") | ({"Idempotency-Key": key} if key else {})
            return await http.post("/api/v1/jobs", json=JOB, headers=headers)

        answers = await asyncio.gather(*(one(k) for k in keys))
    return [r.status_code for r in answers], [r.json()["id"] for r in answers]

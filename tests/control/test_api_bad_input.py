"""Bad submissions are refused with a 4xx that names the field, and change nothing stored."""

from __future__ import annotations

import json

import pytest
from conftest import Api
from sqlalchemy import func, select

from aitc.control.store import JobEventRow, JobRow

# (case, JSON body or raw bytes, member, expected status, field named in detail[0].loc)
CASES: list[tuple[str, object, str, int, str | None]] = [
    ("negative gpus", {"gpus": -1}, "alice", 422, "gpus"),
    ("more gpus than the cluster", {"gpus": 17}, "alice", 422, "gpus"),
    ("more gpus per node than a node has", {"gpus": 18, "nodes": 2}, "alice", 422, "gpus"),
    ("more nodes than the cluster", {"gpus": 6, "nodes": 3}, "alice", 422, "nodes"),
    ("gpus not divisible by nodes", {"gpus": 9, "nodes": 2}, "alice", 422, "gpus"),
    ("unknown project", {"project": "nope"}, "alice", 422, "project"),
    ("project of another group", {"project": "health"}, "alice", 422, "project"),
    ("unknown MIG profile", {"mig": "9g.99gb"}, "alice", 422, "mig"),
    ("MIG profile of another GPU", {"mig": "1g.5gb"}, "alice", 422, "mig"),
    ("both gpus and MIG", {"gpus": 2, "mig": "1g.10gb"}, "alice", 422, "gpus"),
    ("unknown GPU model", {"gpu_model": "B200-180GB"}, "alice", 422, "gpu_model"),
    ("1 MB command line", {"command": ["x" * 1_000_000]}, "alice", 422, "command"),
    ("empty command", {"command": []}, "alice", 422, "command"),
    ("NUL in command", {"command": ["a\x00b"]}, "alice", 422, "command"),
    ("lone surrogate", b'{"command": ["\\ud800"]}', "alice", 422, "command"),
    ("non-UTF-8 bytes", b'{"command": ["\xff\xfe"]}', "alice", 422, None),
    ("negative time limit", {"time_limit": -5}, "alice", 422, "time_limit"),
    ("bad env name", {"env": {"1BAD": "x"}}, "alice", 422, "env"),
    ("relative workdir", {"workdir": "tmp"}, "alice", 422, "workdir"),
    ("unknown priority", {"priority": "urgent"}, "alice", 422, "priority"),
    ("huge integer", {"gpus": 10**30}, "alice", 422, "gpus"),
    ("unknown field", {"colour": "red"}, "alice", 422, "colour"),
    ("not JSON", b"command=ls", "alice", 422, None),
    ("3 MB body", {"command": ["y" * 3_000_000]}, "alice", 413, None),
]


def _count(api: Api) -> tuple[int, int]:
    with api.store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(JobRow)) or 0,
            s.scalar(select(func.count()).select_from(JobEventRow)) or 0,
        )


@pytest.mark.parametrize(
    ("case", "body", "member", "status", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_submission_is_refused_and_stores_nothing(
    api: Api, case: str, body: object, member: str, status: int, field: str | None
) -> None:
    before = _count(api)
    extra = body if isinstance(body, dict) else {}
    raw = body if isinstance(body, bytes) else json.dumps({"command": ["true"], **extra}).encode()
    r = api.client.post(
        "/api/v1/jobs",
        content=raw,
        headers={**api.auth(member), "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text[:300]
    if field is not None:
        loc = r.json()["detail"][0]["loc"]
        assert loc[:2] == ["body", field], loc
    assert _count(api) == before


def test_a_multi_node_job_within_the_cluster_is_accepted(api: Api) -> None:
    assert api.submit("alice", gpus=16, nodes=2)["nodes"] == 2


def test_a_mig_job_of_the_clusters_gpus_is_accepted(api: Api) -> None:
    job = api.submit("alice", mig="1g.10gb")
    assert (job["gpus"], job["mig"]) == (0, "1g.10gb")


@pytest.mark.parametrize(
    "params", [{"project": "a\x00b"}, {"limit": 0}, {"state": "bogus"}, {"offset": 2**70}]
)
def test_bad_query_parameters_are_422(api: Api, params: dict[str, object]) -> None:
    r = api.client.get("/api/v1/jobs", params=params, headers=api.auth("alice"))
    assert r.status_code == 422


@pytest.mark.parametrize("job_id", ["0", "2147483648", "99999999999999999999999", "x"])
def test_job_numbers_out_of_range_are_refused(api: Api, job_id: str) -> None:
    r = api.client.get(f"/api/v1/jobs/{job_id}", headers=api.auth("alice"))
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/organisations", {"id": "o", "name": "a\x00b", "kind": "research"}, "name"),
        ("/api/v1/organisations", {"id": "o", "name": "\ud800", "kind": "research"}, "name"),
        ("/api/v1/projects", {"id": "p", "name": "P", "organisation": "nope"}, "organisation"),
        (
            "/api/v1/members",
            {"id": "m", "name": "M", "organisation": "uni", "projects": ["nope"]},
            "projects",
        ),
        ("/api/v1/tokens", {"member": "nobody"}, None),
    ],
)
def test_bad_admin_requests_are_refused_and_store_nothing(
    api: Api, path: str, body: dict[str, object], field: str | None
) -> None:
    before = _stored(api, path)
    headers = {**api.auth("admin"), "Content-Type": "application/json"}
    r = api.client.post(path, content=json.dumps(body), headers=headers)
    assert 400 <= r.status_code < 500, r.text
    if field is not None:
        assert r.json()["detail"][0]["loc"][:2] == ["body", field]
    assert _stored(api, path) == before


def _stored(api: Api, path: str) -> list[dict[str, object]]:
    """What a listing shows, less when each token was last used (reading the list uses one)."""
    rows = api.client.get(path, headers=api.auth("admin")).json()["data"]
    return [{k: v for k, v in row.items() if k != "last_used_at"} for row in rows]

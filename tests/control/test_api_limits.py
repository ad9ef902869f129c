"""Per-member limits from lab.yaml: a submission over a limit is answered 429 naming the limit
and its value (with Retry-After when waiting helps); other members are unaffected."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import Api
from server_proc import LAB

from aitc.control.store import MemberRow
from aitc.control.store.directory import put_member
from aitc.domain.org import Limits, Role
from aitc.errors import ConfigError
from aitc.plan.lab import load_lab


def _limit(api: Api, member: str, **limits: int) -> None:
    with api.store.session() as s:
        s.get_one(MemberRow, member).limits = limits


def _post(api: Api, member: str, key: str | None = None, **body: object):  # type: ignore[no-untyped-def]
    body.setdefault("command", ["true"])
    headers = api.auth(member) | ({"Idempotency-Key": key} if key else {})
    return api.client.post("/api/v1/jobs", json=body, headers=headers)


def test_a_submission_over_max_pending_jobs_is_429_naming_the_limit(api: Api) -> None:
    _limit(api, "alice", max_pending_jobs=2)
    assert [_post(api, "alice").status_code for _ in range(2)] == [201, 201]
    r = _post(api, "alice")
    assert r.status_code == 429
    assert "max_pending_jobs=2" in r.json()["detail"] and r.json()["limit"] == "max_pending_jobs"
    assert int(r.headers["Retry-After"]) >= 1
    assert _post(api, "bob").status_code == 201  # others are unaffected


def test_a_job_that_left_the_queue_makes_room(api: Api) -> None:
    _limit(api, "alice", max_pending_jobs=1)
    first = _post(api, "alice").json()
    assert _post(api, "alice").status_code == 429
    api.client.post(f"/api/v1/jobs/{first['id']}/cancel", headers=api.auth("alice"))
    assert _post(api, "alice").status_code == 201


def test_the_submission_rate_is_per_minute_with_retry_after(api: Api) -> None:
    _limit(api, "alice", submissions_per_minute=3)
    assert [_post(api, "alice").status_code for _ in range(3)] == [201] * 3
    api.clock.advance(20)
    r = _post(api, "alice")
    assert r.status_code == 429 and "submissions_per_minute=3" in r.json()["detail"]
    assert 39 <= int(r.headers["Retry-After"]) <= 41  # the oldest leaves the window in 40 s
    api.clock.advance(41)
    assert _post(api, "alice").status_code == 201


def test_a_retry_of_a_stored_job_is_answered_even_at_the_limit(api: Api) -> None:
    _limit(api, "alice", submissions_per_minute=1)
    assert _post(api, "alice", key="k1").status_code == 201
    again = _post(api, "alice", key="k1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert _post(api, "alice", key="k2").status_code == 429


def test_a_job_larger_than_max_running_gpus_is_refused_without_retry_after(api: Api) -> None:
    _limit(api, "alice", max_running_gpus=4)
    r = _post(api, "alice", gpus=8)
    assert r.status_code == 429 and "max_running_gpus=4" in r.json()["detail"]
    assert "gpus" in r.json()["detail"] and "Retry-After" not in r.headers
    assert _post(api, "alice", gpus=4).status_code == 201


def test_members_without_limits_submit_freely(api: Api) -> None:
    assert [_post(api, "bob").status_code for _ in range(20)] == [201] * 20


def test_limits_are_listed_with_the_member(api: Api) -> None:
    _limit(api, "alice", max_pending_jobs=5)
    members = api.client.get("/api/v1/members", headers=api.auth("admin")).json()["data"]
    alice = next(m for m in members if m["id"] == "alice")
    assert alice["limits"] == {
        "max_pending_jobs": 5,
        "max_running_gpus": None,
        "submissions_per_minute": None,
    }


def _lab_with_limits(tmp_path: Path, limits: dict[str, object], entry: dict[str, object]) -> Path:
    data = yaml.safe_load(LAB.read_text())
    data["limits"] = limits
    data["members"] = [entry]
    shutil.copy(LAB.parent / data["roster"], tmp_path / data["roster"])
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_lab_limits_apply_defaults_then_the_role_then_the_member_entry(
    api: Api, tmp_path: Path
) -> None:
    org = yaml.safe_load(LAB.read_text())["organisations"][0]["id"]
    entry = {
        "id": "zed",
        "name": "Zed",
        "email": "zed@example.org",
        "organisation": org,
        "role": "learner",
        "limits": {"submissions_per_minute": 30},
    }
    limits = {
        "max_pending_jobs": 100,
        "submissions_per_minute": 60,
        "roles": {"learner": {"max_pending_jobs": 5, "max_running_gpus": 1}},
    }
    lab = load_lab(_lab_with_limits(tmp_path, limits, entry))
    zed = next(m for m in lab.members if m.id == "zed")
    assert zed.limits == Limits(max_pending_jobs=5, max_running_gpus=1, submissions_per_minute=30)
    others = [m for m in lab.members if m.role is Role.MEMBER]
    assert others[0].limits == Limits(max_pending_jobs=100, submissions_per_minute=60)
    assert lab.limits == Limits(max_pending_jobs=100, submissions_per_minute=60)
    zed = dataclasses.replace(zed, org="uni")  # an organisation of the seeded store
    with api.store.session() as s:  # the lab -> store sync keeps the effective limits
        put_member(session=s, member=zed)
        assert s.get_one(MemberRow, "zed").limits == {
            "max_pending_jobs": 5,
            "max_running_gpus": 1,
            "submissions_per_minute": 30,
        }
        assert put_member(session=s, member=zed) == []  # and a second sync changes nothing


def test_a_negative_or_misspelt_limit_is_a_lab_error(tmp_path: Path) -> None:
    data = yaml.safe_load(LAB.read_text())
    org = data["organisations"][0]["id"]
    entry = {"id": "zed", "name": "Z", "email": "z@example.org", "organisation": org}
    entry["role"] = "member"
    with pytest.raises(ConfigError) as caught:
        load_lab(_lab_with_limits(tmp_path, {"max_pending_jobs": -1}, entry))
    assert caught.value.field is not None and "max_pending_jobs" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_lab(_lab_with_limits(tmp_path, {"max_pendings": 3}, entry))
    assert "max_pendings" in str(caught.value)

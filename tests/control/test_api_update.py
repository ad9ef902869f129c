"""``PATCH /jobs/{id}`` changes a pending job as ``scontrol update`` does: only the fields
given, each checked as at submission (one admission rule for the shape), all or nothing, each
change noted in the job's history; a job that is not pending is refused with 409 (but for a
running job's time limit: ``test_api_running_limit.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api

from aitc.control.store import JobRow, MemberRow


def _patch(api: Api, member: str, job_id: object, **body: object) -> Any:
    return api.client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=api.auth(member))


def _causes(api: Api, job_id: object) -> list[str]:
    r = api.client.get(f"/api/v1/jobs/{job_id}/events", headers=api.auth("admin"))
    return [e["cause"] for e in r.json()["data"]]


def _field(r: Any) -> str:
    assert r.status_code == 422, r.text
    return str(r.json()["detail"][0]["loc"][-1])


def test_each_field_changes_and_is_noted_in_the_history(api: Api) -> None:
    job = api.submit("alice", time_limit=7200.0, name="a", gpus=2)
    r = _patch(api, "alice", job["id"], time_limit=3600.0, name="b", gpus=4, nodes=2)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["time_limit"], out["name"], out["gpus"], out["nodes"]) == (3600.0, "b", 4, 2)
    assert _causes(api, job["id"])[1:] == [
        "time limit 02:00:00 -> 01:00:00 by alice",
        "name 'a' -> 'b' by alice",
        "gpus 2 -> 4 by alice",
        "nodes any -> 2 by alice",
    ]
    with api.store.session() as s:
        row = s.get_one(JobRow, job["id"])
        assert (row.spec["time_limit"], row.spec["gpus"], row.spec["name"]) == (3600.0, 4, "b")


def test_an_unchanged_value_writes_no_note(api: Api) -> None:
    job = api.submit("alice", time_limit=600.0)
    assert _patch(api, "alice", job["id"], time_limit=600.0).status_code == 200
    assert _causes(api, job["id"]) == ["submitted"]


def test_gpu_model_dependency_and_project_change_with_submissions_checks(api: Api) -> None:
    first = api.submit("admin", project="vision")
    job = api.submit("admin", project="vision")
    r = _patch(
        api,
        "admin",
        job["id"],
        gpu_model="H100-80GB",
        dependency=f"afterok:{first['id']}",
        project="health",
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["project"] == "health" and out["gpu_model"] == "H100-80GB"
    with api.store.session() as s:
        row = s.get_one(JobRow, job["id"])
        assert (row.dependency, row.org_id) == (f"afterok:{first['id']}", "acme")
    cleared = _patch(api, "admin", job["id"], dependency="", gpu_model="")
    assert cleared.status_code == 200 and cleared.json()["gpu_model"] is None
    assert _causes(api, job["id"])[-2:] == [
        "gpu model H100-80GB -> any by admin",
        f"dependency afterok:{first['id']} -> none by admin",
    ]
    denied = _patch(api, "pia", api.submit("pia", project="health")["id"], project="nlp")
    assert _field(denied) == "project"


def test_a_shape_refused_at_submission_is_refused_at_update_for_the_same_reason(
    api: Api,
) -> None:
    refused = api.client.post(
        "/api/v1/jobs", json={"command": ["t"], "gpus": 9, "nodes": 1}, headers=api.auth("alice")
    )
    job = api.submit("alice", gpus=1)
    r = _patch(api, "alice", job["id"], gpus=9, nodes=1)
    assert refused.status_code == r.status_code == 422
    assert refused.json()["detail"] == r.json()["detail"]
    model = _patch(api, "alice", job["id"], gpu_model="B200-180GB")
    assert _field(model) == "gpu_model"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gpus": 3, "nodes": 2}, "gpus"),
        ({"time_limit": 0.5}, "time_limit"),
        ({"name": ""}, "name"),
        ({"project": "nlp"}, "project"),
        ({"dependency": "afterok:999"}, "dependency"),
        ({"dependency": "nonsense:1"}, "dependency"),
        ({"array_throttle": 2}, "array_throttle"),
        ({}, "body"),
        ({"priority": "guaranteed"}, "priority"),
    ],
)
def test_invalid_changes_name_the_field_and_change_nothing(
    api: Api, body: dict[str, object], field: str
) -> None:
    job = api.submit("alice", time_limit=600.0, gpus=2)
    r = _patch(api, "alice", job["id"], **({"time_limit": 300.0} | body if body else {}))
    assert _field(r) == field
    again = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("alice")).json()
    assert (again["time_limit"], again["gpus"]) == (600.0, 2)
    assert _causes(api, job["id"]) == ["submitted"]


def test_a_dependency_that_closes_a_circle_is_refused(api: Api) -> None:
    a = api.submit("alice")
    b = api.submit("alice", dependency=f"afterok:{a['id']}")
    c = api.submit("alice", dependency=f"afterany:{b['id']}")
    assert "wait for itself" in str(
        _patch(api, "alice", a["id"], dependency=f"afterok:{c['id']}").json()
    )
    assert _field(_patch(api, "alice", a["id"], dependency=f"afterok:{a['id']}")) == "dependency"
    assert _patch(api, "alice", c["id"], dependency=f"afterok:{a['id']}").status_code == 200


def test_only_pending_jobs_change_and_running_ones_say_why(api: Api) -> None:
    job = api.submit("alice")
    with api.store.session() as s:
        s.get_one(JobRow, job["id"]).state = "running"
    r = _patch(api, "alice", job["id"], name="x")
    assert r.status_code == 409 and "only the time limit" in r.json()["detail"]
    r = _patch(api, "alice", job["id"], time_limit=60.0, name="x")
    assert r.status_code == 409 and "only the time limit" in r.json()["detail"]
    ended = api.submit("alice")
    api.client.post(f"/api/v1/jobs/{ended['id']}/cancel", headers=api.auth("alice"))
    r = _patch(api, "alice", ended["id"], name="x")
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]


def test_a_held_job_changes_and_stays_held(api: Api) -> None:
    job = api.submit("alice", hold=True)
    r = _patch(api, "alice", job["id"], name="later")
    assert r.status_code == 200 and r.json()["held"] is True


def test_whoever_may_cancel_a_job_may_change_it(api: Api) -> None:
    job = api.submit("alice")
    r = _patch(api, "erin", job["id"], name="x")  # sees it (same project), may not cancel it
    assert r.status_code == 403 and "may not change" in r.json()["detail"]
    assert _patch(api, "quinn", job["id"], name="x").status_code == 404  # another organisation
    assert _patch(api, "carol", job["id"], name="by-instructor").status_code == 200
    assert _patch(api, "admin", job["id"], name="by-admin").status_code == 200


def test_a_member_may_not_ask_for_more_gpus_than_their_limit(api: Api) -> None:
    with api.store.session() as s:
        s.get_one(MemberRow, "alice").limits = {"max_running_gpus": 2}
    job = api.submit("alice")
    r = _patch(api, "alice", job["id"], gpus=4)
    assert r.status_code == 429 and "max_running_gpus" in r.json()["detail"]


def test_an_array_throttle_changes_for_the_whole_array(api: Api) -> None:
    first = api.submit("alice", array="0-3%1")
    r = api.client.patch(
        f"/api/v1/jobs/arrays/{first['id']}", json={"array_throttle": 3}, headers=api.auth("alice")
    )
    assert r.status_code == 200, r.text
    assert [j["array_throttle"] for j in r.json()["data"]] == [3, 3, 3, 3]
    assert _causes(api, first["id"])[-1] == "array throttle 1 -> 3 by alice"
    one = _patch(api, "alice", first["id"], array_throttle=0)
    assert one.status_code == 200 and one.json()["array_throttle"] is None
    tasks = api.client.get(f"/api/v1/jobs?array={first['id']}", headers=api.auth("alice"))
    assert {j["array_throttle"] for j in tasks.json()["data"]} == {None}


def test_an_array_update_changes_every_pending_task(api: Api) -> None:
    first = api.submit("alice", array="0-2", time_limit=600.0)
    api.client.post(f"/api/v1/jobs/{first['id']}/cancel", headers=api.auth("alice"))
    r = api.client.patch(
        f"/api/v1/jobs/arrays/{first['id']}", json={"time_limit": 60.0}, headers=api.auth("alice")
    )
    assert r.status_code == 200, r.text
    assert [(j["array_task_id"], j["time_limit"]) for j in r.json()["data"]] == [
        (1, 60.0),
        (2, 60.0),
    ]

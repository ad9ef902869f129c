"""``PATCH /jobs/{id}`` on a running job changes its time limit only, as ``scontrol update
JobId=N TimeLimit=...``: whoever may cancel it may lower it, only an admin may raise it; the
row takes the new limit at once and keeps it as a request for the controller to push."""

from __future__ import annotations

from typing import Any

from conftest import Api

from aitc.control.store import JobRow
from aitc.control.store.jobs import limits_applied


def _patch(api: Api, member: str, job_id: object, **body: object) -> Any:
    return api.client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=api.auth(member))


def _causes(api: Api, job_id: object) -> list[str]:
    r = api.client.get(f"/api/v1/jobs/{job_id}/events", headers=api.auth("admin"))
    return [e["cause"] for e in r.json()["data"]]


def _running(api: Api, time_limit: float | None = 3600.0) -> int:
    body: dict[str, object] = {} if time_limit is None else {"time_limit": time_limit}
    job_id = int(str(api.submit("alice", **body)["id"]))
    with api.store.session() as s:
        row = s.get_one(JobRow, job_id)
        row.state, row.started_at = "running", api.clock.now()
    return job_id


def _request(api: Api, job_id: int) -> tuple[float | None, float | None, Any]:
    with api.store.session() as s:
        row = s.get_one(JobRow, job_id)
        return row.time_limit, row.time_limit_request, row.spec["time_limit"]


def test_the_member_lowers_a_running_jobs_limit_and_it_waits_to_be_pushed(api: Api) -> None:
    job_id = _running(api)
    r = _patch(api, "alice", job_id, time_limit=1800.0)
    assert r.status_code == 200, r.text
    # the row shows the limit enforced until the executor takes the new one
    shown = r.json()
    assert (shown["time_limit"], shown["time_limit_request"], shown["state"]) == (
        3600.0,
        1800.0,
        "running",
    )
    assert _request(api, job_id) == (3600.0, 1800.0, 3600.0)
    assert _causes(api, job_id)[-1] == "time limit 01:00:00 -> 00:30:00 by alice"
    with api.store.session() as s:
        limits_applied(session=s, applied=[(job_id, 1800.0, "applied", True)], now=1.0)
    assert _request(api, job_id) == (1800.0, None, 1800.0)


def test_a_limit_its_executor_did_not_take_leaves_the_enforced_one(api: Api) -> None:
    job_id = _running(api)
    assert _patch(api, "admin", job_id, time_limit=7200.0).status_code == 200
    with api.store.session() as s:
        limits_applied(session=s, applied=[(job_id, 7200.0, "not applied", False)], now=1.0)
    assert _request(api, job_id) == (3600.0, None, 3600.0)


def test_the_member_may_not_raise_it_and_is_told_why(api: Api) -> None:
    job_id = _running(api)
    r = _patch(api, "alice", job_id, time_limit=7200.0)
    assert r.status_code == 403
    assert "only an administrator may" in r.json()["detail"]
    assert "you may lower it" in r.json()["detail"]
    assert _request(api, job_id) == (3600.0, None, 3600.0)


def test_an_admin_raises_it(api: Api) -> None:
    job_id = _running(api)
    r = _patch(api, "admin", job_id, time_limit=7200.0)
    assert r.status_code == 200, r.text
    assert _request(api, job_id) == (3600.0, 7200.0, 3600.0)
    assert _causes(api, job_id)[-1] == "time limit 01:00:00 -> 02:00:00 by admin"


def test_a_running_job_without_a_limit_may_be_given_one_by_its_member(api: Api) -> None:
    job_id = _running(api, time_limit=None)
    assert _patch(api, "alice", job_id, time_limit=600.0).status_code == 200
    assert _request(api, job_id)[1] == 600.0


def test_the_same_limit_again_changes_nothing(api: Api) -> None:
    job_id = _running(api)
    before = _causes(api, job_id)
    assert _patch(api, "alice", job_id, time_limit=3600.0).status_code == 200
    assert _causes(api, job_id) == before
    assert _request(api, job_id)[1] is None


def test_a_pending_job_changes_as_before_with_nothing_to_push(api: Api) -> None:
    job_id = int(str(api.submit("alice", time_limit=3600.0)["id"]))
    assert _patch(api, "alice", job_id, time_limit=7200.0).status_code == 200  # raise: fine
    assert _request(api, job_id) == (7200.0, None, 7200.0)


def test_an_ended_job_is_refused_and_another_members_is_not_found(api: Api) -> None:
    job_id = _running(api)
    assert _patch(api, "quinn", job_id, time_limit=60.0).status_code == 404
    r = _patch(api, "erin", job_id, time_limit=60.0)  # sees it, may not cancel it
    assert r.status_code == 403 and "may not change" in r.json()["detail"]
    with api.store.session() as s:
        s.get_one(JobRow, job_id).state = "completed"
    r = _patch(api, "alice", job_id, time_limit=60.0)
    assert r.status_code == 409 and "completed" in r.json()["detail"]


def test_a_running_array_task_is_named_by_its_array_and_task(api: Api) -> None:
    first = api.submit("alice", array="0-1", time_limit=600.0)
    with api.store.session() as s:
        s.get_one(JobRow, int(str(first["id"]))).state = "running"
    url = f"/api/v1/jobs/arrays/{first['id']}"
    r = api.client.patch(
        url, params={"task": 0}, json={"time_limit": 60.0}, headers=api.auth("alice")
    )
    assert r.status_code == 200, r.text
    done = [(j["array_task_id"], j["time_limit_request"]) for j in r.json()["data"]]
    assert done == [(0, 60.0)]
    assert _request(api, int(str(first["id"])))[1] == 60.0
    r = api.client.patch(url, params={"task": 0}, json={"name": "x"}, headers=api.auth("alice"))
    assert r.status_code == 409 and "only the time limit" in r.json()["detail"]


def test_asking_again_before_the_executor_took_it_changes_nothing(api: Api) -> None:
    job_id = _running(api)
    for _ in range(5):
        assert _patch(api, "alice", job_id, time_limit=1800.0).status_code == 200
    asked = [c for c in _causes(api, job_id) if c.startswith("time limit")]
    assert asked == ["time limit 01:00:00 -> 00:30:00 by alice"]
    assert _request(api, job_id) == (3600.0, 1800.0, 3600.0)

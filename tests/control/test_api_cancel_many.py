"""Cancelling many jobs in one request, as ``scancel`` does: an array's every task (or one),
and a member's jobs narrowed by state, project and name; all or nothing."""

from __future__ import annotations

from typing import Any

from conftest import Api

from aitc.control.store import JobRow, transition
from aitc.domain.job import JobState


def _states(api: Api, member: str) -> dict[int, tuple[str, bool]]:
    """Every job ``member`` may see: id -> (state, cancel requested)."""
    r = api.client.get("/api/v1/jobs?limit=1000", headers=api.auth(member))
    return {j["id"]: (j["state"], j["cancel_requested"]) for j in r.json()["data"]}


def _running(api: Api, job_id: Any) -> None:
    with api.store.session() as s:
        row = s.get_one(JobRow, job_id)
        transition(session=s, job=row, to=JobState.RUNNING, cause="started", now=api.clock.now())


def test_an_arrays_id_cancels_every_task_still_pending_or_running(api: Api) -> None:
    first = api.submit("alice", array="0-3")
    array = first["id"]
    ids = sorted(j for j in _states(api, "alice"))
    _running(api, ids[1])
    r = api.client.post(f"/api/v1/jobs/arrays/{array}/cancel?task=0", headers=api.auth("alice"))
    assert r.status_code == 200, r.text
    assert [j["array_task_id"] for j in r.json()["data"]] == [0]
    r = api.client.post(f"/api/v1/jobs/arrays/{array}/cancel", headers=api.auth("alice"))
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 3  # task 0 had ended: not counted again
    assert _states(api, "alice") == {
        ids[0]: ("cancelled", False),
        ids[1]: ("running", True),  # stopped by the controller
        ids[2]: ("cancelled", False),
        ids[3]: ("cancelled", False),
    }
    events = api.client.get(f"/api/v1/jobs/{ids[2]}/events", headers=api.auth("alice")).json()
    assert events["data"][-1]["cause"] == "cancelled by alice"


def test_an_ended_array_is_409_and_an_unknown_one_404(api: Api) -> None:
    array = api.submit("alice", array="0-1")["id"]
    api.client.post(f"/api/v1/jobs/arrays/{array}/cancel", headers=api.auth("alice"))
    r = api.client.post(f"/api/v1/jobs/arrays/{array}/cancel", headers=api.auth("alice"))
    assert r.status_code == 409 and "has ended" in r.json()["detail"]
    r = api.client.post(f"/api/v1/jobs/arrays/{array}/cancel?task=7", headers=api.auth("alice"))
    assert r.status_code == 404
    plain = api.submit("alice")["id"]  # a job that is no array
    r = api.client.post(f"/api/v1/jobs/arrays/{plain}/cancel", headers=api.auth("alice"))
    assert r.status_code == 404 and _states(api, "alice")[plain] == ("pending", False)


def test_someone_elses_array_is_refused_whole(api: Api) -> None:
    array = api.submit("alice", array="0-2")["id"]
    r = api.client.post(f"/api/v1/jobs/arrays/{array}/cancel", headers=api.auth("erin"))
    assert r.status_code == 403 and "may not cancel" in r.json()["detail"]
    assert {s for s, _ in _states(api, "alice").values()} == {"pending"}


def test_a_members_jobs_narrowed_by_name_state_and_project(api: Api) -> None:
    a1 = api.submit("alice", name="a")["id"]
    a2 = api.submit("alice", name="a")["id"]
    b = api.submit("alice", name="b")["id"]
    run = api.submit("alice", name="b")["id"]
    _running(api, run)
    theirs = api.submit("erin", name="a")["id"]

    def cancel(**body: Any) -> list[int]:
        r = api.client.post("/api/v1/jobs/cancel", json=body, headers=api.auth("alice"))
        assert r.status_code == 200, r.text
        assert r.json()["count"] == len(r.json()["data"])
        return [j["id"] for j in r.json()["data"]]

    assert cancel(member="alice", name="a") == [a1, a2]
    assert cancel(member="alice", name="a") == []  # none left: not an error
    assert cancel(member="alice", states=["pending"], project="nlp") == []
    assert cancel(member="alice", states=["running"]) == [run]
    assert cancel(member="alice") == [b, run]  # the running one is asked again: no change
    states = _states(api, "alice")
    assert states[b] == ("cancelled", False) and states[run] == ("running", True)
    assert states[theirs] == ("pending", False)


def test_cancelling_another_members_jobs_is_all_or_nothing(api: Api) -> None:
    mine = api.submit("erin")["id"]
    r = api.client.post("/api/v1/jobs/cancel", json={"member": "erin"}, headers=api.auth("alice"))
    assert r.status_code == 403 and "belongs to erin" in r.json()["detail"]
    assert _states(api, "erin")[mine] == ("pending", False)
    r = api.client.post("/api/v1/jobs/cancel", json={}, headers=api.auth("alice"))
    assert r.status_code == 422 and "member" in r.text
    r = api.client.post(
        "/api/v1/jobs/cancel", json={"member": "erin", "states": ["done"]}, headers=api.auth("erin")
    )
    assert r.status_code == 422 and "states" in r.text
    r = api.client.post("/api/v1/jobs/cancel", json={"member": "erin"}, headers=api.auth("admin"))
    assert [j["id"] for j in r.json()["data"]] == [mine]  # an admin may
    events = api.client.get(f"/api/v1/jobs/{mine}/events", headers=api.auth("erin")).json()
    assert events["data"][-1]["cause"] == "cancelled by admin"

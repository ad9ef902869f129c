"""``POST /jobs/{id}/requeue`` and ``/jobs/arrays/{id}/requeue`` (``scontrol requeue`` and
``requeuehold``): a running job is asked back to the queue; what is not running is refused
with the reason, and nothing changes."""

from __future__ import annotations

from typing import Any

from conftest import Api

from aitc.control.store import JobRow


def _run(api: Api, *job_ids: int) -> None:
    with api.store.session() as s:
        for job_id in job_ids:
            row = s.get_one(JobRow, job_id)
            row.state, row.started_at, row.attempt = "running", api.clock.now(), 1


def _requeue(api: Api, member: str, path: str, **params: Any) -> Any:
    return api.client.post(f"/api/v1/jobs/{path}/requeue", params=params, headers=api.auth(member))


def _asked(api: Api, job_id: int) -> str | None:
    with api.store.session() as s:
        return s.get_one(JobRow, job_id).requeue_request


def test_a_running_job_is_asked_back_and_its_history_says_who(api: Api) -> None:
    job_id = int(str(api.submit("alice")["id"]))
    _run(api, job_id)
    r = _requeue(api, "alice", str(job_id))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "running"  # until the controller stops it
    assert _asked(api, job_id) == "requeue alice"
    r = _requeue(api, "alice", str(job_id), hold="true")  # now held once back: asked again
    assert r.status_code == 200 and _asked(api, job_id) == "hold alice"
    events = api.client.get(f"/api/v1/jobs/{job_id}/events", headers=api.auth("alice")).json()
    assert [e["cause"] for e in events["data"]][-2:] == [
        "requeue asked for by alice",
        "requeue and hold asked for by alice",
    ]


def test_what_is_not_running_is_refused_with_the_reason(api: Api) -> None:
    job_id = int(str(api.submit("alice")["id"]))
    r = _requeue(api, "alice", str(job_id))
    assert r.status_code == 409
    assert "it is pending: only a running job can be requeued" in r.json()["detail"]
    assert _requeue(api, "bob", str(job_id)).status_code == 404  # not his to see
    _run(api, job_id)
    assert _requeue(api, "bob", str(job_id)).status_code == 404
    assert _requeue(api, "alice", str(job_id), hold="maybe").status_code == 422
    assert _asked(api, job_id) is None


def test_an_arrays_running_tasks_are_requeued(api: Api) -> None:
    first = int(str(api.submit("alice", array="0-2")["id"]))
    _run(api, first, first + 1)
    r = _requeue(api, "alice", f"arrays/{first}")
    assert r.status_code == 200, r.text
    assert [j["id"] for j in r.json()["data"]] == [first, first + 1]  # the pending one: not
    assert [_asked(api, first + i) for i in range(3)] == ["requeue alice"] * 2 + [None]
    r = _requeue(api, "alice", f"arrays/{first}", task=2)
    assert r.status_code == 409
    assert r.json()["detail"].endswith(
        f"task {first}_2 is not running: only a running job can be requeued"
    )

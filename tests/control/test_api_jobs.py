"""Submitting, listing, showing and cancelling jobs through the API."""

from __future__ import annotations

from conftest import Api

from aitc.control.store import JobRow, transition
from aitc.domain.job import JobState


def test_submit_stores_a_pending_job_and_wakes_the_controller(api: Api) -> None:
    job = api.submit(
        "alice",
        project="vision",
        gpus=4,
        command=["python", "train.py"],
        time_limit=7200,
        priority="preemptible",
        env={"SEED": "1"},
    )
    assert (job["state"], job["gpus"], job["project"], job["organisation"]) == (
        "pending",
        4,
        "vision",
        "uni",
    )
    assert job["command"] == ["python", "train.py"] and job["name"] == "python"
    assert api.wakes == 1
    shown = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("alice")).json()
    assert shown == job


def test_project_defaults_to_the_only_one_of_the_member(api: Api) -> None:
    assert api.submit("bob")["project"] == "nlp"


def test_same_idempotency_key_returns_the_same_job(api: Api) -> None:
    headers = {**api.auth("alice"), "Idempotency-Key": "retry-1"}
    body = {"command": ["sleep", "1"], "gpus": 2}
    first = api.client.post("/api/v1/jobs", json=body, headers=headers)
    again = api.client.post("/api/v1/jobs", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = api.client.get("/api/v1/jobs", headers=api.auth("alice")).json()
    assert listed["count"] == 1 and api.wakes == 1


def test_idempotency_key_reused_for_another_job_is_a_conflict(api: Api) -> None:
    headers = {**api.auth("alice"), "Idempotency-Key": "k"}
    api.client.post("/api/v1/jobs", json={"command": ["a"]}, headers=headers)
    r = api.client.post("/api/v1/jobs", json={"command": ["b"]}, headers=headers)
    assert r.status_code == 409


def test_same_key_from_two_members_makes_two_jobs(api: Api) -> None:
    ids = {
        api.client.post(
            "/api/v1/jobs",
            json={"command": ["a"]},
            headers={**api.auth(m), "Idempotency-Key": "same"},
        ).json()["id"]
        for m in ("alice", "bob")
    }
    assert len(ids) == 2


def test_list_filters_by_state_and_project(api: Api) -> None:
    a = api.submit("alice", gpus=1)
    api.submit("admin", project="nlp", gpus=1)
    _cancel(api, "alice", a["id"])
    r = api.client.get("/api/v1/jobs", params={"state": "cancelled"}, headers=api.auth("admin"))
    assert [j["id"] for j in r.json()["data"]] == [a["id"]]
    r = api.client.get("/api/v1/jobs", params={"project": "nlp"}, headers=api.auth("admin"))
    assert [j["project"] for j in r.json()["data"]] == ["nlp"]


def _cancel(api: Api, member: str, job_id: object) -> dict[str, object]:
    r = api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=api.auth(member))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_cancel_pending_job_ends_it_at_once(api: Api) -> None:
    job = api.submit("alice")
    assert _cancel(api, "alice", job["id"])["state"] == "cancelled"
    events = api.client.get(f"/api/v1/jobs/{job['id']}/events", headers=api.auth("alice"))
    assert [(e["from_state"], e["to_state"]) for e in events.json()["data"]] == [
        (None, "pending"),
        ("pending", "cancelled"),
    ]


def test_cancel_running_job_asks_the_controller(api: Api) -> None:
    job = api.submit("alice")
    with api.store.session() as s:
        transition(
            session=s,
            job=s.get_one(JobRow, job["id"]),
            to=JobState.RUNNING,
            cause="started",
            now=api.clock.now(),
        )
    out = _cancel(api, "alice", job["id"])
    assert (out["state"], out["cancel_requested"]) == ("running", True)
    assert api.wakes == 2


def test_show_returns_stored_pending_reasons_and_estimate(api: Api) -> None:
    job = api.submit("alice", gpus=8)
    with api.store.session() as s:
        row = s.get_one(JobRow, job["id"])
        row.pending_reasons = [
            {"code": "not_enough_gpus", "message": "waits for 8 GPUs", "details": {"free": 4}}
        ]
        row.estimated_start = api.clock.now() + 60
    shown = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("alice")).json()
    assert shown["pending_reasons"][0]["message"] == "waits for 8 GPUs"
    assert shown["estimated_start"] is not None


def test_queue_lists_running_then_pending_in_submission_order(api: Api) -> None:
    first, second, third = (api.submit("alice") for _ in range(3))
    with api.store.session() as s:
        transition(
            session=s,
            job=s.get_one(JobRow, second["id"]),
            to=JobState.RUNNING,
            cause="started",
            now=api.clock.now(),
        )
    q = api.client.get("/api/v1/queue", headers=api.auth("alice")).json()
    assert [j["id"] for j in q["running"]] == [second["id"]]
    assert [j["id"] for j in q["pending"]] == [first["id"], third["id"]]


def test_healthz_needs_no_token(api: Api) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"


def test_missing_or_unknown_token_is_401(api: Api) -> None:
    assert api.client.get("/api/v1/jobs").status_code == 401
    r = api.client.get("/api/v1/jobs", headers={"Authorization": "Bearer aitc_nope"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


def test_the_controller_is_woken_only_after_the_job_is_committed(api: Api) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from aitc.control.api import Settings, create_app

    seen: list[int] = []

    def wake() -> None:  # what the controller would see when it wakes
        with api.store.session(readonly=True) as s:
            seen.append(s.scalar(select(func.count()).select_from(JobRow)) or 0)

    app = create_app(Settings(store=api.store, clock=api.clock, wake=wake))
    with TestClient(app) as client:
        client.post("/api/v1/jobs", json={"command": ["true"]}, headers=api.auth("alice"))
        job_id = client.post(
            "/api/v1/jobs", json={"command": ["true"]}, headers=api.auth("alice")
        ).json()["id"]
        client.post(f"/api/v1/jobs/{job_id}/cancel", headers=api.auth("alice"))
    assert seen == [1, 2, 2]


def test_a_signal_before_the_time_limit_is_stored_in_canonical_form(api: Api) -> None:
    job = api.submit("alice", time_limit=3600, signal="sigusr1@300")
    assert job["signal"] == "USR1@300"
    shown = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("alice")).json()
    assert shown["signal"] == "USR1@300"
    assert api.submit("alice", time_limit=60, signal="B:USR2")["signal"] == "B:USR2@60"


def test_a_bad_signal_or_one_without_a_time_limit_is_422_naming_it(api: Api) -> None:
    before = api.client.get("/api/v1/jobs", headers=api.auth("alice")).json()["count"]
    for body in (
        {"signal": "KILL@60", "time_limit": 600},
        {"signal": "USR1@x", "time_limit": 600},
        {"signal": "USR1@60"},
    ):
        r = api.client.post(
            "/api/v1/jobs", json={"command": ["t"], **body}, headers=api.auth("alice")
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][-1] == "signal", r.text
    assert "needs a time limit" in r.text
    assert api.client.get("/api/v1/jobs", headers=api.auth("alice")).json()["count"] == before


def test_a_batch_script_is_stored_with_its_job_and_shown_by_its_path(api: Api) -> None:
    command = ["/bin/bash", "/home/alice/job.sh", "--epochs", "3"]
    script = {"text": "#!/bin/bash\necho hi\n", "path": "/home/alice/job.sh"}
    job = api.submit("alice", command=command, script=script)
    assert (job["command"], job["script_path"]) == (command, "/home/alice/job.sh")
    assert "script" not in job  # (the text is the job's, not every listing's)
    with api.store.session() as s:
        spec = s.get_one(JobRow, job["id"]).spec
    assert spec["script"] == "#!/bin/bash\necho hi\n"


def test_a_bad_batch_script_is_422_naming_what_is_wrong(api: Api) -> None:
    cases = [
        ({"text": "x", "path": "/elsewhere.sh"}, "script_path", "must be in the command"),
        ({"text": "x" * 70_000, "path": "/j.sh"}, "text", "at most 65536"),
        ({"text": "x"}, "path", "Field required"),
    ]
    for script, field, why in cases:
        body = {"command": ["/bin/sh", "/j.sh"], "script": script}
        r = api.client.post("/api/v1/jobs", json=body, headers=api.auth("alice"))
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][-1] == field and why in r.text, r.text


def test_gpu_usage_comes_attempt_by_attempt_for_those_who_see_the_job(api: Api) -> None:
    from aitc.control.gpuusage.samples import UsageAggregate
    from aitc.control.store.gpu_usage import record_gpu_usage

    job = api.submit("alice", gpus=2)
    path = f"/api/v1/jobs/{job['id']}/gpu-usage"
    assert api.client.get(path, headers=api.auth("alice")).json() == {"data": []}
    busy = UsageAggregate(30, 2, 63.5, 98.0, 0.1, 40_960.0, 61_440.0, 410.0)
    mig = UsageAggregate(12, 1, None, None, None, 9_000.0, 9_500.0, None)
    with api.store.session() as s:
        record_gpu_usage(session=s, usage={(job["id"], 2): mig, (job["id"], 1): busy}, now=100.0)
    data = api.client.get(path, headers=api.auth("alice")).json()["data"]
    assert [(a["attempt"], a["util_mean_pct"], a["idle_share"]) for a in data] == [
        (1, 63.5, 0.1),
        (2, None, None),
    ]
    assert data[0]["memory_max_mib"] == 61_440.0 and data[0]["power_mean_w"] == 410.0
    assert api.client.get(path, headers=api.auth("bob")).status_code == 404  # cannot see it


def test_a_signal_now_is_for_a_running_job_of_ones_own(api: Api) -> None:
    job = api.submit("alice")
    path = f"/api/v1/jobs/{job['id']}/signal"
    r = api.client.post(path, json={"signal": "USR1"}, headers=api.auth("alice"))
    assert r.status_code == 409 and "only a running job can be signalled" in r.text
    with api.store.session() as s:
        row = s.get_one(JobRow, job["id"])
        transition(session=s, job=row, to=JobState.RUNNING, cause="started", now=api.clock.now())
    r = api.client.post(path, json={"signal": "USR1"}, headers=api.auth("erin"))
    assert r.status_code == 403 and "may not signal" in r.text
    for bad in ("KILL", "USR1@30", ""):
        r = api.client.post(path, json={"signal": bad}, headers=api.auth("alice"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "signal", r.text
    for _ in range(20):  # a flood of the same request: one request, one note
        r = api.client.post(path, json={"signal": "b:sigusr2"}, headers=api.auth("alice"))
        assert r.status_code == 200, r.text
    with api.store.session() as s:
        assert s.get_one(JobRow, job["id"]).signal_request == "B:USR2"
    events = api.client.get(f"/api/v1/jobs/{job['id']}/events", headers=api.auth("alice")).json()
    asked = [e["cause"] for e in events["data"] if "SIGUSR2" in e["cause"]]
    assert asked == ["SIGUSR2 to its main process asked for by alice"]

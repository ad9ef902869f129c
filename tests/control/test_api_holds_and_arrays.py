"""Held jobs stay pending until released; a job array is one job per task, each knowing its
task id, and its throttle caps how many tasks run at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Api
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.store import JobRow, JobSpec, Store, create_job, load_caller
from aitc.control.store.directory import ensure_operators_project
from aitc.control.store.specs import array_tasks
from aitc.domain.job import JobState
from aitc.errors import ConfigError


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


def _post(api: Api, member: str, path: str) -> dict[str, object]:
    r = api.client.post(f"/api/v1/jobs/{path}", headers=api.auth(member))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_held_job_says_so_and_release_clears_it(api: Api) -> None:
    job = api.submit("alice", hold=True)
    assert job["held"] is True and job["state"] == "pending"
    assert [r["code"] for r in job["pending_reasons"]] == ["held"]  # type: ignore[union-attr]
    released = _post(api, "alice", f"{job['id']}/release")
    assert released["held"] is False and released["pending_reasons"] == []
    again = _post(api, "alice", f"{job['id']}/hold")
    assert again["held"] is True and "held by alice" in str(again["pending_reasons"])
    events = api.client.get(f"/api/v1/jobs/{job['id']}/events", headers=api.auth("alice"))
    assert [e["cause"] for e in events.json()["data"]] == [
        "submitted",
        "released by alice",
        "held by alice",
    ]


def test_only_pending_jobs_are_held_and_only_by_who_may_cancel_them(api: Api) -> None:
    job = api.submit("alice")
    r = api.client.post(f"/api/v1/jobs/{job['id']}/hold", headers=api.auth("erin"))
    assert r.status_code == 403 and "may not hold" in r.json()["detail"]
    api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=api.auth("alice"))
    r = api.client.post(f"/api/v1/jobs/{job['id']}/hold", headers=api.auth("alice"))
    assert r.status_code == 409 and "only a pending job" in r.json()["detail"]


def test_the_controller_leaves_held_jobs_out_until_released(rig: Rig) -> None:
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        held, _ = create_job(
            session=s, spec=JobSpec(command=("t",), hold=True), caller=caller, now=0
        )
        held_id = held.id
    other = rig.submit("bob")
    for _ in range(3):
        rig.step()
    assert rig.job(held_id).state == JobState.PENDING
    assert [r["code"] for r in rig.job(held_id).pending_reasons or []] == ["held"]
    assert rig.job(other).state == JobState.RUNNING
    with rig.store.session() as s:
        s.get_one(JobRow, held_id).held = False
    rig.step()
    rig.step()
    assert rig.job(held_id).state == JobState.RUNNING


def test_an_array_is_one_job_per_task_with_its_task_id(api: Api) -> None:
    first = api.submit("alice", array="1,3,5", command=["sh", "-c", "echo $AITC_ARRAY_TASK_ID"])
    array_id = first["id"]
    assert (first["array_job_id"], first["array_task_id"]) == (array_id, 1)
    tasks = api.client.get(f"/api/v1/jobs?array={array_id}", headers=api.auth("alice")).json()
    assert tasks["count"] == 3
    envs = {j["array_task_id"]: j["env"] for j in tasks["data"]}
    assert sorted(envs) == [1, 3, 5]
    assert envs[3]["AITC_ARRAY_TASK_ID"] == envs[3]["SLURM_ARRAY_TASK_ID"] == "3"
    assert envs[5]["AITC_ARRAY_JOB_ID"] == str(array_id)
    assert envs[5]["AITC_ARRAY_TASK_COUNT"] == "3" and envs[5]["SLURM_ARRAY_TASK_MAX"] == "5"


def test_an_array_retried_with_its_key_is_stored_once(api: Api) -> None:
    headers = {**api.auth("alice"), "Idempotency-Key": "arr"}
    body = {"command": ["t"], "array": "0-3"}
    first = api.client.post("/api/v1/jobs", json=body, headers=headers)
    again = api.client.post("/api/v1/jobs", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert api.client.get("/api/v1/jobs", headers=api.auth("alice")).json()["count"] == 4


@pytest.mark.parametrize(
    ("text", "tasks", "throttle"),
    [
        ("0-3", (0, 1, 2, 3), None),
        ("1,3,5", (1, 3, 5), None),
        ("0-9:4", (0, 4, 8), None),
        ("0-99%10", tuple(range(100)), 10),
        ("7", (7,), None),
        ("2,0-2", (0, 1, 2), None),
    ],
)
def test_array_expressions_follow_slurm(
    text: str, tasks: tuple[int, ...], throttle: int | None
) -> None:
    assert array_tasks(text) == (tasks, throttle)


@pytest.mark.parametrize("text", ["", "a", "3-1", "0-4%0", "0-4%", "1,,2", "0-20000", "0-5:0"])
def test_bad_array_expressions_name_the_field(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        array_tasks(text)
    assert err.value.field == "array"


def test_a_bad_array_is_refused_422(api: Api) -> None:
    r = api.client.post(
        "/api/v1/jobs", json={"command": ["t"], "array": "5-1"}, headers=api.auth("alice")
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "array"


def test_the_throttle_caps_the_running_tasks(rig: Rig) -> None:
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        spec = JobSpec(command=("t",), array="0-4%2")
        first, _ = create_job(session=s, spec=spec, caller=caller, now=0)
        ids = list(range(first.id, first.id + 5))
    for _ in range(3):
        rig.step()
    states = [rig.job(i).state for i in ids]
    assert states.count(JobState.RUNNING) == 2 and states.count(JobState.PENDING) == 3
    waiting = [i for i in ids if rig.job(i).state == JobState.PENDING]
    assert all(
        [r["code"] for r in rig.job(i).pending_reasons or []] == ["array_throttle"] for i in waiting
    )
    running = [i for i in ids if rig.job(i).state == JobState.RUNNING]
    rig.fake.finish(running[0])
    for _ in range(3):
        rig.step()
    states = [rig.job(i).state for i in ids]
    assert states.count(JobState.RUNNING) == 2 and states.count(JobState.COMPLETED) == 1


def test_project_required_lists_the_callers_projects(api: Api) -> None:
    r = api.client.post("/api/v1/jobs", json={"command": ["t"]}, headers=api.auth("pia"))
    assert r.status_code == 422
    assert "several projects (health, vision)" in r.json()["detail"][0]["msg"]


def test_the_admin_in_the_operators_project_needs_no_project(api: Api) -> None:
    r = api.client.post("/api/v1/jobs", json={"command": ["t"]}, headers=api.auth("admin"))
    assert r.status_code == 422 and "as an admin you may name any" in r.text
    with api.store.session() as s:
        assert ensure_operators_project(session=s) == [
            "organisation operators: created",
            "project operators: created",
            "member admin: joined operators",
        ]
    with api.store.session() as s:
        assert ensure_operators_project(session=s) == []
    api.app.state.auth_cache.clear()
    job = api.submit("admin")
    assert (job["project"], job["organisation"]) == ("operators", "operators")


def test_an_array_counts_each_task_against_max_pending_jobs(api: Api) -> None:
    from aitc.control.store.models import MemberRow

    with api.store.session() as s:
        s.get_one(MemberRow, "alice").limits = {"max_pending_jobs": 3}
    api.app.state.auth_cache.clear()
    r = api.client.post(
        "/api/v1/jobs", json={"command": ["t"], "array": "0-3"}, headers=api.auth("alice")
    )
    assert r.status_code == 429 and "this submission adds 4" in r.json()["detail"]

"""Disabling a member holds their pending jobs ("member disabled") and stops their tokens;
their running jobs run on unless the admin asks to stop them."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Api
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.store import Store
from aitc.control.store.directory import disable_member, enable_member
from aitc.domain.job import JobState


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


def _reasons(rig: Rig, job_id: int) -> list[str]:
    return [r["code"] for r in rig.job(job_id).pending_reasons or []]


def test_a_disabled_members_pending_job_is_held_and_their_running_job_runs_on(rig: Rig) -> None:
    running = rig.submit("alice", gpus=4)
    rig.step()
    rig.step()
    assert rig.job(running).state == JobState.RUNNING
    held = rig.submit("alice", gpus=1)
    with rig.store.session() as s:
        disable_member(session=s, member_id="alice", stop_running=False, by="admin", now=0)
    other = rig.submit("bob", gpus=1)
    for _ in range(3):
        rig.step()
    assert rig.job(held).state == JobState.PENDING
    assert _reasons(rig, held) == ["member_disabled"]
    assert "member disabled" in rig.job(held).pending_reasons[0]["message"]  # type: ignore[index]
    assert rig.job(running).state == JobState.RUNNING
    assert rig.job(other).state == JobState.RUNNING  # others are scheduled as before
    with rig.store.session() as s:
        enable_member(session=s, member_id="alice")
    rig.step()
    rig.step()
    assert rig.job(held).state == JobState.RUNNING


def test_stop_running_stops_the_disabled_members_running_jobs(rig: Rig) -> None:
    running = rig.submit("alice", gpus=2)
    rig.step()
    rig.step()
    with rig.store.session() as s:
        held, stopping = disable_member(
            session=s, member_id="alice", stop_running=True, by="admin", now=0
        )
    assert (held, stopping) == (0, 1)
    for _ in range(3):
        rig.step()
    job = rig.job(running)
    assert job.state == JobState.CANCELLED and "member alice disabled by admin" in str(
        rig.events(running)
    )


def test_disabling_through_the_api_holds_jobs_and_stops_the_token(api: Api) -> None:
    job = api.submit("alice")
    r = api.client.post(
        "/api/v1/members/alice/disable", json={"stop_running": False}, headers=api.auth("admin")
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "alice", "enabled": False, "pending_held": 1, "running_stopped": 0}
    assert api.client.get("/api/v1/me", headers=api.auth("alice")).status_code == 401
    seen = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("admin")).json()
    assert seen["state"] == "pending"
    assert [r["code"] for r in seen["pending_reasons"]] == ["member_disabled"]
    assert api.wakes >= 1
    back = api.client.post("/api/v1/members/alice/enable", headers=api.auth("admin"))
    assert back.status_code == 200
    assert api.client.get("/api/v1/me", headers=api.auth("alice")).status_code == 200


def test_only_admins_disable_and_the_last_admin_cannot_be_disabled(api: Api) -> None:
    r = api.client.post("/api/v1/members/bob/disable", json={}, headers=api.auth("alice"))
    assert r.status_code == 403
    r = api.client.post("/api/v1/members/admin/disable", json={}, headers=api.auth("admin"))
    assert r.status_code == 409 and "last enabled admin" in r.json()["detail"]
    r = api.client.post("/api/v1/members/nobody/disable", json={}, headers=api.auth("admin"))
    assert r.status_code == 404

"""A job's begin time (sbatch's ``--begin``, ``scontrol update StartTime=``): the API keeps it
as a moment; the controller (the engine's books) leaves the job out of scheduling until then,
says why (``begin_time``, Slurm's BeginTime) and estimates no start before it, wakes up at it,
and starts the job then."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.store import JobSpec, Store, create_job, load_caller
from aitc.domain.job import JobState


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


def submit(rig: Rig, begin_at: float | None = None, **spec: Any) -> int:
    spec.setdefault("gpus", 1)
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        job, _ = create_job(
            session=s,
            spec=JobSpec(command=("train",), begin_at=begin_at, **spec),
            caller=caller,
            now=rig.clock.now(),
        )
        return job.id


def state(rig: Rig, job_id: int) -> JobState:
    return JobState(rig.job(job_id).state)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def test_a_job_waits_for_its_begin_time_while_gpus_are_free_then_starts_at_it(rig: Rig) -> None:
    begin = rig.clock.now() + 100
    job = submit(rig, begin)
    for _ in range(3):
        rig.step()
    assert state(rig, job) is JobState.PENDING
    row = rig.job(job)
    assert [r["code"] for r in row.pending_reasons or []] == ["begin_time"]
    at = datetime.fromtimestamp(begin, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert (row.pending_reasons or [])[0]["message"] == (
        f"It may not start before its begin time, {at} (BeginTime: --begin)."
    )
    assert row.estimated_start == begin  # never before it
    rig.step(begin - rig.clock.now() - 0.5)
    assert state(rig, job) is JobState.PENDING
    rig.step(0.5)  # the begin time itself
    assert state(rig, job) in (JobState.STARTING, JobState.RUNNING)
    assert rig.job(job).started_at == begin


def test_a_begin_time_in_the_past_lets_the_job_start_at_once(rig: Rig) -> None:
    job = submit(rig, rig.clock.now() - 3600)
    rig.step()
    assert state(rig, job) in (JobState.STARTING, JobState.RUNNING)


def test_the_idle_controller_sleeps_a_tick_or_until_the_next_begin_time(rig: Rig) -> None:
    tick = rig.config.tick_s
    assert rig.ctl.idle_wait() == tick  # nothing to wait for
    submit(rig, rig.clock.now() + 60)
    rig.step()
    assert rig.ctl.idle_wait() == tick  # a minute away: a tick
    rig.clock.advance(60 - 1 - 0.2)
    assert rig.ctl.idle_wait() == pytest.approx(0.2)  # sooner than a tick: until then
    rig.clock.advance(1.0)
    assert rig.ctl.idle_wait() == 0.0  # due: pass now (the pass takes it in)
    rig.step(0)
    assert rig.ctl.idle_wait() == tick


def test_a_job_behind_a_full_cluster_is_estimated_at_its_begin_time_not_before(rig: Rig) -> None:
    busy = submit(rig, gpus=8, time_limit=50.0)
    rig.step()
    begin = rig.clock.now() + 100
    late = submit(rig, begin)
    for _ in range(3):
        rig.step()
    assert state(rig, busy) is JobState.RUNNING
    assert rig.job(late).estimated_start == begin
    rig.step(begin - rig.clock.now())  # the begin time comes: the cluster is still full
    rig.step(12)  # (the planner explains once quiet)
    row = rig.job(late)
    assert state(rig, late) is JobState.PENDING
    assert [r["code"] for r in row.pending_reasons or []] != ["begin_time"]
    assert row.estimated_start is not None and row.estimated_start >= begin


def test_a_held_job_with_a_begin_time_waits_for_both(rig: Rig) -> None:
    begin = rig.clock.now() + 30
    job = submit(rig, begin, hold=True)
    rig.step()
    assert [r["code"] for r in rig.job(job).pending_reasons or []] == ["held"]
    rig.step(40)
    assert state(rig, job) is JobState.PENDING  # its begin time passed, but it is held
    with rig.store.session() as s:
        from aitc.control.store.jobs import release_job

        release_job(
            session=s,
            caller=load_caller(session=s, member_id="alice"),
            job_id=job,
            now=rig.clock.now(),
        )
    rig.step()
    rig.step()
    assert state(rig, job) in (JobState.STARTING, JobState.RUNNING)


def test_a_new_begin_time_moves_a_pending_job_out_of_and_back_into_the_queue(rig: Rig) -> None:
    from aitc.control.store.update import JobChanges, update_job

    blocker = submit(rig, gpus=8)
    job = submit(rig)
    rig.step()
    rig.step()
    assert state(rig, blocker) is JobState.RUNNING

    def change(begin: float) -> None:
        with rig.store.session() as s:
            caller = load_caller(session=s, member_id="alice")
            changes = JobChanges(begin_at=begin)
            update_job(session=s, caller=caller, job_id=job, changes=changes, now=rig.clock.now())

    later = rig.clock.now() + 300
    change(later)
    rig.step()
    assert [r["code"] for r in rig.job(job).pending_reasons or []] == ["begin_time"]
    rig.fake.finish(blocker)
    rig.step()
    rig.step()
    assert state(rig, job) is JobState.PENDING  # GPUs free, but not before its begin time
    change(rig.clock.now())  # StartTime=now
    rig.step()
    assert state(rig, job) in (JobState.STARTING, JobState.RUNNING)


# --- the API ---------------------------------------------------------------------------------


def _patch(api: Api, member: str, job_id: object, **body: object) -> Any:
    return api.client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=api.auth(member))


def _causes(api: Api, job_id: object) -> list[str]:
    r = api.client.get(f"/api/v1/jobs/{job_id}/events", headers=api.auth("admin"))
    return [e["cause"] for e in r.json()["data"]]


def test_the_api_takes_a_begin_time_as_iso_or_epoch_and_shows_it(api: Api) -> None:
    at = api.clock.now() + 3600
    by_iso = api.submit("alice", begin_at=iso(at))
    by_epoch = api.submit("alice", begin_at=at)
    naive = api.submit("alice", begin_at=iso(at).removesuffix("+00:00"))  # UTC
    for job in (by_iso, by_epoch, naive):
        assert datetime.fromisoformat(str(job["begin_at"])).timestamp() == at
    assert api.submit("alice")["begin_at"] is None


def test_every_task_of_an_array_has_the_begin_time(api: Api) -> None:
    at = api.clock.now() + 3600
    first = api.submit("alice", array="0-3", begin_at=at)
    r = api.client.get("/api/v1/jobs", params={"array": first["id"]}, headers=api.auth("alice"))
    tasks = r.json()["data"]
    assert len(tasks) == 4
    assert {datetime.fromisoformat(t["begin_at"]).timestamp() for t in tasks} == {at}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("tomorrow at noon", "datetime"),
        ("2027-02-30T10:00:00", "day"),
        (-10, "1970 to 9999"),
        (True, ""),
    ],
)
def test_a_bad_begin_time_is_refused_naming_the_field(api: Api, value: object, why: str) -> None:
    r = api.client.post(
        "/api/v1/jobs", json={"command": ["x"], "begin_at": value}, headers=api.auth("alice")
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"][-1] == "begin_at"
    assert why in detail["msg"]


def test_patch_changes_a_pending_jobs_begin_time_with_a_note(api: Api) -> None:
    job = api.submit("alice")
    at = 1_800_000_000.0
    r = _patch(api, "alice", job["id"], begin_at=iso(at))
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["begin_at"]).timestamp() == at
    assert _causes(api, job["id"])[1:] == ["begin none -> 2027-01-15T08:00:00Z by alice"]
    assert _patch(api, "alice", job["id"], begin_at=at).status_code == 200  # unchanged
    assert len(_causes(api, job["id"])) == 2
    assert _patch(api, "alice", job["id"], begin_at="soon").status_code == 422


def test_patch_refuses_a_begin_time_for_a_job_that_is_not_pending(api: Api) -> None:
    from aitc.control.store import JobRow

    job = api.submit("alice")
    with api.store.session() as s:
        s.get_one(JobRow, job["id"]).state = JobState.RUNNING.value
    r = _patch(api, "alice", job["id"], begin_at=api.clock.now() + 60)
    assert r.status_code == 409, r.text

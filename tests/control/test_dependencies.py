"""Job dependencies in the control plane: the API keeps them in their canonical form, and the
controller (the engine's books) holds a job until they hold, says why, and cancels a job
whose dependency can never hold (DependencyNeverSatisfied), as Slurm does."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Api
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.store import JobSpec, Store, create_job, load_caller
from aitc.domain.job import JobState


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


def submit(
    rig: Rig,
    dependency: str | None = None,
    *,
    name: str = "",
    gpus: int = 1,
    time_limit: float | None = None,
) -> int:
    spec = JobSpec(
        command=("train",), gpus=gpus, name=name, dependency=dependency, time_limit=time_limit
    )
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        job, _ = create_job(session=s, spec=spec, caller=caller, now=rig.clock.now())
        return job.id


def steps(rig: Rig, n: int = 3) -> None:
    for _ in range(n):
        rig.step()


def state(rig: Rig, job_id: int) -> JobState:
    return JobState(rig.job(job_id).state)


def test_a_job_waits_for_its_afterok_job_and_says_so(rig: Rig) -> None:
    first = submit(rig)
    second = submit(rig, f"afterok:{first}")
    steps(rig)
    assert state(rig, first) == JobState.RUNNING and state(rig, second) == JobState.PENDING
    reasons = rig.job(second).pending_reasons or []
    assert [r["code"] for r in reasons] == ["dependency"]
    assert reasons[0]["message"] == f"It waits for job {first} to complete successfully (afterok)."
    rig.fake.finish(first)
    steps(rig)
    assert state(rig, second) == JobState.RUNNING


def test_a_dependency_that_can_never_hold_cancels_the_job_and_those_after_it(rig: Rig) -> None:
    first = submit(rig)
    ok = submit(rig, f"afterok:{first}")
    after_ok = submit(rig, f"afterok:{ok}")
    not_ok = submit(rig, f"afternotok:{first}")
    steps(rig)
    rig.fake.finish(first, exit_code=3)
    steps(rig, 4)
    assert state(rig, first) == JobState.FAILED
    assert state(rig, ok) == JobState.CANCELLED
    assert rig.job(ok).cause == (
        f"DependencyNeverSatisfied: job {first} ended failed, and afterok:{first} needs it to "
        "complete"
    )
    assert state(rig, after_ok) == JobState.CANCELLED
    assert rig.job(after_ok).cause.startswith(f"DependencyNeverSatisfied: job {ok} ended cancelled")
    assert state(rig, not_ok) == JobState.RUNNING


def test_a_job_that_ended_before_the_controller_started_is_found_in_the_store(rig: Rig) -> None:
    first = submit(rig)
    steps(rig)
    rig.fake.finish(first)
    steps(rig)
    assert state(rig, first) == JobState.COMPLETED
    second = submit(rig, f"afterok:{first}")  # its job ended before: nobody waited for it
    third = submit(rig, f"afternotok:{first}")
    rig.restart()  # books built anew from the store
    steps(rig)
    assert state(rig, second) == JobState.RUNNING
    assert state(rig, third) == JobState.CANCELLED


def test_a_job_that_ends_in_the_same_batch_as_one_naming_it_is_known(rig: Rig) -> None:
    first = submit(rig)
    steps(rig)
    rig.fake.finish(first)  # its end is read at the next pass, with the submission below
    second = submit(rig, f"afterok:{first}")
    steps(rig)
    assert state(rig, first) == JobState.COMPLETED
    assert state(rig, second) == JobState.RUNNING


def test_a_waiting_job_keeps_waiting_across_a_restart(rig: Rig) -> None:
    first = submit(rig)
    second = submit(rig, f"afterany:{first}")
    steps(rig)
    rig.restart()
    steps(rig)
    assert state(rig, second) == JobState.PENDING
    rig.fake.finish(first, exit_code=1)
    steps(rig)
    assert state(rig, second) == JobState.RUNNING


def test_singleton_runs_one_job_of_a_name_at_a_time(rig: Rig) -> None:
    first = submit(rig, "singleton", name="sweep")
    second = submit(rig, "singleton", name="sweep")
    other = submit(rig, "singleton", name="other")
    steps(rig)
    assert [state(rig, j) for j in (first, second, other)] == [
        JobState.RUNNING,
        JobState.PENDING,
        JobState.RUNNING,
    ]
    assert "(singleton)" in (rig.job(second).pending_reasons or [{}])[0]["message"]
    rig.fake.finish(first)
    steps(rig)
    assert state(rig, second) == JobState.RUNNING


def test_after_waits_for_the_start_and_the_minutes_after_it(rig: Rig) -> None:
    first = submit(rig, gpus=8)
    blocked = submit(rig, gpus=8)  # keeps the GPUs busy once first ends
    soon = submit(rig, f"after:{first}")
    later = submit(rig, f"after:{first}+2")
    steps(rig)
    assert state(rig, first) == JobState.RUNNING
    assert state(rig, soon) == JobState.PENDING  # no GPU left, but no longer for its dependency
    assert list(rig.ctl.books.dependencies.waiting) == [later]
    message = (rig.job(later).pending_reasons or [{}])[0]["message"]
    assert (
        message
        == f"It waits for the 2 minutes after job {first} started to pass (after:{first}+2)."
    )
    rig.fake.finish(first)
    steps(rig)
    assert state(rig, blocked) == JobState.RUNNING
    rig.fake.finish(blocked)
    steps(rig)  # GPUs free, but the 2 minutes have not passed
    assert state(rig, soon) == JobState.RUNNING and state(rig, later) == JobState.PENDING
    rig.fake.finish(soon)
    rig.step(120.0)
    steps(rig)
    assert state(rig, later) == JobState.RUNNING


def test_any_one_of_the_conditions_is_enough(rig: Rig) -> None:
    first, second = submit(rig), submit(rig)
    either = submit(rig, f"afterok:{first}?afterok:{second}")
    neither = submit(rig, f"afterok:{first}?afternotok:{second}")
    steps(rig)
    message = (rig.job(either).pending_reasons or [{}])[0]["message"]
    assert message.startswith("It waits for any one of: ")
    rig.fake.finish(first, exit_code=1)
    steps(rig)
    assert state(rig, either) == JobState.PENDING
    rig.fake.finish(second)
    steps(rig, 4)
    assert state(rig, either) == JobState.RUNNING
    assert state(rig, neither) == JobState.CANCELLED
    assert rig.job(neither).cause.startswith("DependencyNeverSatisfied: none can hold: ")


def test_a_singleton_waits_again_when_a_later_job_of_its_name_starts_first(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    rig = Rig(store, clock, tmp_path, policy="sjf")  # the shortest time limit goes first
    single = submit(rig, "singleton", name="sweep", time_limit=3600)
    later = submit(rig, name="sweep", time_limit=60)
    steps(rig)
    assert state(rig, later) == JobState.RUNNING and state(rig, single) == JobState.PENDING
    steps(rig)
    message = (rig.job(single).pending_reasons or [{}])[0]["message"]
    assert message == f"It waits for job {later} (also named 'sweep') to end (singleton)."
    rig.fake.finish(later)
    steps(rig)
    assert state(rig, single) == JobState.RUNNING


def test_the_api_stores_the_canonical_form_with_arrays_and_tasks(api: Api) -> None:
    array = api.submit("alice", array="0-2")
    single = api.submit("alice")
    job = api.submit(
        "alice", dependency=f"afterok:{array['id']},afterany:{single['id']}:{array['id']}_2"
    )
    a = int(str(array["id"]))
    assert job["dependency"] == f"afterok:{a}&{a + 1}&{a + 2},afterany:{single['id']}:{a + 2}"


def test_the_api_takes_slurms_forms_of_jobs_and_tasks(api: Api) -> None:
    a = int(str(api.submit("alice", array="0-3")["id"]))
    single = int(str(api.submit("alice")["id"]))
    forms = {
        f"afterok:{a}_*": f"afterok:{a}&{a + 1}&{a + 2}&{a + 3}",
        f"afterany:{a}_[1-2,3]": f"afterany:{a + 1}:{a + 2}:{a + 3}",
        f"{single},{a}_0": f"afterany:{single}:{a}",  # Slurm's old form: afterany
        f"after:{single}+5?afternotok:{a}_2": f"after:{single}+5?afternotok:{a + 2}",
        f"AFTER:{single},singleton": f"after:{single},singleton",
    }
    for text, canonical in forms.items():
        assert api.submit("alice", dependency=text)["dependency"] == canonical


def test_aftercorr_names_the_task_of_the_same_number_or_the_whole_array(api: Api) -> None:
    a = int(str(api.submit("alice", array="0-2")["id"]))
    b = int(str(api.submit("alice", array="1-3", dependency=f"aftercorr:{a}")["id"]))
    r = api.client.get("/api/v1/jobs", params={"array": b}, headers=api.auth("alice"))
    tasks = r.json()["data"]
    assert {t["array_task_id"]: t["dependency"] for t in tasks} == {
        1: f"aftercorr:{a + 1}",
        2: f"aftercorr:{a + 2}",
        3: f"aftercorr:{a}&{a + 1}&{a + 2}",  # array a has no task 3: all of it, as Slurm
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("afterok:999999", "no job 999999 (or not one you may see"),
        ("afterok:1_7", "no job 1_7"),
        ("befor:1", "unknown dependency type 'befor' (known: after, afterany, afterok"),
        ("expand:1", "'expand' is not supported: aitc does not grow"),
        ("afterok:1?afterany:1,singleton", "use ',' (every condition must hold) or '?'"),
        ("afterok:1+5", "+minutes is for after only (after:12+5), not afterok"),
        ("after:1+0", "+0: minutes must be a whole number from 1 to"),
        ("afterok:1_*", "job 1 is not an array (1_*)"),
        ("afterok:1_[3-1]", "'1_[3-1]': bad task range 3-1"),
        ("afterok:1_[x]", "'1_[x]' is not a job or array task (12, 12_3, 12_*)"),
    ],
)
def test_a_bad_dependency_is_refused_naming_the_field(api: Api, text: str, message: str) -> None:
    api.submit("alice")  # job 1
    r = api.client.post(
        "/api/v1/jobs",
        json={"command": ["t"], "dependency": text},
        headers=api.auth("alice"),
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"][-1] == "dependency" and message in detail["msg"]


def test_a_member_cannot_depend_on_a_job_they_may_not_see(api: Api) -> None:
    hidden = api.submit("bob")  # project nlp: alice may not see it
    r = api.client.post(
        "/api/v1/jobs",
        json={"command": ["t"], "dependency": f"afterok:{hidden['id']}"},
        headers=api.auth("alice"),
    )
    assert r.status_code == 422 and "not one you may see" in r.text

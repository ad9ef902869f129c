"""Labs and assessments through the API, with roles: labs start at the session's start as jobs of
their learners on the session's seats (charged to its organisation); a learner sees their own
lab, instructors every lab without tokens; assessments by the learner for themself or by the
session's instructors; refusals name the reason and store nothing. The keeper runs on the
harness's store without a controller, so the jobs stay pending (the real run is
test_labs_end_to_end.py)."""

from __future__ import annotations

from typing import Any

import pytest
from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from sqlalchemy import func, select

from aitc.control.courses.keeper import LabKeeper
from aitc.control.courses.labs import LabSettings
from aitc.control.store.models import CourseAssessmentRow, CourseLabRow, JobRow

SECRET = ("sh", "-c", "test -s answer.txt")


def keeper(api: CourseApi) -> LabKeeper:
    return LabKeeper(store=api.store, clock=api.clock, settings=LabSettings(ports=(28100, 28199)))


def started_session(api: CourseApi, **course: Any) -> int:
    """A session of 2 seats and 1 waitlist place: dave and alice seated, bob waiting; on now."""
    make_course(api, **course)
    sid = int(
        api.ok("carol", "POST", "/course-sessions", session_body(api, seats=2, waitlist=1))["id"]
    )
    api.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": ["dave", "alice", "bob"]})
    return sid


def count(api: CourseApi, table: Any) -> int:
    with api.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_labs_start_with_the_session_as_jobs_of_their_learners_on_its_seats(
    course_api: CourseApi,
) -> None:
    sid = started_session(course_api)
    labs = keeper(course_api)
    assert labs.step().started == () and count(course_api, CourseLabRow) == 0  # not yet
    course_api.clock.advance(2 * DAY)
    assert len(labs.step().started) == 2
    assert labs.step().started == ()  # once
    with course_api.store.session() as s:
        jobs = {j.member_id: j for j in s.scalars(select(JobRow))}
        assert set(jobs) == {"dave", "alice"}  # bob waits
        for j in jobs.values():
            assert (j.org_id, j.project_id, j.mig, j.gpus) == ("school", "course", "1g.10gb", 0)
            assert j.time_limit == 3 * 3600
            assert j.spec["env"]["JUPYTER_TOKEN"] and j.spec["command"][1:3] == [
                "-m",
                "jupyter_server",
            ]
    mine = course_api.ok("dave", "GET", f"/course-sessions/{sid}/lab")
    assert (mine["member"], mine["state"], mine["url"]) == ("dave", "starting", None)
    assert 28100 <= mine["port"] <= 28199
    r = course_api.call("alice", "GET", f"/jobs/{mine['job']}")
    assert r.status_code == 404  # another learner's lab job is not theirs to see
    shown = course_api.ok("dave", "GET", f"/jobs/{mine['job']}")
    assert shown["env"]["JUPYTER_TOKEN"] == jobs["dave"].spec["env"]["JUPYTER_TOKEN"]
    r = course_api.call("bob", "GET", f"/course-sessions/{sid}/lab")
    assert r.status_code == 404 and "no lab" in r.text
    assert course_api.call("dave", "GET", f"/course-sessions/{sid}/labs").status_code == 403
    listed = course_api.ok("carol", "GET", f"/course-sessions/{sid}/labs")
    assert [lab["member"] for lab in listed["data"]] == ["dave", "alice"]
    assert all(lab["url"] is None for lab in listed["data"])
    again = course_api.ok("dave", "POST", f"/course-sessions/{sid}/lab")
    assert again["id"] == mine["id"]  # a live lab is not started twice


def test_assessments_by_the_learner_or_the_sessions_instructors(course_api: CourseApi) -> None:
    sid = started_session(course_api, assessment_command=list(SECRET))
    r = course_api.call("dave", "POST", f"/course-sessions/{sid}/assessments", {})
    assert r.status_code == 422 and "has not started" in r.text
    course_api.clock.advance(2 * DAY)
    keeper(course_api).step()
    r = course_api.call(
        "alice", "POST", f"/course-sessions/{sid}/assessments", {"members": ["dave"]}
    )
    assert r.status_code == 403
    runs = course_api.ok("dave", "POST", f"/course-sessions/{sid}/assessments", {})
    assert [(a["member"], a["state"], a["requested_by"]) for a in runs["data"]] == [
        ("dave", "running", "dave")
    ]
    lab = course_api.ok("dave", "GET", f"/course-sessions/{sid}/lab")
    assert lab["state"] == "stopped" and lab["stop_reason"].startswith("assessment:")
    r = course_api.call("dave", "POST", f"/course-sessions/{sid}/assessments", {})
    assert r.status_code == 409 and "running already" in r.text
    r = course_api.call("dave", "POST", f"/course-sessions/{sid}/lab")
    assert r.status_code == 422 and "assessment is running" in r.text
    everyone = course_api.ok("carol", "POST", f"/course-sessions/{sid}/assessments", {})
    assert [a["member"] for a in everyone["data"]] == ["alice"]  # dave's runs already
    with course_api.store.session() as s:
        job = s.get(JobRow, everyone["data"][0]["job"])
        assert job is not None and job.spec["command"] == list(SECRET)
        assert (job.member_id, job.org_id, job.mig) == ("alice", "school", "1g.10gb")
        assert job.spec["env"] == {"AITC_COURSE": "intro", "AITC_SESSION": str(sid)}
    assert len(course_api.ok("carol", "GET", f"/course-sessions/{sid}/assessments")["data"]) == 2
    assert [a["member"] for a in course_api.ok("alice", "GET",
            f"/course-sessions/{sid}/assessments")["data"]] == ["alice"]  # fmt: skip
    r = course_api.call("bob", "POST", f"/course-sessions/{sid}/assessments", {})
    assert r.status_code == 409 and "waitlisted" in r.text
    course_api.clock.advance(3 * 3600)
    r = course_api.call("carol", "POST", f"/course-sessions/{sid}/assessments", {})
    assert r.status_code == 422 and "has ended" in r.text


def test_a_course_without_an_assessment_command_is_assessed_by_hand(
    course_api: CourseApi,
) -> None:
    sid = started_session(course_api)
    course_api.clock.advance(2 * DAY)
    r = course_api.call("carol", "POST", f"/course-sessions/{sid}/assessments", {})
    assert r.status_code == 422 and "no assessment command" in r.text
    assert count(course_api, CourseAssessmentRow) == 0 and count(course_api, JobRow) == 0


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"idle_limit_min": 5, "idle_warning_min": 5}, "idle_warning_min"),
        ({"idle_limit_min": 0}, "idle_limit_min"),
        ({"no_show_min": -1}, "no_show_min"),
    ],
)
def test_course_lab_limits_that_cannot_work_are_refused(
    course_api: CourseApi, limits: dict[str, float], field: str
) -> None:
    body = {"id": "intro", "title": "Intro", "org": "school", **limits}
    r = course_api.call("admin", "POST", "/courses", body)
    assert r.status_code == 422 and field in r.text
    assert course_api.ok("admin", "GET", "/courses")["count"] == 0


def test_course_lab_limits_are_kept(course_api: CourseApi) -> None:
    make_course(course_api, no_show_min=5, idle_limit_min=20, idle_warning_min=2)
    (course,) = course_api.ok("admin", "GET", "/courses")["data"]
    assert (course["no_show_min"], course["idle_limit_min"], course["idle_warning_min"]) == (
        5, 20, 2,
    )  # fmt: skip
    assert course["assessment_limit_min"] == 15  # the default


def test_a_cancelled_enrolment_stops_its_lab_and_the_promoted_learner_gets_one(
    course_api: CourseApi,
) -> None:
    sid = started_session(course_api)
    labs = keeper(course_api)
    course_api.clock.advance(2 * DAY)
    labs.step()
    course_api.ok("carol", "POST", f"/course-sessions/{sid}/cancel", {"member": "alice"})
    done = labs.step()
    listed = course_api.ok("carol", "GET", f"/course-sessions/{sid}/labs")["data"]
    alice = next(lab for lab in listed if lab["member"] == "alice")
    assert alice["state"] == "stopped"
    assert alice["stop_reason"] == "ended: the enrolment was cancelled"
    assert [lab["member"] for lab in listed if lab["state"] == "starting"] == ["dave", "bob"]
    assert len(done.started) == 1 and done.stopped == (alice["id"],)
    with course_api.store.session() as s:
        job = s.get(JobRow, alice["job"])
        assert job is not None and job.state == "cancelled"  # it was still pending


def test_a_lab_that_cannot_start_now_does_not_hold_up_the_others(course_api: CourseApi) -> None:
    sid = started_session(course_api)
    one_port = LabKeeper(
        store=course_api.store, clock=course_api.clock, settings=LabSettings(ports=(28150, 28150))
    )
    course_api.clock.advance(2 * DAY)
    assert len(one_port.step().started) == 1  # dave's; alice's finds no free port
    assert course_api.ok("dave", "GET", f"/course-sessions/{sid}/lab")["port"] == 28150
    assert course_api.call("alice", "GET", f"/course-sessions/{sid}/lab").status_code == 404
    assert count(course_api, JobRow) == 1  # nothing half-made for alice
    assert len(keeper(course_api).step().started) == 1  # with ports to spare, alice's starts


def test_gpu_samples_above_idle_count_as_activity_where_nvml_reports_utilisation(
    course_api: CourseApi,
) -> None:
    from aitc.control.gpuusage.samples import UsageAggregate
    from aitc.control.store.gpu_usage import record_gpu_usage

    sid = started_session(course_api)
    labs = keeper(course_api)
    course_api.clock.advance(2 * DAY)
    labs.step()
    lab = course_api.ok("dave", "GET", f"/course-sessions/{sid}/lab")

    def sampled(samples: int, idle_share: float | None) -> str:
        """Record the lab job's GPU aggregate as the controller does; the lab's last activity."""
        usage = UsageAggregate(samples, 1, 50.0, 90.0, idle_share, 100.0, 200.0, None)
        course_api.clock.advance(60)
        with course_api.store.session() as s:
            record_gpu_usage(session=s, usage={(lab["job"], 0): usage}, now=course_api.clock.now())
        labs.step()
        return str(course_api.ok("dave", "GET", f"/course-sessions/{sid}/lab")["last_active_at"])

    busy = sampled(10, 0.5)  # 5 samples above idle
    assert busy > lab["last_active_at"]
    assert sampled(12, 7 / 12) == busy  # 2 more samples, both idle: nothing happened
    assert sampled(14, 0.5) > busy  # 2 more above idle
    quiet = sampled(14, 0.5)
    assert sampled(20, None) == quiet  # no utilisation reported (a MIG slice): says nothing

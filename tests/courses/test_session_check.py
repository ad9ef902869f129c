"""`--check` of a new session: the last weeks of recorded load replayed in the twin over the
next weeks, with and without the session's seats; refused as creation would be; nothing
stored either way."""

from __future__ import annotations

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from test_sessions import counts

from aitc.control.report.history import write_history

WEEK = 7 * DAY


def record_load(api: CourseApi, jobs: int = 600) -> None:
    now = api.clock.now()
    write_history(api.store, jobs=jobs, start=now - 2 * WEEK, stop=now, seed=3)


def test_the_check_reports_what_the_session_costs_research(course_api: CourseApi) -> None:
    make_course(course_api, "gpus", mig_profile=None, seats=8)
    record_load(course_api)
    body = {**session_body(course_api, "gpus", day=3), "weeks": 2}
    checked = course_api.ok("carol", "POST", "/course-sessions/check", body)
    assert (checked["jobs"], checked["weeks"], checked["seats"]) == (600, 2, 8)
    assert checked["policy"] == "fifo"  # what the recorded starts name, else fifo
    assert checked["extra_wait_h"] > 0 and checked["delayed_jobs"] > 0
    orgs = {o["organisation"]: o for o in checked["per_org"]}
    assert sum(o["jobs"] for o in orgs.values()) == 600
    assert round(sum(o["extra_wait_h"] for o in orgs.values()), 6) == round(
        checked["extra_wait_h"], 6
    )
    worse = [o for o in orgs.values() if o["extra_wait_h"] > 0]
    assert worse and all(o["mean_wait_with_s"] > o["mean_wait_without_s"] for o in worse)
    assert counts(course_api) == (0, 0)  # nothing stored
    again = course_api.ok("carol", "POST", "/course-sessions/check", body)
    assert again == checked  # the same load, the same twin: the same answer


def test_a_session_beyond_the_replayed_weeks_asks_for_more(course_api: CourseApi) -> None:
    make_course(course_api)
    body = {**session_body(course_api, day=10), "weeks": 1}
    r = course_api.call("carol", "POST", "/course-sessions/check", body)
    assert r.status_code == 422 and "give --weeks 2" in r.text
    assert r.json()["detail"][0]["loc"][-1] == "weeks"


def test_the_check_refuses_what_creation_refuses(course_api: CourseApi) -> None:
    make_course(course_api, "big", mig_profile=None, seats=17)
    r = course_api.call("carol", "POST", "/course-sessions/check", session_body(course_api, "big"))
    assert r.status_code == 422 and "can never be guaranteed" in r.text
    make_course(course_api)
    r = course_api.call("alice", "POST", "/course-sessions/check", session_body(course_api))
    assert r.status_code == 422 and "alice is not certified to teach intro" in r.text
    assert counts(course_api) == (0, 0)


def test_without_recorded_load_the_session_costs_nothing(course_api: CourseApi) -> None:
    make_course(course_api)
    checked = course_api.ok("carol", "POST", "/course-sessions/check", session_body(course_api))
    assert (checked["jobs"], checked["extra_wait_h"], checked["per_org"]) == (0, 0.0, [])

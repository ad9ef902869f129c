"""Bad input to enrolment is refused with its reason and stores nothing: past the seats and the
waitlist, after the session started, a roster that overflows, someone enrolled twice. (The
sessions' refusals, with the same rule, are in test_sessions.py.)"""

from __future__ import annotations

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from sqlalchemy import select

from aitc.control.store.models import EnrolmentRow


def small_session(api: CourseApi) -> int:
    make_course(api)
    made = api.ok("carol", "POST", "/course-sessions", session_body(api, seats=2, waitlist=1))
    return int(made["id"])


def stored(api: CourseApi) -> list[tuple[str, str]]:
    with api.store.session() as s:
        rows = s.scalars(select(EnrolmentRow).order_by(EnrolmentRow.id))
        return [(e.member_id, e.state) for e in rows]


def test_past_the_cap_nothing_is_stored(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    for member in ("alice", "bob", "erin"):
        course_api.ok(member, "POST", f"/course-sessions/{sid}/enrolments", {})
    before = stored(course_api)
    r = course_api.call("dave", "POST", f"/course-sessions/{sid}/enrolments", {})
    assert r.status_code == 422
    assert "session 1 is full: 2 seats and 1 waitlist places taken" in r.text
    assert stored(course_api) == before == [
        ("alice", "enrolled"), ("bob", "enrolled"), ("erin", "waitlisted"),
    ]  # fmt: skip


def test_after_the_start_nothing_is_stored(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    course_api.clock.advance(2 * DAY)  # the session starts now
    r = course_api.call("alice", "POST", f"/course-sessions/{sid}/enrolments", {})
    assert r.status_code == 422 and "enrolment in session 1 closed when it started" in r.text
    roster = {"members": ["bob"]}
    r = course_api.call("carol", "POST", f"/course-sessions/{sid}/roster", roster)
    assert r.status_code == 422 and "line 2 (bob)" in r.text and "closed" in r.text
    assert stored(course_api) == []


def test_a_roster_beyond_the_seats_and_waitlist_stores_none_of_it(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    roster = {"members": ["alice", "bob", "erin", "dave"]}
    r = course_api.call("carol", "POST", f"/course-sessions/{sid}/roster", roster)
    assert r.status_code == 422 and "line 5 (dave)" in r.text and "is full" in r.text
    assert stored(course_api) == []


def test_enrolling_twice_is_refused_and_changes_nothing(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    course_api.ok("alice", "POST", f"/course-sessions/{sid}/enrolments", {})
    r = course_api.call("alice", "POST", f"/course-sessions/{sid}/enrolments", {})
    assert r.status_code == 409 and "alice is already enrolled in session 1" in r.text
    assert stored(course_api) == [("alice", "enrolled")]

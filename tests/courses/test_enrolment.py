"""Enrolment: seats then the waitlist, in order; a freed seat goes to the first waitlisted
member; cancellation deadline; rosters all or nothing; results by the instructor."""

from __future__ import annotations

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)


def small_session(api: CourseApi) -> int:
    make_course(api)
    made = api.ok("carol", "POST", "/course-sessions", session_body(api, seats=2, waitlist=1))
    return int(made["id"])


def test_seats_fill_then_the_waitlist_then_enrolment_is_refused(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    states = [
        course_api.ok(m, "POST", f"/course-sessions/{sid}/enrolments", {})["state"]
        for m in ("alice", "bob", "erin")
    ]
    assert states == ["enrolled", "enrolled", "waitlisted"]
    r = course_api.call("dave", "POST", f"/course-sessions/{sid}/enrolments", {})
    assert r.status_code == 422 and "is full" in r.text


def test_a_cancelled_seat_goes_to_the_first_waitlisted(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    course_api.ok(
        "admin", "POST", f"/course-sessions/{sid}/roster", {"members": ["alice", "bob", "erin"]}
    )
    changed = course_api.ok("alice", "POST", f"/course-sessions/{sid}/cancel", {})
    assert [(e["member"], e["state"]) for e in changed["data"]] == [
        ("alice", "cancelled"),
        ("erin", "enrolled"),
    ]


def test_members_cannot_cancel_after_the_deadline(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    course_api.ok("bob", "POST", f"/course-sessions/{sid}/enrolments", {})
    course_api.clock.advance(1.5 * DAY)  # the session starts in 0.5 days; deadline: 1 day before
    r = course_api.call("bob", "POST", f"/course-sessions/{sid}/cancel", {})
    assert r.status_code == 422 and "deadline" in r.text
    course_api.ok("carol", "POST", f"/course-sessions/{sid}/cancel", {"member": "bob"})


def test_a_roster_with_an_unknown_member_stores_nothing(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    r = course_api.call(
        "carol", "POST", f"/course-sessions/{sid}/roster", {"members": ["alice", "nobody"]}
    )
    assert r.status_code == 422 and "line 3 (nobody)" in r.text
    assert course_api.ok("carol", "GET", f"/course-sessions/{sid}/enrolments")["count"] == 0


def test_only_instructors_import_rosters_and_see_them(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    assert (
        course_api.call(
            "alice", "POST", f"/course-sessions/{sid}/roster", {"members": ["bob"]}
        ).status_code
        == 403
    )
    course_api.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": ["alice", "bob"]})
    assert [
        e["member"]
        for e in course_api.ok("bob", "GET", f"/course-sessions/{sid}/enrolments")["data"]
    ] == ["bob"]


def test_enrolment_closes_when_the_session_starts(course_api: CourseApi) -> None:
    sid = small_session(course_api)
    course_api.clock.advance(2 * DAY)
    r = course_api.call("alice", "POST", f"/course-sessions/{sid}/enrolments", {})
    assert r.status_code == 422 and "closed" in r.text


def test_passed_learners_get_credentials_that_verify(course_api: CourseApi) -> None:
    from aitc.control.courses.credentials import verify

    sid = small_session(course_api)
    course_api.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": ["alice", "bob"]})
    course_api.clock.advance(2 * DAY + 3600)
    course_api.ok(
        "carol", "POST", f"/course-sessions/{sid}/results", {"member": "alice", "result": "passed"}
    )
    course_api.ok(
        "carol", "POST", f"/course-sessions/{sid}/results", {"member": "bob", "result": "failed"}
    )
    issued = course_api.ok("carol", "POST", f"/course-sessions/{sid}/certificates")
    assert issued["count"] == 1
    (credential,) = issued["data"]
    assert verify(credential, now=course_api.clock.now()) is None
    again = course_api.ok("carol", "POST", f"/course-sessions/{sid}/certificates")
    assert again["data"] == issued["data"]  # issued once
    assert course_api.ok("bob", "GET", f"/course-sessions/{sid}/certificates")["count"] == 0

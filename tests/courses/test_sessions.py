"""Sessions are reservations: exactly their seats, refused with the engine's reason when the
seats cannot be guaranteed, taught only by certified instructors; nothing stored on refusal."""

from __future__ import annotations

from datetime import UTC, datetime

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from sqlalchemy import func, select

from aitc.control.store.models import CourseSessionRow, ReservationRow
from aitc.control.store.reservations import list_reservations


def counts(api: CourseApi) -> tuple[int, int]:
    with api.store.session() as s:
        return (
            s.scalar(select(func.count(CourseSessionRow.id))) or 0,
            s.scalar(select(func.count(ReservationRow.id))) or 0,
        )


def test_a_session_reserves_exactly_its_mig_seats(course_api: CourseApi) -> None:
    make_course(course_api)
    made = course_api.ok("carol", "POST", "/course-sessions", session_body(course_api))
    assert made["seats"] == 14 and made["instructors"] == ["carol"]
    with course_api.store.session() as s:
        (res,) = list_reservations(session=s, now=course_api.clock.now())
    assert (res.id, res.org, res.mig_profile, res.mig_seats, res.gpus) == (
        made["reservation"], "school", "1g.10gb", 14, 0,
    )  # fmt: skip


def test_whole_gpu_seats_reserve_seats_times_gpus_per_seat(course_api: CourseApi) -> None:
    make_course(course_api, "multi", mig_profile=None, gpus_per_seat=2, seats=4)
    course_api.ok("carol", "POST", "/course-sessions", session_body(course_api, "multi"))
    with course_api.store.session() as s:
        (res,) = list_reservations(session=s, now=course_api.clock.now())
    assert (res.gpus, res.mig_seats) == (8, 0)


def test_seats_beyond_the_cluster_are_refused_with_the_engines_reason(
    course_api: CourseApi,
) -> None:
    make_course(course_api, "big", mig_profile=None, seats=17)
    r = course_api.call("carol", "POST", "/course-sessions", session_body(course_api, "big"))
    assert r.status_code == 422
    assert "can never be guaranteed" in r.text and "needs 17 GPUs but only 16" in r.text
    assert counts(course_api) == (0, 0)


def test_overlapping_sessions_on_the_same_seats_are_refused(course_api: CourseApi) -> None:
    make_course(course_api, "half", mig_profile=None, seats=9)
    course_api.ok("carol", "POST", "/course-sessions", session_body(course_api, "half"))
    r = course_api.call("carol", "POST", "/course-sessions", session_body(course_api, "half"))
    assert r.status_code == 422 and "cannot be guaranteed" in r.text
    assert "not held by overlapping reservations" in r.text
    assert counts(course_api) == (1, 1)
    later = session_body(course_api, "half", day=3)
    course_api.ok("carol", "POST", "/course-sessions", later)  # another day is fine
    assert counts(course_api) == (2, 2)


def test_only_a_certified_instructor_may_teach(course_api: CourseApi) -> None:
    make_course(course_api)
    r = course_api.call("alice", "POST", "/course-sessions", session_body(course_api))
    assert r.status_code == 422 and "alice is not certified to teach intro" in r.text
    body = session_body(course_api, instructors=["carol"])
    assert course_api.call("alice", "POST", "/course-sessions", body).status_code == 403
    assert counts(course_api) == (0, 0)


def test_an_expired_certification_cannot_teach(course_api: CourseApi) -> None:
    make_course(course_api)
    yesterday = datetime.fromtimestamp(course_api.clock.now() - DAY, UTC).date().isoformat()
    course_api.ok(
        "admin", "POST", "/courses/intro/instructors", {"member": "carol", "expires": yesterday}
    )
    r = course_api.call("carol", "POST", "/course-sessions", session_body(course_api))
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == (
        f"carol's certification for intro expired: it was valid through {yesterday}; renew it first"
    )
    tomorrow = datetime.fromtimestamp(course_api.clock.now() + DAY, UTC).date().isoformat()
    course_api.ok(
        "admin", "POST", "/courses/intro/instructors", {"member": "carol", "expires": tomorrow}
    )
    r = course_api.call("carol", "POST", "/course-sessions", session_body(course_api, day=3))
    assert (
        r.status_code == 422
        and (
            "carol's certification for intro expires before the session ends: it is valid through "
            f"{tomorrow}; renew it first"
        )
        in r.text
    )
    assert counts(course_api) == (0, 0)


def test_a_session_in_the_past_or_ending_before_it_starts_is_refused(course_api: CourseApi) -> None:
    make_course(course_api)
    past = session_body(course_api, day=-1)
    assert course_api.call("carol", "POST", "/course-sessions", past).status_code == 422
    body = session_body(course_api)
    body["end"] = body["start"]
    assert course_api.call("carol", "POST", "/course-sessions", body).status_code == 422
    assert counts(course_api) == (0, 0)

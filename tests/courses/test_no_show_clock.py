"""The no-show clock in the store: it starts at the session's start (not when a lab first
answers), a lab that answered late still leaves its learner the grace, a learner seated from
the waitlist during the session gets the no-show minutes from then, and a learner who reached
an earlier lab of theirs is no no-show in a lab they started again. The keeper runs on the
harness's store without a controller (the jobs stay pending); what a look at each lab finds is
handed to ``labs.observe`` as the probe would (the real labs: test_labs_on_serve.py)."""

from __future__ import annotations

from typing import Any

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from sqlalchemy import select

from aitc.control.courses import labs
from aitc.control.courses.keeper import LabKeeper
from aitc.control.courses.labprobe import LabStatus
from aitc.control.courses.labs import LabSettings
from aitc.control.store.models import CourseLabRow

M = 60.0
ANSWERS = LabStatus(started="t0", last_activity="t0", kernels=0, connections=0)
USED = LabStatus(started="t0", last_activity="t1", kernels=0, connections=0)


def keeper(api: CourseApi) -> LabKeeper:
    return LabKeeper(store=api.store, clock=api.clock, settings=LabSettings(ports=(28200, 28299)))


def started_session(api: CourseApi, roster: list[str]) -> tuple[int, float]:
    """A session of 2 seats (15 no-show minutes, the default) with ``roster`` enrolled in
    order; the clock at its start. Returns the session and its start."""
    make_course(api)
    body = session_body(api, seats=2, waitlist=len(roster) - 2)
    sid = int(api.ok("carol", "POST", "/course-sessions", body)["id"])
    api.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": roster})
    api.clock.advance(2 * DAY)
    return sid, api.clock.now()


def look(api: CourseApi, member: str, status: LabStatus, at: float) -> None:
    """The keeper's look at ``member``'s live lab finds ``status`` at ``at``."""
    api.clock.advance(at - api.clock.now())
    with api.store.session() as s:
        stmt = select(CourseLabRow).where(
            CourseLabRow.member_id == member, CourseLabRow.state.in_(labs.LIVE)
        )
        lab = s.scalars(stmt).one()
        labs.observe(session=s, lab=lab, status=status, now=at)


def at(api: CourseApi, t: float, keep: LabKeeper) -> None:
    api.clock.advance(t - api.clock.now())
    keep.step()


def lab_states(api: CourseApi, sid: int) -> dict[str, tuple[str, str]]:
    data = api.ok("carol", "GET", f"/course-sessions/{sid}/labs")["data"]
    return {lab["member"]: (lab["state"], lab["stop_reason"]) for lab in data}


def enrolments(api: CourseApi, sid: int) -> dict[str, str]:
    data: list[dict[str, Any]] = api.ok("carol", "GET", f"/course-sessions/{sid}/enrolments")[
        "data"
    ]
    return {e["member"]: e["state"] for e in data}


def test_the_no_show_clock_starts_at_the_session_start_with_a_grace_for_late_labs(
    course_api: CourseApi,
) -> None:
    sid, start = started_session(course_api, ["dave", "alice", "bob", "erin", "pat"])
    keep = keeper(course_api)
    keep.step()  # dave's and alice's labs start
    look(course_api, "dave", ANSWERS, start + 40)  # 40 s to answer
    look(course_api, "alice", ANSWERS, start + 14 * M)  # 14 minutes to answer

    at(course_api, start + 15 * M - 1, keep)
    assert {m: s for m, (s, _) in lab_states(course_api, sid).items()} == {
        "dave": "ready",
        "alice": "ready",
    }
    at(course_api, start + 15 * M, keep)  # dave: 15 minutes after the start, not after 40 s more
    dave = lab_states(course_api, sid)["dave"]
    assert dave[0] == "stopped"
    assert dave[1] == (
        "no-show: not reached within 15 min of the session's start; the seat went to bob"
    )
    assert lab_states(course_api, sid)["alice"][0] == "ready"  # 2 minutes' grace after 14

    at(course_api, start + 16 * M - 1, keep)
    assert lab_states(course_api, sid)["alice"][0] == "ready"
    at(course_api, start + 16 * M, keep)
    assert lab_states(course_api, sid)["alice"][1].endswith("the seat went to erin")

    # bob got his seat at 15 minutes: his own 15 minutes count from then
    look(course_api, "bob", ANSWERS, start + 15 * M + 10)
    at(course_api, start + 30 * M - 1, keep)
    assert lab_states(course_api, sid)["bob"][0] == "ready"
    at(course_api, start + 30 * M, keep)
    assert lab_states(course_api, sid)["bob"] == (
        "stopped",
        "no-show: not reached within 15 min of getting the seat; the seat went to pat",
    )
    assert enrolments(course_api, sid) == {
        "dave": "cancelled",
        "alice": "cancelled",
        "bob": "cancelled",
        "erin": "enrolled",
        "pat": "enrolled",
    }


def test_a_learner_who_reached_their_lab_is_no_no_show_in_a_lab_started_again(
    course_api: CourseApi,
) -> None:
    sid, start = started_session(course_api, ["dave", "alice", "bob"])
    keep = keeper(course_api)
    keep.step()
    look(course_api, "dave", ANSWERS, start + 10)
    look(course_api, "dave", USED, start + 20)  # dave works in it: attended
    look(course_api, "alice", ANSWERS, start + 10)
    look(course_api, "alice", USED, start + 20)
    assert enrolments(course_api, sid)["dave"] == "attended"
    with course_api.store.session() as s:  # dave's lab stops (as when left idle)
        lab = s.scalars(select(CourseLabRow).where(CourseLabRow.member_id == "dave")).one()
        labs.stop_lab(session=s, lab=lab, reason="idle: test", now=start + 60)
    course_api.ok("dave", "POST", f"/course-sessions/{sid}/lab")  # dave starts it again
    look(course_api, "dave", ANSWERS, start + 20 * M)

    at(course_api, start + 40 * M, keep)  # long past both deadlines; bob waits
    assert lab_states(course_api, sid)["dave"] == ("ready", "")
    assert enrolments(course_api, sid) == {
        "dave": "attended",
        "alice": "attended",
        "bob": "waitlisted",
    }

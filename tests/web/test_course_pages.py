"""The course pages act as the courses API: the calendar shows each session's seats, a member
enrols and cancels from a session's page (the waitlist promoted in order), only instructors
and admins see the roster, and a learner who passed downloads their signed certificate."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)

DAY = 86400.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def a_session(pages: Pages, seats: int = 1) -> int:
    """A session of a one-seat course taught by carol, two days from now."""
    course = {"id": "intro", "title": "Intro to DL", "org": "school", "seats": seats}
    assert pages.api("admin", "POST", "/courses", course | {"mig_profile": "1g.10gb"}).is_success
    assert pages.api("admin", "POST", "/courses/intro/instructors", {"member": "carol"}).is_success
    start = pages.clock.now() + 2 * DAY
    body = {"course": "intro", "start": iso(start), "end": iso(start + 3 * 3600), "waitlist": 1}
    made = pages.api("carol", "POST", "/course-sessions", body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_members_enrol_from_the_page_and_the_waitlist_is_promoted_in_order(pages: Pages) -> None:
    sid = a_session(pages)
    dave, alice, carol = pages.visitor("dave"), pages.visitor("alice"), pages.visitor("carol")
    calendar = dave.get("/courses").text
    assert f'href="/courses/sessions/{sid}">Intro to DL</a>' in calendar and "0 of 1" in calendar
    page = dave.get(f"/courses/sessions/{sid}").text
    assert "You are not enrolled." in page and "Roster" not in page
    assert dave.post(f"/courses/sessions/{sid}/enrol").headers["location"].endswith("done=enrolled")
    assert "You are <strong>enrolled</strong>" in dave.get(f"/courses/sessions/{sid}").text
    waiting = alice.post(f"/courses/sessions/{sid}/enrol")
    assert waiting.headers["location"].endswith("done=waitlisted")
    assert "<td>1 of 1" in alice.get("/courses").text  # the seat taken, the waitlist full
    full = pages.visitor("bob").post(f"/courses/sessions/{sid}/enrol")
    assert full.status_code == 409 and "is full" in full.text
    roster = carol.get(f"/courses/sessions/{sid}").text
    assert "2 enrolments, in order" in roster
    assert roster.index("<td>dave</td><td>enrolled") < roster.index("<td>alice</td><td>waitlisted")
    assert "Roster" not in alice.get(f"/courses/sessions/{sid}").text
    assert dave.post(f"/courses/sessions/{sid}/cancel").status_code == 303
    assert "You are <strong>enrolled</strong>" in alice.get(f"/courses/sessions/{sid}").text


def test_a_form_of_another_session_or_without_csrf_changes_nothing(pages: Pages) -> None:
    sid = a_session(pages)
    dave = pages.visitor("dave")
    assert dave.post(f"/courses/sessions/{sid}/enrol", csrf="forged").status_code == 403
    assert dave.post("/courses/sessions/999/enrol").status_code == 404
    assert "You are not enrolled." in dave.get(f"/courses/sessions/{sid}").text


def test_a_learner_who_passed_downloads_their_signed_certificate(pages: Pages) -> None:
    sid = a_session(pages, seats=2)
    alice, dave = pages.visitor("alice"), pages.visitor("dave")
    for visitor in (alice, dave):
        assert visitor.post(f"/courses/sessions/{sid}/enrol").status_code == 303
    pages.clock.advance(2 * DAY + 3600)  # the session is on
    alice, dave = pages.visitor("alice", again=True), pages.visitor("dave", again=True)
    on = alice.get(f"/courses/sessions/{sid}").text
    assert "in progress" in on and "Your lab is being started" in on
    result = {"member": "alice", "result": "passed"}
    assert pages.api("carol", "POST", f"/course-sessions/{sid}/results", result).is_success
    assert pages.api("carol", "POST", f"/course-sessions/{sid}/certificates").is_success
    page = alice.get(f"/courses/sessions/{sid}").text
    assert f'href="/courses/sessions/{sid}/certificate.json"' in page
    got = alice.get(f"/courses/sessions/{sid}/certificate.json")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    credential = json.loads(got.text)
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert credential["credentialSubject"]["achievement"]["name"] == "Intro to DL"
    assert dave.get(f"/courses/sessions/{sid}/certificate.json").status_code == 404


def test_a_learner_opens_their_own_lab_and_starts_it_again_once_stopped(pages: Pages) -> None:
    from sqlalchemy import select

    from aitc.control.courses import labs
    from aitc.control.store.models import CourseLabRow, CourseSessionRow, EnrolmentRow

    sid = a_session(pages, seats=2)
    for member in ("alice", "dave"):
        assert pages.visitor(member).post(f"/courses/sessions/{sid}/enrol").status_code == 303
    pages.clock.advance(2 * DAY + 60)  # the session is on: the keeper starts the labs
    with pages.store.session() as s:
        row = s.get_one(CourseSessionRow, sid)
        for e in s.scalars(select(EnrolmentRow).where(EnrolmentRow.session_id == sid)):
            lab = labs.start_lab(
                session=s, row=row, enrolment=e, settings=labs.LabSettings(),
                now=pages.clock.now(),
            )  # fmt: skip
            lab.host, lab.state, lab.ready_at = "127.0.0.1", "ready", pages.clock.now()
    alice = pages.visitor("alice", again=True)
    with pages.store.session() as s:
        own = s.scalars(select(CourseLabRow).where(CourseLabRow.member_id == "alice")).one()
        url = f"http://127.0.0.1:{own.port}/?token={own.token}"
        dave_token = s.scalars(
            select(CourseLabRow.token).where(CourseLabRow.member_id == "dave")
        ).one()
    page = alice.get(f"/courses/sessions/{sid}").text
    assert f'<a class="button" href="{url}"' in page and ">Open my lab</a>" in page
    assert dave_token not in page  # another learner's lab is not theirs to open
    roster = pages.visitor("carol", again=True).get(f"/courses/sessions/{sid}").text
    assert "<td>alice</td><td>enrolled</td><td>self</td>" in roster and "<td>ready</td>" in roster
    assert own.token not in roster  # instructors see each lab's state, never its token
    with pages.store.session() as s:
        s.get_one(CourseLabRow, own.id).state = "stopped"
    stopped = alice.get(f"/courses/sessions/{sid}").text
    assert "Open my lab" not in stopped and "Start my lab again" in stopped
    again = alice.post(f"/courses/sessions/{sid}/lab")
    assert again.headers["location"].endswith("done=lab")
    with pages.store.session() as s:
        mine = s.scalars(select(CourseLabRow).where(CourseLabRow.member_id == "alice")).all()
        assert [lab.state for lab in mine] == ["stopped", "starting"]


def test_a_cancelled_session_says_so_and_takes_no_enrolment(pages: Pages) -> None:
    from aitc.control.courses.sessionchanges import cancel_session
    from aitc.control.store.models import CourseSessionRow

    sid = a_session(pages)
    dave = pages.visitor("dave")
    assert dave.post(f"/courses/sessions/{sid}/enrol").status_code == 303
    with pages.store.session() as s:  # as `aitc lab apply --prune-enrolled` cancels it
        cancel_session(session=s, row=s.get_one(CourseSessionRow, sid), now=pages.clock.now())
    page = dave.get(f"/courses/sessions/{sid}").text
    assert "This session was cancelled; your enrolment in it is cancelled." in page
    assert "none held: the session was cancelled" in page and "Cancel my enrolment" not in page
    assert f'session {sid}</span> <span class="badge">cancelled</span>' in dave.get("/courses").text
    refused = pages.visitor("alice").post(f"/courses/sessions/{sid}/enrol")
    assert refused.status_code == 409 and f"session {sid} was cancelled" in refused.text

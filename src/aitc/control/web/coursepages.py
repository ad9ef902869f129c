"""Courses: the calendar of sessions with their seats, a session's page (enrol, cancel, the
learner's lab and certificate, the roster for its instructors), and the course catalog.

Everything goes through the courses package the API's routes call (``catalog``,
``sessions``, ``enrolment``, ``labs``, ``certificates``) with the signed-in member as the
caller, so who may enrol whom, see a roster or a certificate is the API's rule. A session's
seats and waitlist are counted as the API counts them (``SessionPublic``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from aitc.control.api.deps import notify
from aitc.control.courses import catalog, certificates, enrolment, labs, sessions
from aitc.control.courses.labroutes import lab_settings
from aitc.control.courses.labschemas import LabPublic
from aitc.control.courses.schemas import EnrolmentPublic, SessionPublic
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    SessionInstructorRow,
)
from aitc.control.web.paging import PageNumber, Paging
from aitc.control.web.render import HEADERS, Visit, WebRoute, form, now, visit
from aitc.errors import AccessDeniedError, ConfigError, ConflictError, NotFoundError

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Flag = Annotated[str, Query(max_length=8)]
NOTICES = {
    "enrolled": "You are enrolled.",
    "waitlisted": "The seats are taken: you are on the waitlist, and get a seat if one frees.",
    "cancelled": "Your enrolment is cancelled.",
    "lab": "Your lab is starting; this page shows its link once it answers.",
}


def _session_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise NotFoundError(f"no session {text!r}")
    return int(text)


def _publics(v: Visit, rows: list[CourseSessionRow]) -> list[SessionPublic]:
    """The sessions as the API shows them (seats taken, waitlist, instructors)."""
    ids = [r.id for r in rows]
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    stmt = (
        select(EnrolmentRow.session_id, EnrolmentRow.state, func.count())
        .where(EnrolmentRow.session_id.in_(ids))
        .group_by(EnrolmentRow.session_id, EnrolmentRow.state)
    )
    for sid, state, n in v.session.execute(stmt):
        counts[sid][state] = n
    teachers: dict[int, list[str]] = defaultdict(list)
    stmt2 = select(SessionInstructorRow).where(SessionInstructorRow.session_id.in_(ids))
    for t in v.session.scalars(stmt2.order_by(SessionInstructorRow.member_id)):
        teachers[t.session_id].append(t.member_id)
    return [SessionPublic.of(r, teachers[r.id], counts[r.id]) for r in rows]


def _mine(v: Visit, member_id: str, ids: list[int]) -> dict[int, str]:
    stmt = select(EnrolmentRow.session_id, EnrolmentRow.state).where(
        EnrolmentRow.member_id == member_id, EnrolmentRow.session_id.in_(ids)
    )
    return {sid: state for sid, state in v.session.execute(stmt)}


def _month(start: datetime | None) -> str:
    return start.strftime("%B %Y") if start else "-"


@router.get("/courses")
def courses_page(request: Request, past: Flag = "", page: PageNumber = 1) -> Response:
    with visit(request) as v:
        me, t = v.me, now(request)
        rows = [
            r
            for r in sessions.list_sessions(session=v.session)
            if (r.end_at <= t) == (past == "yes")
        ]
        if past == "yes":
            rows.reverse()  # the latest first
        paging = Paging(page, len(rows), query=(("past", past),))
        shown = _publics(v, rows[paging.offset : paging.offset + paging.size])
        titles = {c.id: c for c in catalog.list_courses(session=v.session)}
        months: dict[str, list[SessionPublic]] = {}
        for s in shown:
            months.setdefault(_month(s.start), []).append(s)
        return v.render(
            "courses.html", months=months, courses=titles, paging=paging, past=past == "yes",
            mine=_mine(v, me.member_id, [s.id for s in shown]),
        )  # fmt: skip


@router.get("/courses/sessions/{session_id}")
def session_page(
    request: Request,
    session_id: str,
    done: Annotated[str, Query(max_length=16)] = "",
    page: PageNumber = 1,
) -> Response:
    with visit(request) as v:
        return _session(v, _session_id(session_id), NOTICES.get(done, ""), page=page)


def _session(
    v: Visit, sid: int, notice: str = "", error: str = "", status: int = 200, page: int = 1
) -> Response:
    me, t = v.me, now(v.request)
    row = sessions.get_session(session=v.session, session_id=sid)
    (public,) = _publics(v, [row])
    course = v.session.get_one(CourseRow, row.course_id)
    teacher = sessions.is_teacher(session=v.session, caller=me, session_id=sid)
    roster = enrolment.roster(session=v.session, caller=me, session_id=sid)
    mine = next((e for e in roster if e.member_id == me.member_id), None)
    lab = _own_lab(v, sid, course)
    certs = certificates.list_certificates(session=v.session, caller=me, session_id=sid)
    own_cert = next((c for c in certs if c.member_id == me.member_id), None)
    lab_states = {}
    if teacher:
        lab_states = {
            lab_row.member_id: lab_row.state
            for lab_row in labs.session_labs(session=v.session, caller=me, session_id=sid)
        }
    paging = Paging(page, len(roster) if teacher else 0)
    shown = roster[paging.offset : paging.offset + paging.size] if teacher else []
    return v.render(
        "course_session.html", status, s=public, course=course, teacher=teacher,
        roster=[EnrolmentPublic.of(e) for e in shown], paging=paging,
        mine=EnrolmentPublic.of(mine) if mine else None, lab=lab, lab_states=lab_states,
        certificate=own_cert.credential if own_cert else None,
        phase=_phase(row, t),
        may_cancel=t <= row.cancel_deadline_at or teacher, notice=notice, error=error,
        refresh=10 if row.start_at <= t < row.end_at else 0,
    )  # fmt: skip


def _phase(row: CourseSessionRow, t: float) -> str:
    if row.cancelled_at is not None:
        return "cancelled"
    return "ended" if t >= row.end_at else "on" if t >= row.start_at else "upcoming"


def _own_lab(v: Visit, sid: int, course: CourseRow) -> LabPublic | None:
    try:
        row = labs.own_lab(session=v.session, caller=v.me, session_id=sid)
    except NotFoundError:
        return None
    facts = labs.facts_of(session=v.session, lab=row)
    return LabPublic.of(row, facts, labs.rules_of(course), own=True)


@router.post("/courses/sessions/{session_id}/{action}")
async def session_action(request: Request, session_id: str, action: str) -> Response:
    await form(request)
    sid = _session_id(session_id)
    if action not in ("enrol", "cancel", "lab"):
        raise NotFoundError(f"no action {action!r}")
    try:
        with visit(request, write=True) as v:
            me, t = v.me, now(request)
            if action == "enrol":
                done = enrolment.enrol(
                    session=v.session, caller=me, session_id=sid, member_id=None, now=t
                ).state
            elif action == "cancel":
                enrolment.cancel(
                    session=v.session, caller=me, session_id=sid, member_id=None, now=t
                )
                done = "cancelled"
            else:
                labs.restart_lab(
                    session=v.session, caller=me, session_id=sid,
                    settings=lab_settings(request), now=t,
                )  # fmt: skip
                done = "lab"
    except (ConfigError, ConflictError, AccessDeniedError) as exc:  # rolled back
        message = exc.reason if isinstance(exc, ConfigError) else str(exc)
        with visit(request) as v:
            return _session(v, sid, error=message, status=409)
    notify(request.app.state.settings)
    return RedirectResponse(f"/courses/sessions/{sid}?done={done}", 303, headers=HEADERS)


@router.get("/courses/sessions/{session_id}/certificate.json")
def certificate_file(request: Request, session_id: str) -> Response:
    """The signed credential as issued (Open Badges 3.0 JSON), to keep or show others."""
    sid = _session_id(session_id)
    with visit(request) as v:
        me = v.me
        certs = certificates.list_certificates(session=v.session, caller=me, session_id=sid)
        own = next((c for c in certs if c.member_id == me.member_id), None)
        if own is None:
            raise NotFoundError(f"you have no certificate of session {sid}")
        body: dict[str, Any] = own.credential
    day = datetime.fromtimestamp(now(request), UTC).strftime("%Y%m%d")
    headers = {
        **HEADERS,
        "Content-Disposition": f'attachment; filename="certificate-session-{sid}-{day}.json"',
    }
    return Response(json.dumps(body, indent=2), 200, headers, media_type="application/json")

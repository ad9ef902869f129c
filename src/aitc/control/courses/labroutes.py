"""/api/v1 learners' labs and assessments (see docs/courses.md, "Labs" and "Assessment").

A learner reads and restarts their own lab and asks for their own assessment; a session's
instructors (and admins) list its labs, without their tokens, and assess its learners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from sqlalchemy.orm import Session

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep, after_commit
from aitc.control.api.errors import Utf8Route
from aitc.control.courses import assessment, labs
from aitc.control.courses.labschemas import (
    AssessmentCreate,
    AssessmentPublic,
    AssessmentsPublic,
    LabPublic,
    LabsPublic,
)
from aitc.control.store.access import Caller
from aitc.control.store.models import CourseLabRow, CourseRow, CourseSessionRow

router = APIRouter(tags=["courses"], route_class=Utf8Route)
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def lab_settings(request: Request) -> labs.LabSettings:
    """The server's lab settings (``aitc serve --lab-*``; the defaults for a bare app)."""
    found = getattr(request.app.state, "lab_settings", None)
    return found if isinstance(found, labs.LabSettings) else labs.LabSettings()


def _public(s: Session, lab: CourseLabRow, caller: Caller) -> LabPublic:
    row = s.get(CourseSessionRow, lab.session_id)
    course = s.get(CourseRow, row.course_id) if row is not None else None
    assert course is not None
    facts = labs.facts_of(session=s, lab=lab)
    return LabPublic.of(lab, facts, labs.rules_of(course), own=lab.member_id == caller.member_id)


@router.get("/course-sessions/{session_id}/lab", response_model=LabPublic)
def show_lab(session_id: SessionId, session: SessionDep, caller: CallerDep) -> LabPublic:
    """The caller's lab in the session, with its connect URL."""
    lab = labs.own_lab(session=session, caller=caller, session_id=session_id)
    return _public(session, lab, caller)


@router.post("/course-sessions/{session_id}/lab", response_model=LabPublic)
def restart_lab(
    session_id: SessionId,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> LabPublic:
    """Start the caller's lab again after it stopped (the running one if it runs)."""
    lab = labs.restart_lab(
        session=session, caller=caller, session_id=session_id,
        settings=lab_settings(request), now=settings.clock.now(),
    )  # fmt: skip
    after_commit(session, settings)
    return _public(session, lab, caller)


@router.get("/course-sessions/{session_id}/labs", response_model=LabsPublic)
def list_labs(session_id: SessionId, session: SessionDep, caller: CallerDep) -> LabsPublic:
    """Every lab of the session, without tokens (its instructors and admins)."""
    rows = labs.session_labs(session=session, caller=caller, session_id=session_id)
    data = [_public(session, lab, caller) for lab in rows]
    return LabsPublic(data=data, count=len(data))


@router.post(
    "/course-sessions/{session_id}/assessments",
    response_model=AssessmentsPublic,
    status_code=status.HTTP_201_CREATED,
)
def assess(
    session_id: SessionId,
    body: AssessmentCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> AssessmentsPublic:
    """Run the course's assessment on the seats of ``members`` (see ``AssessmentCreate``)."""
    runs = assessment.request_assessments(
        session=session, caller=caller, session_id=session_id, members=body.members,
        now=settings.clock.now(),
    )  # fmt: skip
    after_commit(session, settings)
    return AssessmentsPublic(data=[AssessmentPublic.of(r) for r in runs], count=len(runs))


@router.get("/course-sessions/{session_id}/assessments", response_model=AssessmentsPublic)
def list_assessments(
    session_id: SessionId, session: SessionDep, caller: CallerDep
) -> AssessmentsPublic:
    """The session's assessment runs (its instructors and admins), or the caller's own."""
    runs = assessment.list_assessments(session=session, caller=caller, session_id=session_id)
    return AssessmentsPublic(data=[AssessmentPublic.of(r) for r in runs], count=len(runs))

"""API bodies of learners' labs and assessments (``LabPublic``, ``AssessmentCreate``, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from aitc.control.api.schemas import Name, when
from aitc.control.courses.labrules import LabFacts, stops_at
from aitc.control.courses.labs import LIVE
from aitc.control.store.models import CourseAssessmentRow, CourseLabRow
from aitc.domain.courselab import LabRules


class LabPublic(BaseModel):
    """A learner's lab. ``url`` (with the lab's token) is given to its learner only, once the
    lab's node is known; ``stops_at`` is when an idle lab stops unless something happens."""

    id: int
    session: int
    member: str
    job: int
    state: str
    url: str | None
    host: str
    port: int
    started_at: datetime | None
    ready_at: datetime | None
    reached_at: datetime | None
    last_active_at: datetime | None
    warned_at: datetime | None
    stops_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str

    @classmethod
    def of(cls, lab: CourseLabRow, facts: LabFacts, rules: LabRules, *, own: bool) -> LabPublic:
        live = lab.state in LIVE
        url = (
            f"http://{lab.host}:{lab.port}/?token={lab.token}"
            if own and live and lab.host
            else None
        )
        ends = stops_at(facts, rules) if lab.state in ("ready", "warned") else None
        return cls(
            id=lab.id, session=lab.session_id, member=lab.member_id, job=lab.job_id,
            state=lab.state, url=url, host=lab.host, port=lab.port,
            started_at=when(lab.started_at), ready_at=when(lab.ready_at),
            reached_at=when(lab.reached_at), last_active_at=when(lab.last_active_at),
            warned_at=when(lab.warned_at), stops_at=when(ends), stopped_at=when(lab.stopped_at),
            stop_reason=lab.stop_reason,
        )  # fmt: skip


class LabsPublic(BaseModel):
    data: list[LabPublic]
    count: int


class AssessmentCreate(BaseModel):
    """Whom to assess: nobody named means the caller (a learner), or for the session's
    instructors every learner on a seat without a result."""

    model_config = ConfigDict(extra="forbid")
    members: Annotated[list[Name], Field(max_length=10_000)] = []


class AssessmentPublic(BaseModel):
    id: int
    session: int
    member: str
    job: int
    state: str
    exit_code: int | None
    requested_by: str
    requested_at: datetime | None
    ended_at: datetime | None
    cause: str

    @classmethod
    def of(cls, run: CourseAssessmentRow) -> AssessmentPublic:
        return cls(
            id=run.id, session=run.session_id, member=run.member_id, job=run.job_id,
            state=run.state, exit_code=run.exit_code, requested_by=run.requested_by,
            requested_at=when(run.requested_at), ended_at=when(run.ended_at), cause=run.cause,
        )  # fmt: skip


class AssessmentsPublic(BaseModel):
    data: list[AssessmentPublic]
    count: int

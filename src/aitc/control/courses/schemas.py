"""API bodies of the courses routes (``CourseCreate`` in, ``CoursePublic`` out, ...)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from aitc.control.api.schemas import Name, Text, when
from aitc.control.courses.sessions import SessionCreate
from aitc.control.store.models import CourseRow, CourseSessionRow, EnrolmentRow
from aitc.domain.courselab import DEFAULT_LAB_RULES, MAX_MINUTES, LabRules

if TYPE_CHECKING:
    from aitc.control.courses.impact import SessionCheck

Title = Annotated[Text, Field(min_length=1, max_length=200)]
Argv = Annotated[list[Annotated[Text, Field(max_length=4096)]], Field(max_length=256)]
Seats = Annotated[int, Field(ge=1, le=100_000)]
Minutes = Annotated[float, Field(ge=0, le=MAX_MINUTES)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CourseCreate(_Body):
    id: Name
    title: Title
    org: Name
    hours: Annotated[float, Field(gt=0, le=10_000)] = 3.0
    description: Annotated[Text, Field(max_length=10_000)] = ""
    mig_profile: Annotated[Text, Field(max_length=32)] | None = None
    gpus_per_seat: Annotated[int, Field(ge=1, le=1024)] = 1
    seats: Annotated[int, Field(ge=0, le=100_000)] = 0
    lab_command: Argv = []
    assessment_command: Argv = []
    criteria: Annotated[Text, Field(max_length=10_000)] = ""
    no_show_min: Minutes = DEFAULT_LAB_RULES.no_show_min
    idle_limit_min: Minutes = DEFAULT_LAB_RULES.idle_limit_min
    idle_warning_min: Minutes = DEFAULT_LAB_RULES.idle_warning_min
    assessment_limit_min: Minutes = DEFAULT_LAB_RULES.assessment_limit_min

    def lab_rules(self) -> LabRules:
        return LabRules(
            no_show_min=self.no_show_min,
            idle_limit_min=self.idle_limit_min,
            idle_warning_min=self.idle_warning_min,
            assessment_limit_min=self.assessment_limit_min,
        )


class CoursePublic(BaseModel):
    id: str
    title: str
    org: str
    hours: float
    description: str
    mig_profile: str | None
    gpus_per_seat: int
    seats: int
    lab_command: list[Any]
    assessment_command: list[Any]
    criteria: str
    no_show_min: float
    idle_limit_min: float
    idle_warning_min: float
    assessment_limit_min: float
    instructors: list[CertificationPublic] = []

    @classmethod
    def of(cls, c: CourseRow, certs: list[CertificationPublic] | None = None) -> CoursePublic:
        return cls(
            id=c.id, title=c.title, org=c.org_id, hours=c.hours, description=c.description,
            mig_profile=c.mig_profile, gpus_per_seat=c.gpus_per_seat, seats=c.seats,
            lab_command=c.lab_command, assessment_command=c.assessment_command,
            criteria=c.criteria, no_show_min=c.no_show_min, idle_limit_min=c.idle_limit_min,
            idle_warning_min=c.idle_warning_min, assessment_limit_min=c.assessment_limit_min,
            instructors=certs or [],
        )  # fmt: skip


class CoursesPublic(BaseModel):
    data: list[CoursePublic]
    count: int


class CertificationCreate(_Body):
    member: Name
    expires: date | None = None


class CertificationPublic(BaseModel):
    member: str
    issued_at: datetime | None
    expires_at: datetime | None


class SessionCreateBody(_Body):
    course: Name
    start: datetime
    end: datetime
    seats: Seats | None = None
    instructors: Annotated[list[Name], Field(max_length=20)] = []
    org: Name | None = None
    location: Annotated[Text, Field(max_length=200)] = ""
    remote: bool = False
    waitlist: Annotated[int, Field(ge=0, le=100_000)] | None = None
    cancel_deadline: datetime | None = None


class SessionPublic(BaseModel):
    """A session as shown: ``reservation`` None and ``cancelled`` set once it is cancelled;
    ``origin``: ``instructor`` (made by hand) or ``calendar`` (by ``aitc lab apply``)."""

    id: int
    course: str
    reservation: str | None
    org: str
    start: datetime | None
    end: datetime | None
    seats: int
    waitlist: int
    enrolled: int
    waitlisted: int
    cancel_deadline: datetime | None
    location: str
    remote: bool
    instructors: list[str]
    origin: str
    cancelled: datetime | None

    @classmethod
    def of(
        cls, s: CourseSessionRow, instructors: list[str], counts: dict[str, int]
    ) -> SessionPublic:
        return cls(
            id=s.id, course=s.course_id, reservation=s.reservation_id, org=s.org_id,
            start=when(s.start_at), end=when(s.end_at), seats=s.seats, waitlist=s.waitlist,
            enrolled=counts.get("enrolled", 0), waitlisted=counts.get("waitlisted", 0),
            cancel_deadline=when(s.cancel_deadline_at), location=s.location, remote=s.remote,
            instructors=instructors, origin=s.origin,
            cancelled=when(s.cancelled_at),
        )  # fmt: skip


class SessionsPublic(BaseModel):
    data: list[SessionPublic]
    count: int


class EnrolmentCreate(_Body):
    member: Name | None = None


class RosterImport(_Body):
    members: Annotated[list[Name], Field(min_length=1, max_length=10_000)]


class ResultCreate(_Body):
    member: Name
    result: Annotated[str, Field(pattern="^(attended|passed|failed)$")]


class EnrolmentPublic(BaseModel):
    id: int
    session: int
    member: str
    state: str
    source: str
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, e: EnrolmentRow) -> EnrolmentPublic:
        return cls(
            id=e.id, session=e.session_id, member=e.member_id, state=e.state, source=e.source,
            created_at=when(e.created_at), updated_at=when(e.updated_at),
        )  # fmt: skip


class EnrolmentsPublic(BaseModel):
    data: list[EnrolmentPublic]
    count: int


class CertificatesPublic(BaseModel):
    """Signed credentials, each the whole JSON document as issued."""

    data: list[dict[str, Any]]
    count: int


def session_request(body: SessionCreateBody) -> SessionCreate:
    """The session a create (or check) body asks for."""
    return SessionCreate(
        course=body.course, start=body.start.timestamp(), end=body.end.timestamp(),
        seats=body.seats, instructors=tuple(body.instructors), org=body.org,
        location=body.location, remote=body.remote, waitlist=body.waitlist,
        cancel_deadline=body.cancel_deadline.timestamp() if body.cancel_deadline else None,
    )  # fmt: skip


class SessionCheckBody(SessionCreateBody):
    """A session to check: as created, plus the weeks of recorded load to replay."""

    weeks: Annotated[int, Field(ge=1, le=8)] = 2


class OrgCostPublic(BaseModel):
    organisation: str
    jobs: int
    mean_wait_without_s: float | None
    mean_wait_with_s: float | None
    p90_wait_without_s: float | None
    p90_wait_with_s: float | None
    extra_wait_h: float
    delayed_jobs: int


class SessionCheckPublic(BaseModel):
    """What the session would cost research: recorded load replayed with and without it."""

    course: str
    start: datetime | None
    end: datetime | None
    seats: int
    policy: str
    weeks: int
    recorded_since: datetime | None
    recorded_until: datetime | None
    jobs: int
    extra_wait_h: float
    delayed_jobs: int
    per_org: list[OrgCostPublic]

    @classmethod
    def of(cls, c: SessionCheck) -> SessionCheckPublic:
        r, cost = c.reservation, c.cost
        return cls(
            course=c.course, start=when(r.start), end=when(r.end), seats=c.seats,
            policy=c.policy, weeks=c.weeks,
            recorded_since=when(c.recorded_since), recorded_until=when(c.recorded_until),
            jobs=cost.jobs, extra_wait_h=cost.extra_wait_h, delayed_jobs=cost.delayed_jobs,
            per_org=[OrgCostPublic(**dataclasses.asdict(o)) for o in cost.per_org],
        )  # fmt: skip


class VerificationPublic(BaseModel):
    """A credential checked: ``verified``, else the check that failed (``schema``,
    ``signature``, ``status`` or ``validity``), its reason code and what exactly failed."""

    id: str
    verified: bool
    checks: list[str]
    failed_check: str | None
    reason: str | None
    message: str | None
    revoked_at: datetime | None


class CredentialRevoked(BaseModel):
    id: str
    member: str
    revoked_at: datetime | None

"""The tables of the control-plane store, as SQLAlchemy 2 typed models.

Times are seconds since the epoch (``float``), the unit the engine plans in, so the controller
never converts. Every state change of a job is also a row of ``job_events``, which is only ever
appended to. Members are disabled, never deleted, so their jobs and events keep an owner.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aitc.domain.courselab import DEFAULT_LAB_RULES

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class RoleRow(Base):
    """One of the five roles (admin, instructor, member, learner, partner), seeded by migration."""

    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class OrganisationRow(Base):
    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    share: Mapped[float] = mapped_column(Float, default=1.0)
    quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    borrow_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    share: Mapped[float] = mapped_column(Float, default=1.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class MemberRow(Base):
    """A person (or a service) with a role; ``org_id`` is empty for the operators' admin."""

    __tablename__ = "members"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), nullable=True)
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The Unix account the member's jobs run as; NULL means the member id.
    unix_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    uid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Per-member limits from lab.yaml (max_pending_jobs, max_running_gpus, submissions_per_minute).
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ProjectMemberRow(Base):
    """Which members belong to which projects (a member may be in several)."""

    __tablename__ = "project_members"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)


class ApiTokenRow(Base):
    """An API token: only the SHA-256 of its secret is kept; ``prefix`` helps people tell
    tokens apart without revealing them."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class JobRow(Base):
    """One job: the request (``spec`` plus the columns the scheduler filters on), where it runs,
    and how its life went. ``pending_reasons`` and ``estimated_start`` are written by the
    controller after each scheduling pass; ``cancel_requested`` asks it to stop a running job;
    a ``held`` pending job is left out of scheduling until it is released. The tasks of a job
    array share ``array_job_id`` (the id of the first task) and each has its ``array_task_id``;
    ``array_throttle`` caps how many of them run at once. ``dependency`` names the jobs it waits
    for (``aitc.domain.dependency``, canonical form); ``begin_at`` is the earliest time it may
    start (sbatch's ``--begin``; every task of an array has it). The controller records ``handle``
    (pid, Slurm job id) and the log files of the current attempt (``stdout_path``,
    ``stderr_path``) when it dispatches; the API serves logs from them."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("member_id", "idempotency_key", name="uq_jobs_member_idempotency_key"),
        Index("ix_jobs_state_id", "state", "id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    gpus: Mapped[int] = mapped_column(Integer)
    mig: Mapped[str | None] = mapped_column(String(32), nullable=True)
    nodes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gpu_model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    time_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    placement: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    submitted_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    cause: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # a signal asked for the running job (``USR1``, ``B:USR1``), sent and cleared by the
    # controller at its next pass
    signal_request: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    # a running job's new time limit (seconds from its start), pushed to its executor and
    # cleared by the controller at its next pass (``time_limit`` holds it already)
    time_limit_request: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    # a running job asked back to the queue (``requeue MEMBER``, or ``hold MEMBER``: held once
    # back), stopped and requeued by the controller at its next pass, which clears it
    requeue_request: Mapped[str | None] = mapped_column(String(80), nullable=True, default=None)
    pending_reasons: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    estimated_start: Mapped[float | None] = mapped_column(Float, nullable=True)
    handle: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stdout_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    stderr_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    array_job_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    array_task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    array_throttle: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dependency: Mapped[str | None] = mapped_column(Text, nullable=True)
    begin_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class JobEventRow(Base):
    """One state change of a job; rows are appended, never updated or deleted."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    cause: Mapped[str] = mapped_column(Text, default="")


class MailOutboxRow(Base):
    """One e-mail about a job, written in the transaction that changed the job (an outbox):
    ``queued`` until the mailer hands it to the SMTP server (``sent``), gives up on it
    (``failed``) or finds it has none (``dropped``). ``(job_id, attempt, kind)`` is unique, so
    a mail is queued once whoever asks twice (an array's summary uses attempt 0)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        UniqueConstraint("job_id", "attempt", "kind"),
        Index("ix_mail_outbox_state_next_try_at", "state", "next_try_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")


class ReservationRow(Base):
    __tablename__ = "reservations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    start_at: Mapped[float] = mapped_column(Float)
    end_at: Mapped[float] = mapped_column(Float)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    nodes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    mig_profile: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mig_seats: Mapped[int] = mapped_column(Integer, default=0)


class NodeRow(Base):
    """A node the executor can run on, as last reported by it."""

    __tablename__ = "nodes"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    gpus: Mapped[int] = mapped_column(Integer)
    gpu_model: Mapped[str] = mapped_column(String(64))
    node_model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="up")
    reason: Mapped[str] = mapped_column(Text, default="")
    leaf: Mapped[int] = mapped_column(Integer, default=0)
    su: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class NodeDrainRow(Base):
    """An admin's state for a node (``aitc node drain`` / ``down``, as ``scontrol update
    NodeName=X State=DRAIN Reason=...``): kept apart from ``nodes``, which the executor's reports
    overwrite, until ``aitc node resume`` deletes it. ``state`` is ``drain`` or ``down``."""

    __tablename__ = "node_drains"
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[float] = mapped_column(Float)


class JobGpuUsageRow(Base):
    """What one attempt's GPUs did, from NVML samples (``aitc.control.gpuusage``): written by
    the controller while the attempt runs; no row at all when nothing was sampled (virtual
    GPUs). Utilisation and power are NULL for devices that do not report them (MIG slices)."""

    __tablename__ = "job_gpu_usage"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    devices: Mapped[int] = mapped_column(Integer)
    util_mean_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    util_p95_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    idle_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_mean_mib: Mapped[float] = mapped_column(Float)
    memory_max_mib: Mapped[float] = mapped_column(Float)
    power_mean_w: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


# Courses (``aitc.control.courses``): a course is taught in sessions; each session holds a
# reservation of exactly its seats; members enrol in a session; a passed enrolment earns a
# signed certificate.


class CourseRow(Base):
    """A workshop: its seat shape (``mig_profile`` slices, else ``gpus_per_seat`` whole GPUs),
    its lab and assessment commands (JSON argv lists) and what achieving it means."""

    __tablename__ = "courses"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    hours: Mapped[float] = mapped_column(Float, default=3.0)
    description: Mapped[str] = mapped_column(Text, default="")
    mig_profile: Mapped[str | None] = mapped_column(String(32), nullable=True)
    gpus_per_seat: Mapped[int] = mapped_column(Integer, default=1)
    seats: Mapped[int] = mapped_column(Integer, default=0)
    lab_command: Mapped[list[Any]] = mapped_column(JSON, default=list)
    assessment_command: Mapped[list[Any]] = mapped_column(JSON, default=list)
    criteria: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # how its labs are kept, in minutes (``aitc.domain.courselab.LabRules``)
    no_show_min: Mapped[float] = mapped_column(Float, default=DEFAULT_LAB_RULES.no_show_min)
    idle_limit_min: Mapped[float] = mapped_column(Float, default=DEFAULT_LAB_RULES.idle_limit_min)
    idle_warning_min: Mapped[float] = mapped_column(
        Float, default=DEFAULT_LAB_RULES.idle_warning_min
    )
    assessment_limit_min: Mapped[float] = mapped_column(
        Float, default=DEFAULT_LAB_RULES.assessment_limit_min
    )


class InstructorCertificationRow(Base):
    """A member certified to teach a course from ``issued_at`` until ``expires_at`` (NULL:
    no end)."""

    __tablename__ = "instructor_certifications"
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class CourseSessionRow(Base):
    """One session of a course: its window, seats, billed organisation, place, and the
    reservation (``reservation_id``) that holds its seats in the engine. ``origin`` says who
    made it: ``instructor`` (by hand, through the API) or ``calendar`` (``aitc lab apply``
    from lab.yaml's calendar, which alone changes and removes such sessions). A cancelled
    session (``cancelled_at``) holds no seats (no reservation) and its enrolments are
    cancelled."""

    __tablename__ = "course_sessions"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), index=True)
    reservation_id: Mapped[str | None] = mapped_column(
        ForeignKey("reservations.id"), unique=True, nullable=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    start_at: Mapped[float] = mapped_column(Float)
    end_at: Mapped[float] = mapped_column(Float)
    seats: Mapped[int] = mapped_column(Integer)
    waitlist: Mapped[int] = mapped_column(Integer, default=0)
    cancel_deadline_at: Mapped[float] = mapped_column(Float)
    location: Mapped[str] = mapped_column(String(200), default="")
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(16), default="instructor")
    cancelled_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SessionInstructorRow(Base):
    """Who teaches a session (one or more certified instructors)."""

    __tablename__ = "session_instructors"
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)


class EnrolmentRow(Base):
    """A member in a session: enrolled, waitlisted (in ``id`` order), cancelled, attended,
    passed or failed."""

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("session_id", "member_id", name="uq_enrolments_session_member"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="self")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class CertificateRow(Base):
    """A signed Open Badges 3.0 credential for a passed enrolment, as issued (``credential``,
    the whole JSON document)."""

    __tablename__ = "certificates"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), unique=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    issued_at: Mapped[float] = mapped_column(Float)
    credential: Mapped[dict[str, Any]] = mapped_column(JSON)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class CourseLabRow(Base):
    """A learner's lab in a session: a job of theirs on their seat (``job_id``) serving on
    ``port`` of ``host`` with a token of its own. ``state``: starting, ready (answers),
    warned (idle, stops soon), stopped (``stop_reason`` says why). ``reached_at`` is when the
    learner first reached it; ``seen_activity`` and ``gpu_busy_samples`` are the activity
    last seen, so that the next look can tell whether anything happened since."""

    __tablename__ = "course_labs"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"), index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    port: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[float] = mapped_column(Float)
    ready_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reached_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_active_at: Mapped[float] = mapped_column(Float)
    warned_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    stopped_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    seen_activity: Mapped[str] = mapped_column(String(64), default="")
    gpu_busy_samples: Mapped[int] = mapped_column(Integer, default=0)


class CourseAssessmentRow(Base):
    """One run of a course's assessment command for a learner, as a job of theirs on their
    seat: ``running`` until the job ends, then ``passed`` (exit code 0) or ``failed``."""

    __tablename__ = "course_assessments"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"), index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    requested_by: Mapped[str] = mapped_column(ID)
    requested_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cause: Mapped[str] = mapped_column(Text, default="")


class LabApplyRow(Base):
    """One application of lab.yaml to the store (``aitc lab apply``, or ``aitc serve --lab``
    at start-up): when, which lab, and the changes it made in words."""

    __tablename__ = "lab_applies"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    applied_at: Mapped[float] = mapped_column(Float)
    lab: Mapped[str] = mapped_column(String(200))
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)

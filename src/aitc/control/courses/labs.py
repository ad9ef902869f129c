"""Learner labs: at a session's start each seated learner's lab starts on their seat, as a job
of theirs, and aitc follows it until it stops.

- A lab is a job of the learner (their member id, so it runs as their Unix account), charged
  to the session's organisation, the one its reservation holds the seats for: in the
  learner's own project of that organisation, else the organisation's first project. It asks
  for the course's seat (a MIG slice, or whole GPUs) until the session ends, so the engine
  places it on the session's reserved seats.
- By default it is a Jupyter server (``jupyter-server``, a dependency of aitc) run by
  ``LabSettings.python``, listening on ``LabSettings.bind`` at a port aitc allocates, with a
  token of its own in ``JUPYTER_TOKEN`` (a secret variable: the jobs API shows it to nobody
  but its learner and admins). A course's ``lab_command`` replaces it; it finds its port and
  token in ``JUPYTER_PORT``/``AITC_LAB_PORT`` and ``JUPYTER_TOKEN``.
- States: ``starting`` (the job waits for its seat or the server for its port), ``ready``
  (it answered), ``warned`` (idle, stops soon), ``stopped`` (``stop_reason``, which starts
  with ``no-show:``, ``idle:``, ``assessment:``, ``ended:`` or ``failed:``). A lab that
  failed before it ever answered is started again on another port, up to
  ``MAX_FAILED_STARTS`` times; one that aitc stopped is not (its learner may start it again).
- The keeper (``keeper.py``) looks at every running lab with its token: the first time the
  learner has used it, the enrolment becomes ``attended``; what it does counts as activity
  for the idle rule (``labrules.py``).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.courses.enrolment import first_waitlisted, promote_waitlisted
from aitc.control.courses.labprobe import LabStatus, ProbeTarget
from aitc.control.courses.labrules import LabFacts, Verdict, gpu_busy_samples, verdict
from aitc.control.courses.sessions import get_session, require_teacher
from aitc.control.store.access import Caller
from aitc.control.store.gpu_usage import gpu_usage_of
from aitc.control.store.jobs import create_job, transition
from aitc.control.store.models import (
    CourseAssessmentRow,
    CourseLabRow,
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    JobRow,
    ProjectMemberRow,
    ProjectRow,
)
from aitc.control.store.specs import MIN_TIME_LIMIT_S, JobSpec, placement_from_json
from aitc.domain.courselab import LabRules
from aitc.domain.job import JobState
from aitc.domain.org import Role
from aitc.errors import AitcError, ConfigError, NotFoundError

log = logging.getLogger(__name__)
LIVE = ("starting", "ready", "warned")
SEATED = ("enrolled", "attended")  # enrolments whose learner gets a lab
MAX_FAILED_STARTS = 3
_WILDCARD = ("0.0.0.0", "::", "")


@dataclass(frozen=True, slots=True)
class LabSettings:
    """How this server runs labs (``aitc serve --lab-*``).

    ``bind``: the address labs listen on; ``url_host``: the host in connect URLs (default:
    ``bind``, or the lab's node when ``bind`` is a wildcard such as 0.0.0.0); ``ports``: the
    range labs' ports are taken from (first and last); ``python``: the interpreter of the
    default lab (one with jupyter-server that learners' accounts may run; default: the
    server's own); ``tick_s``: how often the keeper looks; ``probe_timeout_s``: how long it
    waits for one lab's answer.
    """

    bind: str = "127.0.0.1"
    url_host: str | None = None
    ports: tuple[int, int] = (20000, 20999)
    python: str = sys.executable
    tick_s: float = 5.0
    probe_timeout_s: float = 2.0

    def host_for(self, node: str) -> str:
        if self.url_host:
            return self.url_host
        return node if self.bind in _WILDCARD else self.bind


def default_lab_command(settings: LabSettings) -> tuple[str, ...]:
    """The default lab: a Jupyter server (its port and token come from the environment)."""
    return (
        settings.python, "-m", "jupyter_server", "--no-browser",
        f"--ServerApp.ip={settings.bind}", "--ServerApp.port_retries=0",
    )  # fmt: skip


def rules_of(course: CourseRow) -> LabRules:
    return LabRules(
        no_show_min=course.no_show_min,
        idle_limit_min=course.idle_limit_min,
        idle_warning_min=course.idle_warning_min,
        assessment_limit_min=course.assessment_limit_min,
    )


# -- seat jobs (labs and assessments) ---------------------------------------------------------


def seat_project(*, session: Session, member_id: str, org_id: str) -> str:
    """The project a learner's seat jobs are charged to (see the module docstring)."""
    own = session.scalar(
        select(ProjectRow.id)
        .join(ProjectMemberRow, ProjectMemberRow.project_id == ProjectRow.id)
        .where(
            ProjectMemberRow.member_id == member_id,
            ProjectRow.org_id == org_id,
            ProjectRow.enabled.is_(True),
        )
        .order_by(ProjectRow.id)
        .limit(1)
    )
    first = own or session.scalar(
        select(ProjectRow.id)
        .where(ProjectRow.org_id == org_id, ProjectRow.enabled.is_(True))
        .order_by(ProjectRow.id)
        .limit(1)
    )
    if first is None:
        raise ConfigError(
            f"organisation {org_id!r} has no project to run the session's labs in; add one",
            field="org",
        )
    return first


def submit_seat_job(
    *,
    session: Session,
    row: CourseSessionRow,
    course: CourseRow,
    member_id: str,
    command: Sequence[str],
    name: str,
    env: dict[str, str],
    time_limit: float,
    key: str,
    now: float,
) -> JobRow:
    """Submit a job of ``member_id`` on one seat of session ``row`` (a lab or an assessment).

    It is submitted on the learner's behalf, as a learner of the session's organisation in
    ``seat_project``: the session grants its seat, so the learner's own submission limits do
    not apply and they need not belong to the organisation.
    """
    project = seat_project(session=session, member_id=member_id, org_id=row.org_id)
    on_behalf = Caller(member_id, Role.LEARNER, row.org_id, frozenset({project}))
    spec = JobSpec(
        command=tuple(command),
        project=project,
        name=name,
        gpus=None if course.mig_profile else course.gpus_per_seat,
        mig=course.mig_profile,
        time_limit=max(MIN_TIME_LIMIT_S, time_limit),
        env=env,
    )
    job, _ = create_job(session=session, spec=spec, caller=on_behalf, now=now, idempotency_key=key)
    return job


def stop_job(*, session: Session, job_id: int, cause: str, now: float) -> None:
    """End a pending job at once or ask the controller to stop an active one, with ``cause``
    (as ``cancel_job`` does for a member, but saying why aitc stops it)."""
    job = session.get(JobRow, job_id)
    if job is None or JobState(job.state).terminal:
        return
    if job.state == JobState.PENDING.value:
        transition(session=session, job=job, to=JobState.CANCELLED, cause=cause, now=now)
    elif not job.cancel_requested:
        job.cancel_requested, job.cause = True, cause


# -- starting labs ----------------------------------------------------------------------------


def _port_free_here(bind: str, port: int) -> bool:
    """Whether ``port`` can be bound on this host (only a local address can say; a remote
    node's clash shows as a lab that fails to start, and is started on another port)."""
    try:
        address = ipaddress.ip_address(bind or "0.0.0.0")
    except ValueError:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Jupyter binds
        try:
            s.bind((str(address), port))
        except OSError:
            return False
    return True


def ports_in_use(session: Session) -> set[int]:
    """The ports held now: live labs' and those of notebooks (``aitc notebook``) that have not
    ended. The one place that knows every Jupyter server aitc gave a port to."""
    taken = set(session.scalars(select(CourseLabRow.port).where(CourseLabRow.state.in_(LIVE))))
    port = JobRow.spec["notebook_port"].as_integer()
    alive = [s.value for s in JobState if not s.terminal]
    held = select(port).where(JobRow.state.in_(alive), port.is_not(None))
    return taken | {int(p) for p in session.scalars(held)}


def free_port(*, session: Session, settings: LabSettings, what: str = "lab") -> int:
    """The lowest port of ``settings.ports`` that no lab or notebook holds
    (``ports_in_use``) and nothing here listens on."""
    taken = ports_in_use(session)
    first, last = settings.ports
    for port in range(first, last + 1):
        if port not in taken and _port_free_here(settings.bind, port):
            return port
    raise ConfigError(f"no free port for a {what} in {first}-{last}", field="lab_ports")


def start_lab(
    *,
    session: Session,
    row: CourseSessionRow,
    enrolment: EnrolmentRow,
    settings: LabSettings,
    now: float,
) -> CourseLabRow:
    """Start ``enrolment``'s lab: a new port and token, and a job on the learner's seat."""
    course = session.get(CourseRow, row.course_id)
    assert course is not None
    port, token = free_port(session=session, settings=settings), secrets.token_urlsafe(24)
    tries = session.scalar(
        select(func.count(CourseLabRow.id)).where(CourseLabRow.enrolment_id == enrolment.id)
    )
    env = {"JUPYTER_TOKEN": token, "JUPYTER_PORT": str(port), "AITC_LAB_PORT": str(port)}
    job = submit_seat_job(
        session=session, row=row, course=course, member_id=enrolment.member_id,
        command=tuple(course.lab_command) or default_lab_command(settings),
        name=f"lab-{course.id}-{row.id}", env=env, time_limit=row.end_at - now,
        key=f"course-lab-{row.id}-{enrolment.id}-{(tries or 0) + 1}", now=now,
    )  # fmt: skip
    lab = CourseLabRow(
        session_id=row.id, enrolment_id=enrolment.id, member_id=enrolment.member_id,
        job_id=job.id, port=port, token=token, host="", state="starting", started_at=now,
        last_active_at=now, stop_reason="", seen_activity="", gpu_busy_samples=0,
    )  # fmt: skip
    session.add(lab)
    session.flush()
    return lab


def _labs_of(session: Session, enrolment_id: int) -> list[CourseLabRow]:
    stmt = select(CourseLabRow).where(CourseLabRow.enrolment_id == enrolment_id)
    return list(session.scalars(stmt.order_by(CourseLabRow.id)))


def _assessing(session: Session, enrolment_id: int) -> bool:
    stmt = select(CourseAssessmentRow.id).where(
        CourseAssessmentRow.enrolment_id == enrolment_id, CourseAssessmentRow.state == "running"
    )
    return session.scalar(stmt.limit(1)) is not None


def _needs_lab(session: Session, enrolment: EnrolmentRow) -> bool:
    labs = _labs_of(session, enrolment.id)
    if any(lab.state in LIVE for lab in labs) or _assessing(session, enrolment.id):
        return False
    failed = [lab for lab in labs if lab.ready_at is None and lab.stop_reason.startswith("failed:")]
    return len(failed) == len(labs) and len(failed) < MAX_FAILED_STARTS


def _try_start(
    session: Session,
    row: CourseSessionRow,
    enrolment: EnrolmentRow,
    settings: LabSettings,
    now: float,
) -> CourseLabRow | None:
    """``start_lab``, or None (logged) when it cannot start now (no free port, no project):
    one lab that cannot start must not stop the others, and a later pass tries again."""
    try:
        with session.begin_nested():
            return start_lab(session=session, row=row, enrolment=enrolment, settings=settings,
                             now=now)  # fmt: skip
    except AitcError as exc:
        log.warning("session %s: cannot start %s's lab: %s", row.id, enrolment.member_id, exc)
        return None


def start_due(*, session: Session, now: float, settings: LabSettings) -> list[CourseLabRow]:
    """Start the lab of every seated learner of every session on now who has none."""
    on = select(CourseSessionRow).where(
        CourseSessionRow.start_at <= now, CourseSessionRow.end_at > now
    )
    started = []
    for row in session.scalars(on.order_by(CourseSessionRow.id)).all():
        seated = select(EnrolmentRow).where(
            EnrolmentRow.session_id == row.id, EnrolmentRow.state.in_(SEATED)
        )
        for enrolment in session.scalars(seated.order_by(EnrolmentRow.id)).all():
            if _needs_lab(session, enrolment):
                lab = _try_start(session, row, enrolment, settings, now)
                started += [lab] if lab is not None else []
    return started


# -- following labs ---------------------------------------------------------------------------


def stop_lab(*, session: Session, lab: CourseLabRow, reason: str, now: float) -> None:
    """Mark ``lab`` stopped with ``reason`` and stop its job."""
    lab.state, lab.stopped_at, lab.stop_reason = "stopped", now, reason
    stop_job(session=session, job_id=lab.job_id, cause=f"lab {reason}", now=now)


def _live(session: Session) -> list[CourseLabRow]:
    stmt = select(CourseLabRow).where(CourseLabRow.state.in_(LIVE)).order_by(CourseLabRow.id)
    return list(session.scalars(stmt))


def follow_jobs(*, session: Session, now: float, settings: LabSettings) -> list[CourseLabRow]:
    """Follow each live lab's job: its host once placed; stopped when the job ended or the
    session did. Returns the labs that stopped."""
    stopped = []
    for lab in _live(session):
        job = session.get(JobRow, lab.job_id)
        row = session.get(CourseSessionRow, lab.session_id)
        assert job is not None and row is not None
        if job.placement:  # placed (again, after a requeue, perhaps elsewhere)
            allocs = placement_from_json(job.placement).allocs
            lab.host = settings.host_for(allocs[0].node) if allocs else lab.host
        state = JobState(job.state)
        enrolment = session.get(EnrolmentRow, lab.enrolment_id)
        if now >= row.end_at or state is JobState.TIMEOUT:
            reason = "ended: the session ended"
        elif enrolment is not None and enrolment.state == "cancelled":
            reason = "ended: the enrolment was cancelled"
        elif state.terminal and lab.ready_at is None:
            reason = f"failed: the lab ended before it answered ({job.cause})"
        elif state.terminal:
            reason = f"ended: {job.cause}"
        else:
            continue
        stop_lab(session=session, lab=lab, reason=reason, now=now)
        stopped.append(lab)
    return stopped


def probe_targets(*, session: Session) -> list[ProbeTarget]:
    """The live labs whose job runs and whose host is known."""
    stmt = (
        select(CourseLabRow)
        .join(JobRow, JobRow.id == CourseLabRow.job_id)
        .where(CourseLabRow.state.in_(LIVE), JobRow.state == JobState.RUNNING.value)
        .order_by(CourseLabRow.id)
    )
    return [
        ProbeTarget(lab.id, f"http://{lab.host}:{lab.port}", lab.token)
        for lab in session.scalars(stmt)
        if lab.host
    ]


def _active(lab: CourseLabRow, now: float) -> None:
    lab.last_active_at = now
    if lab.state == "warned":
        lab.state, lab.warned_at = "ready", None


def observe(*, session: Session, lab: CourseLabRow, status: LabStatus | None, now: float) -> None:
    """Record what a look at ``lab`` found: ready, first reached (the enrolment attended),
    active (Jupyter's last activity moved, or a kernel is busy)."""
    if status is None or lab.state not in LIVE:
        return
    if lab.state == "starting":
        lab.state, lab.ready_at, lab.last_active_at = "ready", now, now
    if status.reached and lab.reached_at is None:
        lab.reached_at = now
        enrolment = session.get(EnrolmentRow, lab.enrolment_id)
        if enrolment is not None and enrolment.state == "enrolled":
            enrolment.state, enrolment.updated_at = "attended", now
    if (status.reached and status.last_activity != lab.seen_activity) or status.busy_kernels:
        _active(lab, now)
    lab.seen_activity = status.last_activity


def observe_gpus(*, session: Session, lab: CourseLabRow, now: float) -> None:
    """Count the lab's GPU samples above idle (where NVML reports utilisation); more than at
    the last look is activity."""
    job = session.get(JobRow, lab.job_id)
    if job is None:
        return
    usage = [
        u for u in gpu_usage_of(session=session, job_id=lab.job_id) if u.attempt == job.attempt
    ]
    busy = sum(gpu_busy_samples(u.samples, u.idle_share) for u in usage)
    if busy > lab.gpu_busy_samples:
        lab.gpu_busy_samples = busy
        _active(lab, now)


def seated_since(row: CourseSessionRow, enrolment: EnrolmentRow) -> float:
    """When the seat became the learner's: the session's start, or later for a learner who
    got it during the session (from the waitlist). An ``enrolled`` enrolment's ``updated_at``
    is when it became enrolled: every later change (attended, a result, cancelled) changes
    its state too."""
    if enrolment.state == "enrolled":
        return max(row.start_at, enrolment.updated_at)
    return row.start_at


def facts_of(*, session: Session, lab: CourseLabRow) -> LabFacts:
    """The facts the rules judge (``labrules.LabFacts``). A learner who reached an earlier lab
    of theirs in the session (their enrolment ``attended``, or a result since) is no no-show
    in a lab they started again."""
    row = session.get(CourseSessionRow, lab.session_id)
    enrolment = session.get(EnrolmentRow, lab.enrolment_id)
    assert row is not None and enrolment is not None
    return LabFacts(
        seated_at=seated_since(row, enrolment),
        ready_at=lab.ready_at,
        reached=lab.reached_at is not None or enrolment.state != "enrolled",
        last_active_at=lab.last_active_at,
        warned=lab.state == "warned",
    )


@dataclass(frozen=True, slots=True)
class Judged:
    """What the rules did to one lab (``verdict``), and for a reclaim the lab started for the
    waitlisted learner who took the seat."""

    lab_id: int
    member: str
    verdict: Verdict
    successor: CourseLabRow | None = None


def apply_rules(*, session: Session, now: float, settings: LabSettings) -> list[Judged]:
    """Judge every ready or warned lab (``labrules.verdict``) and do what the verdict says."""
    judged = []
    for lab in _live(session):
        if lab.state == "starting":
            continue
        row = session.get(CourseSessionRow, lab.session_id)
        course = session.get(CourseRow, row.course_id) if row is not None else None
        assert row is not None and course is not None
        rules = rules_of(course)
        waits = first_waitlisted(session=session, session_id=row.id) is not None
        facts = facts_of(session=session, lab=lab)
        decided = verdict(facts, rules, now, someone_waits=waits)
        if decided is Verdict.KEEP:
            continue
        successor = None
        if decided is Verdict.RECLAIM:
            since = "the session's start" if facts.seated_at <= row.start_at else "getting the seat"
            why = f"not reached within {rules.no_show_min:g} min of {since}"
            successor = _reclaim(session, row, lab, why, settings, now)
        elif decided is Verdict.WARN:
            lab.state, lab.warned_at = "warned", now
        else:
            reason = f"idle: nothing happened in it for {rules.idle_limit_min:g} min"
            stop_lab(session=session, lab=lab, reason=reason, now=now)
        judged.append(Judged(lab.id, lab.member_id, decided, successor))
    return judged


def _reclaim(
    session: Session,
    row: CourseSessionRow,
    lab: CourseLabRow,
    why: str,
    settings: LabSettings,
    now: float,
) -> CourseLabRow | None:
    """Give a no-show's seat to the first waitlisted learner and start their lab."""
    enrolment = session.get(EnrolmentRow, lab.enrolment_id)
    assert enrolment is not None
    enrolment.state, enrolment.updated_at = "cancelled", now
    session.flush()
    taker = promote_waitlisted(session=session, session_id=row.id, now=now)
    assert taker is not None  # the verdict is a reclaim only when someone waits
    reason = f"no-show: {why}; the seat went to {taker.member_id}"
    stop_lab(session=session, lab=lab, reason=reason, now=now)
    return _try_start(session, row, taker, settings, now)


# -- reading labs -----------------------------------------------------------------------------


def own_lab(*, session: Session, caller: Caller, session_id: int) -> CourseLabRow:
    """The caller's latest lab in the session (``NotFoundError`` when they have none)."""
    get_session(session=session, session_id=session_id)
    stmt = (
        select(CourseLabRow)
        .where(CourseLabRow.session_id == session_id, CourseLabRow.member_id == caller.member_id)
        .order_by(CourseLabRow.id.desc())
        .limit(1)
    )
    lab = session.scalar(stmt)
    if lab is None:
        raise NotFoundError(
            f"you have no lab in session {session_id}: labs start when the session starts, "
            "for learners on a seat"
        )
    return lab


def session_labs(*, session: Session, caller: Caller, session_id: int) -> list[CourseLabRow]:
    """Every lab of the session, oldest first (its instructors and admins)."""
    require_teacher(session=session, caller=caller, session_id=session_id)
    stmt = select(CourseLabRow).where(CourseLabRow.session_id == session_id)
    return list(session.scalars(stmt.order_by(CourseLabRow.id)))


def restart_lab(
    *, session: Session, caller: Caller, session_id: int, settings: LabSettings, now: float
) -> CourseLabRow:
    """Start the caller's lab again (after it was stopped), while the session is on."""
    row = get_session(session=session, session_id=session_id)
    if not row.start_at <= now < row.end_at:
        raise ConfigError(f"session {session_id} is not on now", field="session")
    stmt = select(EnrolmentRow).where(
        EnrolmentRow.session_id == session_id, EnrolmentRow.member_id == caller.member_id
    )
    enrolment = session.scalar(stmt)
    if enrolment is None or enrolment.state not in (*SEATED, "failed"):
        state = enrolment.state if enrolment is not None else "not enrolled"
        raise ConfigError(
            f"you are {state} in session {session_id}, not on a seat", field="session"
        )
    live = [lab for lab in _labs_of(session, enrolment.id) if lab.state in LIVE]
    if live:
        return live[-1]
    if _assessing(session, enrolment.id):
        raise ConfigError("your assessment is running on your seat; wait for it", field="session")
    return start_lab(session=session, row=row, enrolment=enrolment, settings=settings, now=now)

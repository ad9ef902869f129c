"""Jobs in the store: submit, move through states (with an event per change), list, cancel.

Routes and the controller call these functions and never repeat what they do. Every function
takes keyword arguments only and works inside the caller's transaction (it never commits).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from aitc.control.store.access import (
    Caller,
    LimitExceededError,
    check_limits,
    check_may_cancel,
    project_for_submit,
    visible_jobs,
)
from aitc.control.store.cluster import check_fits_cluster
from aitc.control.store.dependencies import resolve_dependency
from aitc.control.store.models import JobEventRow, JobRow, ProjectRow
from aitc.control.store.outbox import queue_job_mail, resolve_mail
from aitc.control.store.specs import JobSpec, array_tasks, check_spec_shape, placement_to_json
from aitc.domain.job import JobState, Placement
from aitc.errors import ConfigError, ConflictError, NotFoundError, StoreError

_ACTIVE = (JobState.STARTING, JobState.RUNNING)
_LIVE = [JobState.PENDING.value, JobState.STARTING.value, JobState.RUNNING.value]  # cancellable
ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset(
        {JobState.STARTING, JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}
    ),
    JobState.STARTING: frozenset(set(JobState) - {JobState.STARTING}),
    JobState.RUNNING: frozenset(set(JobState) - {JobState.STARTING, JobState.RUNNING}),
}
HELD = "held"
# What each task of an array finds in its environment (Slurm's names too, for ported scripts).
_ARRAY_NAMES = ("JOB_ID", "TASK_ID", "TASK_COUNT", "TASK_MIN", "TASK_MAX")
ARRAY_ENV = tuple(f"{p}_ARRAY_{n}" for p in ("AITC", "SLURM") for n in _ARRAY_NAMES)


@dataclass(frozen=True, slots=True)
class JobFilters:
    """What ``list_jobs`` narrows to; ``None`` fields do not filter."""

    states: tuple[JobState, ...] = ()
    project: str | None = None
    org: str | None = None
    member: str | None = None
    limit: int = 100
    offset: int = 0
    oldest_first: bool = False
    ended_since: float | None = None
    array_job_id: int | None = None
    # Keyset pages (cost independent of how deep the page is): the rows that come after the
    # job ``after_id`` in the list's order, or the ``limit`` rows just before ``before_id``.
    after_id: int | None = None
    before_id: int | None = None


def create_job(
    *,
    session: Session,
    spec: JobSpec,
    caller: Caller,
    now: float,
    idempotency_key: str | None = None,
) -> tuple[JobRow, bool]:
    """Store a new pending job, or return the one stored before under ``idempotency_key``.

    Returns ``(job, created)``. Raises ``ConfigError`` (naming the field) when the request is
    wrong, ``ConflictError`` when the key was used for a different request,
    ``LimitExceededError`` when it passes one of the member's limits. This is the hot path of
    the API, so it runs four statements: project, nodes, one ``INSERT … ON CONFLICT DO
    NOTHING`` (a retry, even a concurrent one, finds the first job) and the event, plus one
    per limit the member has.
    """
    check_spec_shape(spec)
    if spec.mail_type is not None or spec.mail_user is not None:
        spec = resolve_mail(session=session, caller=caller, spec=spec)
    tasks, throttle = array_tasks(spec.array) if spec.array is not None else ((), None)
    try:
        check_limits(
            session=session, caller=caller, gpus=spec.gpu_count, now=now, jobs=len(tasks) or 1
        )
    except LimitExceededError:
        earlier = _by_key(session, caller.member_id, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _same_request(earlier, spec), False  # a retry of a job stored before
    project = _resolve_project(session, caller, spec)
    try:
        org = project_for_submit(session=session, caller=caller, project_id=project)
    except NotFoundError as exc:
        raise ConfigError(str(exc), field="project") from None
    check_fits_cluster(session=session, spec=spec)
    values = _row_values(spec, project, org, caller.member_id, now, idempotency_key)
    dependencies: tuple[str, ...] = ()
    if spec.dependency is not None:
        dependencies = resolve_dependency(
            session=session, caller=caller, text=spec.dependency, tasks=tasks
        )
        values["dependency"] = dependencies[0]
    if tasks:
        values.update(array_task_id=tasks[0], array_throttle=throttle)
    job_id = _insert_once(session, values)
    if job_id is None:
        earlier = _by_key(session, caller.member_id, idempotency_key or "")
        if earlier is None:
            raise StoreError("the job was neither stored nor found; retry the submission")
        return _same_request(earlier, spec), False
    job = JobRow(id=job_id, **values, **_UNSET)
    make_transient_to_detached(job)
    session.add(job)  # persistent from here on, without reading it back
    _append_event(session, job, None, JobState.PENDING, "submitted", now, core=True)
    if spec.hold:
        job.pending_reasons = [hold_reason(caller.member_id)]
    if tasks:
        _add_array_tasks(session, job, spec, tasks, dependencies, now)
    return job, True


def _add_array_tasks(
    session: Session,
    first: JobRow,
    spec: JobSpec,
    tasks: tuple[int, ...],
    dependencies: tuple[str, ...],
    now: float,
) -> None:
    """Make ``first`` the first task of an array (its id is the array's) and store the others,
    each with its task id in its environment (``ARRAY_ENV``) and its dependency (one for each
    task: ``aftercorr`` names the corresponding task)."""
    first.array_job_id = first.id
    first.spec = _task_spec(spec, first.id, tasks, tasks[0])
    session.flush()
    rows = []
    for i, task in enumerate(tasks[1:], 1):
        row = {c.key: getattr(first, c.key) for c in JobRow.__table__.columns if c.key != "id"}
        row = {k: v for k, v in row.items() if v is not None}  # NULL, not JSON null
        row.update(
            spec=_task_spec(spec, first.id, tasks, task), array_task_id=task, idempotency_key=None
        )
        if dependencies:
            row["dependency"] = dependencies[i]
        rows.append(row)
    if not rows:
        return
    ids = session.scalars(
        insert(JobRow).returning(JobRow.id, sort_by_parameter_order=True), rows
    ).all()
    event = dict(at=now, from_state=None, to_state=JobState.PENDING.value, attempt=0)
    session.connection().execute(
        _INSERT_EVENT, [{**event, "job_id": i, "cause": "submitted"} for i in ids]
    )


def _task_spec(spec: JobSpec, array_id: int, tasks: tuple[int, ...], task: int) -> dict[str, Any]:
    out = spec.to_json()
    numbers = (array_id, task, len(tasks), tasks[0], tasks[-1])
    env = dict(out["env"])
    for prefix in ("AITC", "SLURM"):
        for name, value in zip(_ARRAY_NAMES, numbers, strict=True):
            env[f"{prefix}_ARRAY_{name}"] = str(value)
    out["env"] = env
    return out


def _insert_once(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT the job unless (member, idempotency key) exists; its id, or None if it did."""
    stmt = _INSERT_ONCE[session.get_bind().dialect.name == "postgresql"]
    return session.connection().execute(stmt, values).scalar()


def _insert_once_statement(insert_: Any) -> Any:
    # Built once with bound parameters, so SQLAlchemy compiles it once (the submit hot path).
    return (
        insert_(JobRow.__table__)
        .on_conflict_do_nothing(index_elements=["member_id", "idempotency_key"])
        .returning(JobRow.__table__.c.id)
    )


_INSERT_ONCE = {
    False: _insert_once_statement(sqlite_insert),
    True: _insert_once_statement(pg_insert),
}
_INSERT_EVENT = insert(cast(Table, JobEventRow.__table__))
# The columns a new job leaves empty: set on the returned object so reading them loads nothing.
_UNSET: dict[str, Any] = dict.fromkeys(
    (
        "placement",
        "started_at",
        "ended_at",
        "exit_code",
        "pending_reasons",
        "estimated_start",
        "handle",
        "stdout_path",
        "stderr_path",
        "time_limit_request",
    )
)


def stored_before(*, session: Session, caller: Caller, key: str, spec: JobSpec) -> JobRow | None:
    """The job ``caller`` stored before under Idempotency-Key ``key`` for this same ``spec``
    (None: no job has that key); ``ConflictError`` if the key went with another request."""
    earlier = _by_key(session, caller.member_id, key)
    return None if earlier is None else _same_request(earlier, spec)


def _by_key(session: Session, member_id: str, key: str) -> JobRow | None:
    stmt = select(JobRow).where(JobRow.member_id == member_id, JobRow.idempotency_key == key)
    return session.scalars(stmt).first()


def _same_request(job: JobRow, spec: JobSpec) -> JobRow:
    stored = dict(job.spec)
    if job.array_job_id is not None:  # an array's first task: compare without the task's env
        stored["env"] = {k: v for k, v in stored["env"].items() if k not in ARRAY_ENV}
    if json.dumps(stored, sort_keys=True) != json.dumps(spec.to_json(), sort_keys=True):
        raise ConflictError("this Idempotency-Key was already used for a different job")
    return job


def _resolve_project(session: Session, caller: Caller, spec: JobSpec) -> str:
    if spec.project is not None:
        return spec.project
    if len(caller.projects) == 1:
        return next(iter(caller.projects))
    if caller.projects:
        names = ", ".join(sorted(caller.projects))
        raise ConfigError(
            f"required: you belong to several projects ({names}); name one", field="project"
        )
    if caller.is_admin:
        known = list(session.scalars(select(ProjectRow.id).order_by(ProjectRow.id).limit(11)))
        listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        raise ConfigError(
            f"required: you belong to no project; as an admin you may name any ({listed})",
            field="project",
        )
    raise ConfigError(
        "required: you belong to no project; ask an admin to add you to one", field="project"
    )


def _row_values(
    spec: JobSpec, project: str, org: str, member: str, now: float, key: str | None
) -> dict[str, Any]:
    return dict(
        name=spec.name or spec.command[0].rsplit("/", 1)[-1][:200],
        org_id=org,
        project_id=project,
        member_id=member,
        spec=spec.to_json(),
        gpus=spec.gpu_count,
        mig=spec.mig,
        nodes=spec.nodes,
        gpu_model=spec.gpu_model,
        time_limit=spec.time_limit,
        priority=str(spec.priority),
        state=JobState.PENDING.value,
        held=spec.hold,
        array_job_id=None,
        array_task_id=None,
        array_throttle=None,
        dependency=None,
        begin_at=spec.begin_at,
        submitted_at=now,
        attempt=0,
        cause="",
        idempotency_key=key,
        cancel_requested=False,
    )


def _append_event(
    session: Session,
    job: JobRow,
    frm: JobState | None,
    to: JobState,
    cause: str,
    now: float,
    core: bool = False,
) -> None:
    values = dict(
        job_id=job.id,
        at=now,
        from_state=frm.value if frm else None,
        to_state=to.value,
        attempt=job.attempt,
        cause=cause,
    )
    if core:  # a plain INSERT, without the unit of work (the submit path)
        session.connection().execute(_INSERT_EVENT, values)
    else:
        session.add(JobEventRow(**values))


def transition(
    *,
    session: Session,
    job: JobRow,
    to: JobState,
    cause: str,
    now: float,
    placement: Placement | None = None,
    exit_code: int | None = None,
) -> None:
    """Move ``job`` to state ``to`` and append the change to ``job_events``.

    Entering ``starting`` (or ``running`` straight from ``pending``) begins a new attempt and
    records the placement; entering ``pending`` again (a requeue) releases it; a terminal state
    records the end time and exit code. The mails the job asks for about the change are
    queued in the same transaction (``outbox``). Illegal moves raise ``StoreError``.
    """
    frm = JobState(job.state)
    if to not in ALLOWED.get(frm, frozenset()):
        raise StoreError(f"job {job.id} cannot go from {frm} to {to}")
    if frm is JobState.PENDING and to in _ACTIVE:
        job.attempt += 1
        job.started_at = now
        job.pending_reasons = None
        job.estimated_start = None
    if placement is not None:
        job.placement = placement_to_json(placement)
    if to is JobState.RUNNING and job.started_at is None:
        job.started_at = now
    if to is JobState.PENDING:
        job.placement, job.handle, job.started_at = None, None, None
    if to.terminal:
        job.ended_at = now
        job.exit_code = exit_code if exit_code is not None else job.exit_code
        job.pending_reasons, job.estimated_start = None, None
    job.state, job.cause = to.value, cause
    _append_event(session, job, frm, to, cause, now)
    if job.spec and job.spec.get("mail_type"):
        queue_job_mail(session, job, frm, to, now)


def get_job(*, session: Session, caller: Caller, job_id: int, lock: bool = False) -> JobRow:
    """The job ``job_id`` if ``caller`` may see it; ``NotFoundError`` otherwise. ``lock``
    holds its row until the transaction ends (the controller may be writing it)."""
    stmt = select(JobRow).where(JobRow.id == job_id, visible_jobs(caller))
    if lock:
        stmt = stmt.with_for_update()
    job = session.scalars(stmt).first()
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job


def list_jobs(*, session: Session, caller: Caller, filters: JobFilters) -> tuple[list[JobRow], int]:
    """The jobs ``caller`` may see that match ``filters``, newest first (or oldest first), and
    their total count (what the page cursors ``after_id``/``before_id`` leave out counts)."""
    where = [visible_jobs(caller)]
    if filters.states:
        where.append(JobRow.state.in_([s.value for s in filters.states]))
    for column, value in (
        (JobRow.project_id, filters.project),
        (JobRow.org_id, filters.org),
        (JobRow.member_id, filters.member),
        (JobRow.array_job_id, filters.array_job_id),
    ):
        if value is not None:
            where.append(column == value)
    if filters.ended_since is not None:
        where.append(JobRow.ended_at >= filters.ended_since)
    count = session.scalar(select(func.count()).select_from(JobRow).where(*where)) or 0
    up = filters.oldest_first
    if filters.after_id is not None:
        where.append(JobRow.id > filters.after_id if up else JobRow.id < filters.after_id)
    backwards = filters.before_id is not None
    if filters.before_id is not None:
        where.append(JobRow.id < filters.before_id if up else JobRow.id > filters.before_id)
    order = JobRow.id.asc() if up != backwards else JobRow.id.desc()
    # The page's ids first, then their rows: the database skips ``offset`` rows and sorts
    # ids only (from an index when it can), never whole rows with their specs.
    page = select(JobRow.id).where(*where).order_by(order)
    ids = page.limit(filters.limit).offset(filters.offset).subquery()
    stmt = select(JobRow).where(JobRow.id.in_(select(ids.c.id))).order_by(order)
    rows = list(session.scalars(stmt).all())
    return rows[::-1] if backwards else rows, count


def cancel_job(*, session: Session, caller: Caller, job_id: int, now: float) -> JobRow:
    """Cancel a pending job at once; ask the controller to stop a starting or running one."""
    job = get_job(session=session, caller=caller, job_id=job_id)
    check_may_cancel(caller, job)
    _cancel(session, job, caller, now)
    return job


@dataclass(frozen=True, slots=True)
class CancelFilters:
    """Which jobs ``cancel_jobs`` cancels (as ``scancel`` without job ids): those of
    ``member``, narrowed by the others (``None``: any); ``states`` of pending, starting,
    running (empty: all three)."""

    member: str
    states: tuple[JobState, ...] = ()
    project: str | None = None
    name: str | None = None


def cancel_jobs(
    *, session: Session, caller: Caller, filters: CancelFilters, now: float
) -> list[JobRow]:
    """Cancel, in one transaction, every pending or running job ``caller`` may see that
    matches ``filters`` (``scancel -u M -t PD -A P -n NAME``), as ``cancel_job`` does each;
    returns them, oldest first (none: an empty list). ``AccessDeniedError`` (nothing
    cancelled) if one of them is not the caller's to cancel."""
    states = [s.value for s in filters.states if s.value in _LIVE] if filters.states else _LIVE
    where = [visible_jobs(caller), JobRow.member_id == filters.member, JobRow.state.in_(states)]
    if filters.project is not None:
        where.append(JobRow.project_id == filters.project)
    if filters.name is not None:
        where.append(JobRow.name == filters.name)
    stmt = select(JobRow).where(*where).order_by(JobRow.id).with_for_update()
    rows = list(session.scalars(stmt))
    return _cancel_all(session, rows, caller, now)


def cancel_array(
    *, session: Session, caller: Caller, array_id: int, task: int | None, now: float
) -> list[JobRow]:
    """Cancel every pending or running task of array ``array_id``, or only its task ``task``
    (``scancel ARRAY`` / ``ARRAY_TASK``), in one transaction; returns them. ``NotFoundError``
    if there is no such array (or task) the caller may see, ``ConflictError`` if none is
    pending or running any more."""
    rows, none_is = _array_rows(session, caller, array_id, task)
    for row in rows:
        check_may_cancel(caller, row)
    live = [r for r in rows if r.state in _LIVE]
    if not live:
        raise ConflictError(f"{none_is} pending or running: it has ended")
    return _cancel_all(session, live, caller, now)


def _cancel_all(session: Session, rows: list[JobRow], caller: Caller, now: float) -> list[JobRow]:
    for row in rows:  # (all checked before any changes)
        check_may_cancel(caller, row)
    for row in rows:
        _cancel(session, row, caller, now)
    return rows


def _cancel(session: Session, job: JobRow, caller: Caller, now: float) -> None:
    state = JobState(job.state)
    if state is JobState.PENDING:
        transition(
            session=session,
            job=job,
            to=JobState.CANCELLED,
            now=now,
            cause=f"cancelled by {caller.member_id}",
        )
    elif state in _ACTIVE and not job.cancel_requested:
        job.cancel_requested, job.requeue_request = True, None  # a cancel wins over a requeue
        job.cause = f"cancel requested by {caller.member_id}"


def signal_job(*, session: Session, caller: Caller, job_id: int, signal: str, now: float) -> JobRow:
    """Ask the controller to send ``signal`` (``TimeSignal`` words without a time: ``USR1``,
    ``B:USR1``) to a starting or running job at its next pass, as ``scancel --signal``; whoever
    may cancel the job may signal it. ``ConflictError`` for a job that is not running. The same
    signal asked again before it was sent changes nothing (a flood of requests makes one
    signal and one note, as ``scancel`` repeated before slurmd acts)."""
    job = get_job(session=session, caller=caller, job_id=job_id, lock=True)
    check_may_cancel(caller, job, "signal")
    state = JobState(job.state)
    if state not in _ACTIVE:
        raise ConflictError(f"it is {job.state}: only a running job can be signalled")
    if job.signal_request == signal:
        return job
    job.signal_request = signal
    to = "its main process" if signal.startswith("B:") else "it"
    cause = f"SIG{signal.removeprefix('B:')} to {to} asked for by {caller.member_id}"
    _append_event(session, job, state, state, cause, now)
    return job


def signals_sent(*, session: Session, sent: Sequence[tuple[int, str, str]], now: float) -> None:
    """The controller sent (or failed to send) the signals asked for: ``(job id, signal as
    asked, what happened)``; each request is cleared unless another came meanwhile."""
    for job_id, signal, what in sent:
        job = session.get(JobRow, job_id, with_for_update=True)
        if job is None:
            continue
        if job.signal_request == signal:
            job.signal_request = None
        state = JobState(job.state)
        _append_event(session, job, state, state, what, now)


def limits_applied(
    *, session: Session, applied: Sequence[tuple[int, float, str, bool]], now: float
) -> None:
    """The controller handed (or failed to hand) running jobs' new time limits to their
    executor: ``(job id, limit as asked, what happened, whether it took it)``; each request is
    cleared unless another came meanwhile, and a limit taken becomes the row's."""
    for job_id, limit, what, taken in applied:
        job = session.get(JobRow, job_id, with_for_update=True)
        if job is None:
            continue
        if job.time_limit_request == limit:
            job.time_limit_request = None
        if taken:  # the row shows the limit that is enforced
            job.time_limit = limit
            job.spec = replace(JobSpec.from_json(job.spec), time_limit=limit).to_json()
        state = JobState(job.state)
        _append_event(session, job, state, state, what, now)


def requeue_job(*, session: Session, caller: Caller, job_id: int, hold: bool, now: float) -> JobRow:
    """Ask the controller to stop a running job and put it back in the queue, at
    its place in arrival order, to run again as a new attempt (``scontrol requeue``; ``hold``:
    held once back, as ``scontrol requeuehold``). Whoever may cancel a job may requeue it.
    ``ConflictError`` for a job that is not running (a starting one too: each requeue costs a
    start and a stop, so a flood of them cannot churn processes) or is being cancelled; the
    same request asked again before the controller acts changes nothing."""
    job = get_job(session=session, caller=caller, job_id=job_id, lock=True)
    check_may_cancel(caller, job, "requeue")
    _ask_requeue(session, job, caller, hold, now)
    return job


def requeue_array(
    *, session: Session, caller: Caller, array_id: int, task: int | None, hold: bool, now: float
) -> list[JobRow]:
    """Requeue every running task of array ``array_id``, or only its task ``task``, as
    ``requeue_job`` does each; returns them. ``ConflictError`` if none is running."""
    rows, none_is = _array_rows(session, caller, array_id, task)
    for row in rows:
        check_may_cancel(caller, row, "requeue")
    live = [r for r in rows if r.state == JobState.RUNNING.value and not r.cancel_requested]
    if not live:
        raise ConflictError(f"{none_is} running: only a running job can be requeued")
    for row in live:
        _ask_requeue(session, row, caller, hold, now)
    return live


def _ask_requeue(session: Session, job: JobRow, caller: Caller, hold: bool, now: float) -> None:
    state = JobState(job.state)
    if state is JobState.PENDING:
        hint = " (aitc hold keeps a pending one out of scheduling)" if hold else ""
        raise ConflictError(f"it is pending: only a running job can be requeued{hint}")
    if state is JobState.STARTING:  # each requeue costs a start and a stop: one per run
        raise ConflictError("it is starting: requeue it once it runs")
    if state is not JobState.RUNNING:
        raise ConflictError(
            f"it is {job.state}: only a running job can be requeued (aitc show {job.id} prints "
            "its request, to submit it again)"
        )
    if job.cancel_requested:
        raise ConflictError("it is being cancelled: it cannot be requeued")
    asked = f"{'hold' if hold else 'requeue'} {caller.member_id}"
    if job.requeue_request == asked:
        return
    job.requeue_request = asked
    what = "requeue and hold" if hold else "requeue"
    _append_event(session, job, state, state, f"{what} asked for by {caller.member_id}", now)


def requeue_asked(
    *, session: Session, attempts: Sequence[tuple[int, int]], now: float
) -> list[int]:
    """The controller puts back in the queue each job asked to be (``requeue_job``) at the
    attempt it is stopping, ``(job id, attempt)``: pending again at its place, held if asked,
    a new time limit asked while it ran taken as its own; returns the ids requeued (a job that
    ended or was requeued meanwhile is left as it is)."""
    done = []
    for job_id, attempt in attempts:
        job = session.get(JobRow, job_id, with_for_update=True)
        asked = job.requeue_request if job is not None else None
        if job is None or asked is None or job.attempt != attempt or job.state not in _LIVE[1:]:
            continue
        mode, _, by = asked.partition(" ")
        if job.time_limit_request is not None:  # the limit asked for its run: now its own
            job.time_limit = job.time_limit_request
            job.spec = replace(JobSpec.from_json(job.spec), time_limit=job.time_limit).to_json()
        job.requeue_request = job.signal_request = job.time_limit_request = None
        held = " and held" if mode == "hold" else ""
        cause = f"requeued by {by}{held} (attempt {attempt} stopped)"
        transition(session=session, job=job, to=JobState.PENDING, cause=cause, now=now)
        if mode == "hold":
            job.held, job.pending_reasons = True, [hold_reason(by)]
        done.append(job_id)
    return done


def hold_reason(by: str) -> dict[str, Any]:
    """Why a held job waits (a ``jobs.pending_reasons`` entry)."""
    return {
        "code": HELD,
        "message": f"held by {by}: it stays pending until released (aitc release)",
        "details": {"by": by},
    }


def hold_job(*, session: Session, caller: Caller, job_id: int, now: float) -> JobRow:
    """Hold a pending job: it stays pending and the controller leaves it out of scheduling
    until ``release_job``. Whoever may cancel a job may hold it. ``ConflictError`` unless it
    is pending; holding a held job changes nothing."""
    job = _pending_for_change(session, caller, job_id, "hold")
    _set_held(session, job, caller, True, now)
    return job


def release_job(*, session: Session, caller: Caller, job_id: int, now: float) -> JobRow:
    """Release a held job: the controller schedules it again from its next pass."""
    job = _pending_for_change(session, caller, job_id, "release")
    _set_held(session, job, caller, False, now)
    return job


def hold_array(
    *, session: Session, caller: Caller, array_id: int, task: int | None, held: bool, now: float
) -> list[JobRow]:
    """Hold (``held``) or release the pending tasks of array ``array_id``, or only its task
    ``task``, as ``scontrol hold ARRAY`` / ``ARRAY_TASK``; returns them. ``NotFoundError`` if
    there is no such array (or task) the caller may see, ``ConflictError`` if none is
    pending."""
    rows, none_is = _array_rows(session, caller, array_id, task)
    verb = "hold" if held else "release"
    for row in rows:
        check_may_cancel(caller, row, verb)
    pending = [r for r in rows if r.state == JobState.PENDING.value]
    if not pending:
        done = "held" if held else "released"
        raise ConflictError(f"{none_is} pending: only a pending job can be {done}")
    for row in pending:
        _set_held(session, row, caller, held, now)
    return pending


def _array_rows(
    session: Session, caller: Caller, array_id: int, task: int | None
) -> tuple[list[JobRow], str]:
    """The tasks of array ``array_id`` (or only ``task``) ``caller`` may see, locked, and how
    to say that none of them is in a state (``no task of array 7 is``, ``task 7_2 is not``);
    ``NotFoundError`` if there are none."""
    where = [visible_jobs(caller), JobRow.array_job_id == array_id]
    if task is not None:
        where.append(JobRow.array_task_id == task)
    stmt = select(JobRow).where(*where).order_by(JobRow.id).with_for_update()
    rows = list(session.scalars(stmt))
    what = f"array {array_id}" if task is None else f"task {array_id}_{task}"
    if not rows:
        raise NotFoundError(f"no {what} (see aitc queue)")
    return rows, f"no task of {what} is" if task is None else f"{what} is not"


def _set_held(session: Session, job: JobRow, caller: Caller, held: bool, now: float) -> None:
    if job.held == held:
        return  # holding a held job (releasing a free one) changes nothing
    job.held = held
    by = caller.member_id
    job.pending_reasons = [hold_reason(by)] if held else None
    job.estimated_start = None
    cause = f"{'held' if held else 'released'} by {by}"
    _append_event(session, job, JobState.PENDING, JobState.PENDING, cause, now)


def _pending_for_change(session: Session, caller: Caller, job_id: int, verb: str) -> JobRow:
    job = get_job(session=session, caller=caller, job_id=job_id, lock=True)
    check_may_cancel(caller, job, verb)
    if job.state != JobState.PENDING.value:
        done = {"hold": "held", "release": "released"}.get(verb, verb)
        raise ConflictError(f"it is {job.state}: only a pending job can be {done}")
    return job


def job_script(*, session: Session, caller: Caller, job_id: int) -> str:
    """The batch script a job ``caller`` may see runs, as submitted (``scontrol write
    batch_script``); ``ConflictError`` if it was submitted without one."""
    job = get_job(session=session, caller=caller, job_id=job_id)
    script = JobSpec.from_json(job.spec).script
    if script is None:
        raise ConflictError("it runs a command, not a batch script (aitc show prints it)")
    return script


def job_events(*, session: Session, caller: Caller, job_id: int) -> list[JobEventRow]:
    """The state changes of a job ``caller`` may see, oldest first."""
    get_job(session=session, caller=caller, job_id=job_id)
    stmt = select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
    return list(session.scalars(stmt))


def jobs_in_states(*, session: Session, states: Sequence[JobState]) -> list[JobRow]:
    """Every job in one of ``states``, in submission order (for the controller)."""
    stmt = select(JobRow).where(JobRow.state.in_([s.value for s in states])).order_by(JobRow.id)
    return list(session.scalars(stmt))


def set_pending_reasons(
    *,
    session: Session,
    job: JobRow,
    reasons: Sequence[Any],
    estimated_start: float | None,
) -> None:
    """Record why a pending job waits (engine ``Reason`` objects) and when it may start."""
    job.pending_reasons = [
        {
            "code": str(r.code),
            "message": r.message,
            "details": json.loads(json.dumps(dict(r.details), default=str)),
        }
        for r in reasons
    ]
    job.estimated_start = estimated_start

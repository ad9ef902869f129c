"""Changing a submitted job (``scontrol update JobId=...``): ``update_job`` and ``update_array``.

A pending job (held or not) may change its time limit, name, shape (GPUs, nodes, GPU model),
dependency, begin time, project, and its array's throttle; every change passes the checks a
submission passes, with the same rules (``check_spec_shape``, ``check_fits_cluster``, the
member's GPU limit, ``project_for_submit``, ``resolve_dependency``), so a shape refused at
submission is refused here for the same reason. Nothing changes unless every change is valid.
Whoever may cancel a job may change it (``check_may_cancel``).

A starting or running job may change its time limit only, as Slurm's ``scontrol update``
allows: its member (whoever may cancel it) may lower it, an administrator may also raise it,
and nobody may remove it. The new limit counts from the job's start; the row keeps it in
``time_limit_request`` until the controller has handed it to the job's executor, and takes it
(``time_limit``, the spec) only once the executor has (``limits_applied``): the row always
shows the limit that is enforced. A limit already passed ends the job as a timeout. Each change
is a note in the job's history (``job_events``), which is also how the controller's change feed
learns of it and takes the new request into its books.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, check_gpu_limit, check_may_cancel, project_for_submit
from aitc.control.store.cluster import check_fits_cluster
from aitc.control.store.dependencies import check_no_cycle, resolve_dependency
from aitc.control.store.jobs import _ACTIVE, _append_event, _array_rows, get_job
from aitc.control.store.models import JobRow
from aitc.control.store.specs import JobSpec, check_spec_shape
from aitc.domain.durations import slurm_duration
from aitc.domain.job import JobState
from aitc.errors import AccessDeniedError, ConfigError, ConflictError, NotFoundError

_SHAPE = ("gpus", "nodes", "gpu_model")


@dataclass(frozen=True, slots=True)
class JobChanges:
    """What to change; ``None`` leaves a field as it is. ``dependency=""`` and
    ``gpu_model=""`` remove them; ``array_throttle=0`` lets every task run at once."""

    time_limit: float | None = None
    name: str | None = None
    gpus: int | None = None
    nodes: int | None = None
    gpu_model: str | None = None
    dependency: str | None = None
    begin_at: float | None = None  # epoch seconds
    project: str | None = None
    array_throttle: int | None = None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    """The new column values of one job, and a note for each change."""

    job: JobRow
    values: dict[str, Any]
    notes: list[str]


def update_job(
    *, session: Session, caller: Caller, job_id: int, changes: JobChanges, now: float
) -> JobRow:
    """Change pending job ``job_id`` as ``changes`` say (``array_throttle``: every task of
    its array). ``ConfigError`` naming the field, ``ConflictError`` unless it is pending,
    ``AccessDeniedError``, ``NotFoundError``; nothing changes unless all of it is valid."""
    job = get_job(session=session, caller=caller, job_id=job_id, lock=True)
    plan = _plan(session, caller, job, changes)
    _apply(session, [plan], caller, changes, now)
    return job


def update_array(
    *,
    session: Session,
    caller: Caller,
    array_id: int,
    task: int | None,
    changes: JobChanges,
    now: float,
) -> list[JobRow]:
    """Change every pending task of array ``array_id`` (or only its task ``task``: a running
    one's time limit too), as ``scontrol update JobId=ARRAY`` does; returns them.
    ``ConflictError`` if none is pending; otherwise as ``update_job``, for all the tasks at
    once."""
    rows, none_is = _array_rows(session, caller, array_id, task)
    for row in rows:
        check_may_cancel(caller, row, "change")
    pending = [r for r in rows if r.state == JobState.PENDING.value]
    if task is not None and not pending and rows and JobState(rows[0].state) in _ACTIVE:
        pending = rows  # one running task: ``_plan`` says what of it may change
    if not pending:
        raise ConflictError(f"{none_is} pending: only a pending job can be changed")
    plans = [_plan(session, caller, row, changes) for row in pending]
    _apply(session, plans, caller, changes, now)
    return pending


def _plan(session: Session, caller: Caller, job: JobRow, changes: JobChanges) -> _Plan:
    """What ``changes`` make of ``job``, every check passed (nothing written yet)."""
    _check_changeable(caller, job, changes)
    old = JobSpec.from_json(job.spec)
    spec = _new_spec(old, changes)
    check_spec_shape(spec)
    values: dict[str, Any] = {}
    notes: list[str] = []
    active = JobState(job.state) in _ACTIVE
    if active and spec.time_limit == job.time_limit_request:
        spec = replace(spec, time_limit=old.time_limit)  # asked already, not yet taken: the same
    if spec.time_limit != old.time_limit:
        notes.append(f"time limit {_hms(old.time_limit)} -> {_hms(spec.time_limit)}")
        if active:
            # the row keeps the limit its executor enforces until it has taken the new one
            _check_running_limit(caller, job, old.time_limit, spec.time_limit)
            values["time_limit_request"] = spec.time_limit
            spec = replace(spec, time_limit=old.time_limit)
        else:
            values["time_limit"] = spec.time_limit
    if changes.name is not None and changes.name != job.name:
        values["name"] = changes.name
        notes.append(f"name {job.name!r} -> {changes.name!r}")
    shape = {k: (_column(old, k), _column(spec, k)) for k in _SHAPE}
    if any(before != after for before, after in shape.values()):
        check_gpu_limit(caller, spec.gpu_count)
        check_fits_cluster(session=session, spec=spec)
        for key, (before, after) in shape.items():
            if before != after:
                values[key] = after
                notes.append(f"{key.replace('_', ' ')} {_shown(before)} -> {_shown(after)}")
    if changes.project is not None and changes.project != job.project_id:
        values.update(_project(session, caller, changes.project))
        notes.append(f"project {job.project_id} -> {changes.project}")
    if changes.dependency is not None:
        _dependency(session, caller, job, changes.dependency, values, notes)
    if changes.begin_at is not None and changes.begin_at != job.begin_at:
        values["begin_at"] = changes.begin_at
        notes.append(f"begin {_moment(job.begin_at)} -> {_moment(changes.begin_at)}")
    if changes.array_throttle is not None:
        _throttle(job, changes.array_throttle, values, notes)
    values["spec"] = spec.to_json()
    return _Plan(job, values, notes)


def _check_changeable(caller: Caller, job: JobRow, changes: JobChanges) -> None:
    """The caller may change the job, it is pending, and something is to change."""
    check_may_cancel(caller, job, "change")
    given = changes.given()
    if not given:
        names = ", ".join(f.name for f in fields(changes))
        raise ConfigError(f"nothing to change: give at least one of {names}", field="body")
    state = JobState(job.state)
    if state is not JobState.PENDING and not (state in _ACTIVE and set(given) == {"time_limit"}):
        why = "only a pending job can be changed"
        if state in _ACTIVE:
            why = "of a running job only the time limit can be changed"
        raise ConflictError(f"it is {job.state}: {why}")
    if changes.name is not None and not changes.name:
        raise ConfigError("must not be empty", field="name")


def _check_running_limit(caller: Caller, job: JobRow, old: float | None, new: float | None) -> None:
    """Slurm's rule for a running job's limit: lower it, or (an administrator) raise it (a
    job with none may be given one; an update never removes a limit)."""
    if old is not None and new is not None and new > old and not caller.is_admin:
        raise AccessDeniedError(
            f"you may not raise the time limit of running job {job.id} "
            f"({_hms(old)} -> {_hms(new)}): only an administrator may; you may lower it"
        )


def _column(spec: JobSpec, key: str) -> Any:
    """A shape column as ``jobs`` keeps it (``gpus``: the count, one when left out)."""
    return spec.gpu_count if key == "gpus" else getattr(spec, key)


def _new_spec(old: JobSpec, changes: JobChanges) -> JobSpec:
    """The job's spec as it would be after ``changes``."""
    new: dict[str, Any] = {}
    for key in ("time_limit", "name", "gpus", "nodes", "project"):
        if getattr(changes, key) is not None:
            new[key] = getattr(changes, key)
    if changes.gpu_model is not None:
        new["gpu_model"] = changes.gpu_model or None
    if changes.dependency is not None:
        new["dependency"] = changes.dependency or None
    if changes.begin_at is not None:
        new["begin_at"] = changes.begin_at
    return replace(old, **new)


def _moment(seconds: float | None) -> str:
    """A begin time in a job's history: ISO 8601 in UTC, to the second (``none``)."""
    if seconds is None:
        return "none"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _project(session: Session, caller: Caller, project: str) -> dict[str, Any]:
    try:
        org = project_for_submit(session=session, caller=caller, project_id=project)
    except NotFoundError as exc:
        raise ConfigError(str(exc), field="project") from None
    return {"project_id": project, "org_id": org}


def _dependency(
    session: Session,
    caller: Caller,
    job: JobRow,
    text: str,
    values: dict[str, Any],
    notes: list[str],
) -> None:
    """The canonical form of a new dependency (``""``: none), checked as at submission, and
    refused where it would wait for the job itself (a cycle: it could never hold)."""
    new: str | None = None
    if text:
        tasks = () if job.array_task_id is None else (job.array_task_id,)
        new = resolve_dependency(session=session, caller=caller, text=text, tasks=tasks)[0]
        check_no_cycle(session=session, job_id=job.id, dependency=new)
    if new != job.dependency:
        values["dependency"] = new
        notes.append(f"dependency {job.dependency or 'none'} -> {new or 'none'}")


def _throttle(job: JobRow, throttle: int, values: dict[str, Any], notes: list[str]) -> None:
    if job.array_job_id is None:
        raise ConfigError(f"job {job.id} is not an array task", field="array_throttle")
    if throttle < 0:
        raise ConfigError("must be 0 (no limit) or more", field="array_throttle")
    new = throttle or None
    if new != job.array_throttle:
        values["array_throttle"] = new
        notes.append(f"array throttle {job.array_throttle or 'none'} -> {new or 'none'}")


def _apply(
    session: Session, plans: list[_Plan], caller: Caller, changes: JobChanges, now: float
) -> None:
    """Write every plan (all were checked first), one note per change."""
    if changes.array_throttle is not None:
        _throttle_others(session, plans, changes.array_throttle or None)
    for plan in plans:
        for key, value in plan.values.items():
            setattr(plan.job, key, value)
        if plan.notes:
            plan.job.estimated_start = None
        state = JobState(plan.job.state)
        for note in plan.notes:
            cause = f"{note} by {caller.member_id}"
            _append_event(session, plan.job, state, state, cause, now)


def _throttle_others(session: Session, plans: list[_Plan], throttle: int | None) -> None:
    """A throttle is the whole array's: its other tasks that have not ended carry it too (the
    hold rule counts the running ones against it, ``aitc.control.pending``)."""
    arrays = {p.job.array_job_id for p in plans if p.job.array_job_id is not None}
    changed = {p.job.id for p in plans}
    alive = [s.value for s in JobState if not s.terminal]
    stmt = select(JobRow).where(
        JobRow.array_job_id.in_(arrays), JobRow.state.in_(alive), JobRow.id.not_in(changed)
    )
    for row in session.scalars(stmt):
        row.array_throttle = throttle


def _hms(seconds: float | None) -> str:
    """A time limit as Slurm prints it (``02:00:00``, ``1-00:00:00``), or ``none``."""
    return "none" if seconds is None else slurm_duration(seconds)


def _shown(value: object) -> str:
    return "any" if value is None else str(value)

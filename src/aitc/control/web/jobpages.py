"""Pages of one job (details, history, live log, change, cancel, requeue), the submit form and
the "Start a notebook" form (``/notebook``: ``aitc.control.notebooks``, as ``POST
/api/v1/notebooks``).

A submission is validated by the API's own ``JobCreate`` and stored by the store's
``create_job``, so the form refuses exactly what ``POST /api/v1/jobs`` refuses, with the same
messages, shown beside the field they name. Each rendering of the form carries a fresh
idempotency key, so a form sent twice (a double click, a reload) stores one job.
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from aitc.control.api.deps import notify
from aitc.control.api.logs import log_source, open_log
from aitc.control.api.schemas import (
    GpuUsagePublic,
    JobCreate,
    JobEventPublic,
    JobPublic,
    JobUpdate,
    NotebookCreate,
)
from aitc.control.courses.labroutes import lab_settings
from aitc.control.notebooks import start_notebook
from aitc.control.store import JobSpec
from aitc.control.store.access import LimitExceededError, check_may_cancel
from aitc.control.store.gpu_usage import gpu_usage_of
from aitc.control.store.jobs import (
    cancel_array,
    cancel_job,
    create_job,
    get_job,
    job_events,
    requeue_job,
)
from aitc.control.store.update import update_job
from aitc.control.web.render import HEADERS, Visit, WebRoute, form, now, visit
from aitc.domain.gpu import GPU_MODELS
from aitc.domain.job import JobState, Priority
from aitc.errors import AccessDeniedError, ConfigError, ConflictError, NotFoundError

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LOG_CHUNK = 64 * 1024
FIELDS = ("name", "project", "gpus", "mig", "nodes", "time_limit", "priority", "command", "workdir")
NOTEBOOK_FIELDS = ("project", "gpus", "time_limit")
NOTEBOOK_DEFAULTS = {"gpus": "1", "time_limit": "120"}


def _job_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise NotFoundError(f"no job {text!r}")
    return int(text)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> Response:
    with visit(request) as v:
        return _job_page(v, _job_id(job_id))


def _job_page(
    v: Visit,
    job_id: int,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The job's page; ``errors`` and ``values``: a change form sent back with what was wrong."""
    me = v.me
    job = get_job(session=v.session, caller=me, job_id=job_id)
    try:
        check_may_cancel(me, job)
        may_cancel = not JobState(job.state).terminal
    except AccessDeniedError:
        may_cancel = False
    events = job_events(session=v.session, caller=me, job_id=job.id)
    public = JobPublic.of(job, me)
    earlier = _earlier_output(v, job.id, job.attempt)
    shown = {"name": job.name, "time_limit": _minutes(job.time_limit)}
    return v.render(
        "job.html",
        status,
        job=public,
        script=JobSpec.from_json(job.spec).script,
        usage=[GpuUsagePublic.of(r) for r in gpu_usage_of(session=v.session, job_id=job.id)],
        events=[JobEventPublic.of(e) for e in events],
        may_cancel=may_cancel,
        may_change=may_cancel and job.state == JobState.PENDING.value,
        may_requeue=may_cancel
        and job.state == JobState.RUNNING.value
        and not job.cancel_requested
        and job.requeue_request is None,
        requeue_asked=job.requeue_request is not None,
        earlier=earlier,
        errors=errors or {},
        values=shown | (values or {}),
        refresh=0,
    )


def _earlier_output(v: Visit, job_id: int, attempts: int) -> list[tuple[int, list[Any]]]:
    """The last ``LOG_CHUNK`` of each earlier attempt's output and error (the last five
    attempts), newest first; none for a job whose output goes to its own file (one for all
    its attempts, shown above) or a server that keeps no earlier logs."""
    log_dir = v.request.app.state.settings.log_dir
    out: list[tuple[int, list[Any]]] = []
    for attempt in range(attempts - 1, max(0, attempts - 6), -1):
        streams = []
        for stream in ("stdout", "stderr"):
            try:
                source = log_source(
                    session=v.session,
                    caller=v.me,
                    job_id=job_id,
                    stream=stream,
                    attempt=attempt,
                    log_dir=log_dir,
                )
                fd = open_log(source, source.path)
            except (ConflictError, AccessDeniedError):
                continue
            if fd is None:
                continue
            try:
                size = os.fstat(fd).st_size
                data = os.pread(fd, LOG_CHUNK, max(0, size - LOG_CHUNK))
            finally:
                os.close(fd)
            streams.append((stream, data.decode("utf-8", "replace")))
        if streams:
            out.append((attempt, streams))
    return out


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:g}"


@router.post("/jobs/{job_id}/update")
async def update(request: Request, job_id: str) -> Response:
    """Change a pending job's name and time limit (``aitc update``), as ``PATCH /jobs/{id}``
    does; what is wrong is shown beside its field."""
    fields = await form(request)
    number = _job_id(job_id)
    values = {k: fields.get(k, "").strip() for k in ("name", "time_limit")}
    errors: dict[str, str] = {}
    with visit(request, write=True) as v:
        job = get_job(session=v.session, caller=v.me, job_id=number)
        body: dict[str, Any] = {}
        if values["name"] and values["name"] != job.name:
            body["name"] = values["name"]
        if values["time_limit"] and values["time_limit"] != _minutes(job.time_limit):
            try:
                body["time_limit"] = float(values["time_limit"]) * 60.0
            except ValueError:
                errors["time_limit"] = "must be a number of minutes"
        if not errors and body:
            _change(v, number, body, errors)
        if errors:
            return _job_page(v, number, errors, values, 422)
    notify(request.app.state.settings)
    return RedirectResponse(f"/jobs/{number}", 303, headers=HEADERS)


def _change(v: Visit, job_id: int, body: dict[str, Any], errors: dict[str, str]) -> None:
    try:
        changes = JobUpdate.model_validate(body).to_changes()
        update_job(
            session=v.session, caller=v.me, job_id=job_id, changes=changes, now=now(v.request)
        )
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "_form"
            errors.setdefault(field, _message(err, body))
    except ConfigError as exc:
        errors[(exc.field or "_form").split(".", 1)[0]] = exc.reason


@router.post("/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str) -> Response:
    await form(request)
    number = _job_id(job_id)
    with visit(request, write=True) as v:
        cancel_job(session=v.session, caller=v.me, job_id=number, now=now(request))
    notify(request.app.state.settings)
    return RedirectResponse(f"/jobs/{number}", 303, headers=HEADERS)


@router.post("/jobs/{job_id}/requeue")
async def requeue(request: Request, job_id: str) -> Response:
    """Put the running job back in the queue (``aitc requeue``): stopped, then run again."""
    await form(request)
    number = _job_id(job_id)
    with visit(request, write=True) as v:
        requeue_job(session=v.session, caller=v.me, job_id=number, hold=False, now=now(request))
    notify(request.app.state.settings)
    return RedirectResponse(f"/jobs/{number}", 303, headers=HEADERS)


@router.post("/jobs/{job_id}/cancel-array")
async def cancel_whole_array(request: Request, job_id: str) -> Response:
    """Cancel every task of the array the job belongs to (``aitc cancel ARRAY``)."""
    await form(request)
    number = _job_id(job_id)
    with visit(request, write=True) as v:
        job = get_job(session=v.session, caller=v.me, job_id=number)
        if job.array_job_id is None:
            raise NotFoundError(f"job {number} is no task of an array")
        at = now(request)
        cancel_array(session=v.session, caller=v.me, array_id=job.array_job_id, task=None, now=at)
    notify(request.app.state.settings)
    return RedirectResponse(f"/jobs/{number}", 303, headers=HEADERS)


@router.get("/jobs/{job_id}/log")
def job_log(
    request: Request,
    job_id: str,
    stream: Literal["stdout", "stderr"] = "stdout",
    offset: Annotated[int, Query(ge=-1, le=2**62)] = -1,
) -> Response:
    """New output from ``offset`` (-1: the last 64 KiB) as JSON, for the page's log tail."""
    with visit(request) as v:
        job = get_job(session=v.session, caller=v.me, job_id=_job_id(job_id))
        source = log_source(session=v.session, caller=v.me, job_id=job.id, stream=stream)
        state = job.state
    fd = open_log(source, source.path)
    data = b""
    if fd is not None:
        try:
            size = os.fstat(fd).st_size
            offset = max(0, size - LOG_CHUNK) if offset < 0 else offset
            data = os.pread(fd, LOG_CHUNK, offset)
        finally:
            os.close(fd)
    offset = max(offset, 0) + len(data)
    body = {"text": data.decode("utf-8", "replace"), "offset": offset, "state": state}
    return JSONResponse(body | {"ended": JobState(state).terminal}, headers=HEADERS)


@router.get("/submit")
def submit_page(request: Request) -> Response:
    with visit(request) as v:
        return _form(v, {"gpus": "1", "time_limit": "60"}, {}, 200)


def _form(v: Visit, values: dict[str, str], errors: dict[str, str], status: int) -> Response:
    me = v.me
    profiles = sorted({p.name for g in GPU_MODELS.values() for p in g.mig_profiles})
    return v.render(
        "submit.html",
        status,
        values=values,
        errors=errors,
        projects=sorted(me.projects),
        profiles=profiles,
        priorities=[p.value for p in Priority],
        key=secrets.token_urlsafe(16),
        refresh=0,
    )


@router.post("/submit")
async def submit(request: Request) -> Response:
    fields = await form(request)
    values = {k: fields.get(k, "").strip() for k in FIELDS}
    errors: dict[str, str] = {}
    body = _body(values, errors)
    with visit(request, write=True) as v:
        job = None
        if not errors:
            job = _store(v, body, fields.get("key") or None, errors)
        if job is None:
            return _form(v, values, errors, 422)
    notify(request.app.state.settings)
    return RedirectResponse(f"/jobs/{job}", 303, headers=HEADERS)


@router.get("/notebook")
def notebook_page(request: Request) -> Response:
    with visit(request) as v:
        return _notebook_form(v, NOTEBOOK_DEFAULTS, {}, 200)


def _notebook_form(
    v: Visit, values: dict[str, str], errors: dict[str, str], status: int
) -> Response:
    projects = sorted(v.me.projects)
    key = secrets.token_urlsafe(16)  # a form sent twice (a double click) starts one notebook
    return v.render(
        "notebook.html", status, nb=values, nb_errors=errors, projects=projects, key=key
    )


@router.post("/notebook")
async def notebook(request: Request) -> Response:
    """Start a notebook (the form of ``/notebook``) and show its job."""
    fields = await form(request)
    values = {k: fields.get(k, "").strip() for k in NOTEBOOK_FIELDS}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"project": values["project"] or None}
    _numbers(values, body, errors, ("gpus",))
    with visit(request, write=True) as v:
        job = None
        if not errors:
            job = _start_notebook(v, body, fields.get("key") or None, errors)
        if job is None:
            return _notebook_form(v, values, errors, 422)
    notify(request.app.state.settings)
    return RedirectResponse(f"/jobs/{job}", 303, headers=HEADERS)


def _start_notebook(
    v: Visit, body: dict[str, Any], key: str | None, errors: dict[str, str]
) -> int | None:
    """Validate and start the notebook as ``POST /api/v1/notebooks`` does; its job's id, or
    None with ``errors`` filled in by field."""
    with _refusals(errors, NOTEBOOK_FIELDS, body):
        wanted = NotebookCreate.model_validate(body).to_request()
        job, _ = start_notebook(
            session=v.session, caller=v.me, request=wanted,
            settings=lab_settings(v.request), now=now(v.request), idempotency_key=key,
        )  # fmt: skip
        return job.id
    return None


def _numbers(
    values: dict[str, str], body: dict[str, Any], errors: dict[str, str], counts: tuple[str, ...]
) -> None:
    """The form's whole numbers (``counts``) and its time limit in minutes, into ``body``."""
    for key in counts:
        if values[key] and not (key == "gpus" and values.get("mig")):
            try:
                body[key] = int(values[key])
            except ValueError:
                errors[key] = "must be a whole number"
    if values["time_limit"]:
        try:
            body["time_limit"] = float(values["time_limit"]) * 60.0
        except ValueError:
            errors["time_limit"] = "must be a number of minutes"


def _body(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The JobCreate body the form's text stands for (errors for what is not a number)."""
    body: dict[str, Any] = {"name": values["name"]}
    for key in ("project", "mig", "workdir"):
        if values[key]:
            body[key] = values[key]
    _numbers(values, body, errors, ("gpus", "nodes"))
    if values["priority"]:
        body["priority"] = values["priority"]
    try:
        body["command"] = shlex.split(values["command"])
    except ValueError as exc:
        errors["command"] = f"cannot be split into words: {exc}"
    return body


def _store(v: Visit, body: dict[str, Any], key: str | None, errors: dict[str, str]) -> int | None:
    """Validate and store the job as ``POST /api/v1/jobs`` does; its id, or None with
    ``errors`` filled in by field (``_form`` for what names no field)."""
    with _refusals(errors, FIELDS, body):
        spec = JobCreate.model_validate(body).to_spec()
        job, _ = create_job(
            session=v.session, spec=spec, caller=v.me, now=now(v.request), idempotency_key=key
        )
        return job.id
    return None


@contextmanager
def _refusals(
    errors: dict[str, str], fields: Iterable[str], body: dict[str, Any]
) -> Iterator[None]:
    """What the API's model or the store refuses, as the form's ``errors`` by field (``_form``
    for what names none of ``fields``); nothing else is caught."""
    try:
        yield
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "_form"
            errors.setdefault(field if field in fields else "_form", _message(err, body))
    except ConfigError as exc:
        field = (exc.field or "_form").split(".", 1)[0]
        errors[field if field in fields else "_form"] = exc.reason
    except (LimitExceededError, ConflictError) as exc:
        errors["_form"] = str(exc)


def _message(err: Any, body: dict[str, Any]) -> str:
    msg = str(err["msg"])
    if err["loc"] and err["loc"][0] == "time_limit" and "greater than" in msg:
        return "must be at least 1 second (the form counts minutes: 0.02 or more)"
    if err["loc"] and err["loc"][0] == "command" and not body.get("command"):
        return "required: the program to run and its arguments"
    return msg

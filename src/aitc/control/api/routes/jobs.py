"""/api/v1/jobs: submit, list, show, change, cancel, events and logs."""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response, WebSocket, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from aitc.control.api.authcache import AuthCache
from aitc.control.api.deps import (
    CallerDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    after_commit,
    group_commit,
    note_use,
    notify,
)
from aitc.control.api.errors import Utf8Route
from aitc.control.api.logs import (
    FollowResponse,
    FollowSlots,
    follow_log,
    log_source,
    open_log,
    read_log,
)
from aitc.control.api.schemas import (
    MAX_ID,
    GpuUsagePublic,
    GpuUsagesPublic,
    JobCreate,
    JobEventPublic,
    JobEventsPublic,
    JobPublic,
    JobsCancel,
    JobSignal,
    JobsPublic,
    JobUpdate,
    Text,
)
from aitc.control.api.settings import Settings
from aitc.control.api.terminal import attach
from aitc.control.store.access import Caller
from aitc.control.store.gpu_usage import gpu_usage_of
from aitc.control.store.jobs import (
    CancelFilters,
    JobFilters,
    cancel_array,
    cancel_job,
    cancel_jobs,
    create_job,
    get_job,
    hold_array,
    hold_job,
    job_events,
    job_script,
    list_jobs,
    release_job,
    requeue_array,
    requeue_job,
    signal_job,
)
from aitc.control.store.models import JobRow
from aitc.control.store.specs import JobSpec
from aitc.control.store.update import update_array, update_job
from aitc.domain.job import JobState

router = APIRouter(prefix="/jobs", tags=["jobs"], route_class=Utf8Route)
JobIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The job's number.")]
Filter = Annotated[Text | None, Query(max_length=64)]


async def submit_job(
    request: Request,
    body: JobCreate,
    caller: CallerDep,
    idempotency_key: Annotated[Text | None, Header(max_length=200)] = None,
) -> Response:
    """Submit a job. Retrying with the same `Idempotency-Key` returns the same job (200)."""
    return await accept(request, body, caller, idempotency_key)


async def accept(request: Request, body: JobCreate, caller: Caller, key: str | None) -> Response:
    """Store the job in the writer's next group commit (one COMMIT for a burst of
    submissions) and answer once it has committed."""
    settings: Settings = request.app.state.settings
    work = partial(_create, body.to_spec(), caller, settings.clock.now(), key)
    job, created = await group_commit(request, work)
    if created:
        notify(settings)
        return json_response(JobPublic.of(job, caller), status.HTTP_201_CREATED)
    return json_response(
        JobPublic.of(job, caller), status.HTTP_200_OK, {"Idempotent-Replayed": "true"}
    )


class SubmitRoute(Utf8Route):
    """``POST /jobs`` with a fast path for the common request (the hot path of
    bench/api_submit.py): a JSON body that validates, a remembered token and a valid
    ``Idempotency-Key`` skip FastAPI's dependency solving. Anything else (an unknown token,
    a bad body or header) takes FastAPI's general path, which gives the same answer it always
    did, error responses included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        general = super().get_route_handler()

        async def route(request: Request) -> Response:
            parsed = await _parse_common(request)
            if parsed is None:
                return await general(request)
            return await accept(request, *parsed)

        return route


_KEY = TypeAdapter(Annotated[Text, Field(max_length=200)])


async def _parse_common(request: Request) -> tuple[JobCreate, Caller, str | None] | None:
    """Body, caller and key of a request that needs nothing but the fast path, else None."""
    headers = request.headers
    if headers.get("content-type") != "application/json":
        return None
    scheme, _, secret = (headers.get("authorization") or "").partition(" ")
    cache: AuthCache = request.app.state.auth_cache
    caller = cache.get(secret.strip()) if scheme.lower() == "bearer" and secret else None
    key = headers.get("idempotency-key")
    if caller is None:
        return None
    note_use(request, secret.strip())
    try:
        key = None if key is None else _KEY.validate_python(key)
        return JobCreate.model_validate_json(await request.body()), caller, key
    except ValidationError:
        return None


router.add_api_route(
    "",
    submit_job,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={200: {"model": JobPublic, "description": "A retry: the job stored before."}},
    route_class_override=SubmitRoute,
)


def _create(
    spec: JobSpec, caller: Caller, now: float, key: str | None, session: Session
) -> tuple[JobRow, bool]:
    return create_job(session=session, spec=spec, caller=caller, now=now, idempotency_key=key)


def json_response(model: BaseModel, code: int, headers: dict[str, str] | None = None) -> Response:
    """``model`` serialised once by pydantic (FastAPI would validate it again first)."""
    return Response(model.model_dump_json(), code, headers, media_type="application/json")


@router.get("", response_model=JobsPublic)
def read_jobs(
    session: SessionDep,
    caller: CallerDep,
    state: Annotated[list[JobState] | None, Query(max_length=10)] = None,
    project: Filter = None,
    organisation: Filter = None,
    member: Filter = None,
    array: Annotated[int | None, Query(ge=1, le=MAX_ID, description="An array's id.")] = None,
    since: Annotated[
        float | None, Query(ge=0, le=1e11, description="Ended at or after (epoch seconds).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> JobsPublic:
    """The jobs you may see, newest first (`since`: those that ended since then)."""
    filters = JobFilters(
        states=tuple(state or ()),
        project=project,
        org=organisation,
        member=member,
        limit=limit,
        offset=offset,
        ended_since=since,
        array_job_id=array,
    )
    rows, count = list_jobs(session=session, caller=caller, filters=filters)
    return JobsPublic(data=[JobPublic.of(j, caller) for j in rows], count=count)


@router.get("/{job_id}", response_model=JobPublic)
def read_job(job_id: JobIdPath, session: SessionDep, caller: CallerDep) -> Response:
    """One job, with why it waits (`pending_reasons`) and when it may start."""
    job = get_job(session=session, caller=caller, job_id=job_id)
    return json_response(JobPublic.of(job, caller), status.HTTP_200_OK)


@router.post("/cancel", response_model=JobsPublic)
def cancel_many(
    body: JobsCancel, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JobsPublic:
    """Cancel a member's pending and running jobs in one go (`scancel -u M`), narrowed by
    state, project and name; the answer lists them (none: an empty list). 403, and nothing
    cancelled, if one of them is not yours to cancel."""
    states = tuple(JobState(s) for s in body.states)
    if JobState.RUNNING in states:
        states += (JobState.STARTING,)
    filters = CancelFilters(body.member, states, body.project, body.name)
    rows = cancel_jobs(session=session, caller=caller, filters=filters, now=settings.clock.now())
    return _changed(rows, session, caller, settings)


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel(
    job_id: JobIdPath, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JobPublic:
    """Cancel a job: a pending one at once, a running one as soon as the controller stops it."""
    job = cancel_job(session=session, caller=caller, job_id=job_id, now=settings.clock.now())
    after_commit(session, settings)
    return JobPublic.of(job, caller)


@router.post("/{job_id}/signal", response_model=JobPublic)
def signal(
    job_id: JobIdPath,
    body: JobSignal,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> JobPublic:
    """Send a signal to a running job (as `scancel --signal`): the controller sends it at its
    next pass and notes it in the job's history. 409 if the job is not running."""
    now = settings.clock.now()
    job = signal_job(session=session, caller=caller, job_id=job_id, signal=body.signal, now=now)
    after_commit(session, settings)
    return JobPublic.of(job, caller)


HoldQuery = Annotated[
    bool, Query(description="Held once back in the queue (scontrol requeuehold), until released.")
]


@router.post("/{job_id}/requeue", response_model=JobPublic)
def requeue(
    job_id: JobIdPath,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    hold: HoldQuery = False,
) -> JobPublic:
    """Put a running job back in the queue (as `scontrol requeue`; `hold`: `requeuehold`): the
    controller stops it at its next pass and it runs again, as a new attempt, from its place
    in the queue. Whoever may cancel a job may requeue it. 409 if the job is not running."""
    now = settings.clock.now()
    job = requeue_job(session=session, caller=caller, job_id=job_id, hold=hold, now=now)
    after_commit(session, settings)
    return JobPublic.of(job, caller)


@router.post("/{job_id}/hold", response_model=JobPublic)
def hold(
    job_id: JobIdPath, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JobPublic:
    """Hold a pending job: it stays pending (reason `held`) and is not scheduled until it is
    released. 409 if the job is not pending."""
    job = hold_job(session=session, caller=caller, job_id=job_id, now=settings.clock.now())
    after_commit(session, settings)
    return JobPublic.of(job, caller)


@router.post("/{job_id}/release", response_model=JobPublic)
def release(
    job_id: JobIdPath, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JobPublic:
    """Release a held job: the controller schedules it again at its next pass."""
    job = release_job(session=session, caller=caller, job_id=job_id, now=settings.clock.now())
    after_commit(session, settings)
    return JobPublic.of(job, caller)


@router.patch("/{job_id}", response_model=JobPublic)
def update(
    job_id: JobIdPath,
    body: JobUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> JobPublic:
    """Change a pending job (as `scontrol update`): only the fields given change, each
    checked as at submission, all or nothing; each change is noted in its history. 409 if
    the job is not pending, 422 naming the field."""
    now = settings.clock.now()
    job = update_job(
        session=session, caller=caller, job_id=job_id, changes=body.to_changes(), now=now
    )
    after_commit(session, settings)
    return JobPublic.of(job, caller)


ArrayIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The array's id.")]
TaskQuery = Annotated[
    int | None, Query(ge=0, le=10**6, description="Only this task (ARRAY_TASK in Slurm's words).")
]


@router.post("/arrays/{array_id}/hold", response_model=JobsPublic)
def hold_array_tasks(
    array_id: ArrayIdPath,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    task: TaskQuery = None,
) -> JobsPublic:
    """Hold every pending task of an array (as `scontrol hold ARRAY`), or only `task`; the
    answer lists the tasks held. 409 if none is pending."""
    return _array_hold(array_id, task, True, session, caller, settings)


@router.post("/arrays/{array_id}/release", response_model=JobsPublic)
def release_array_tasks(
    array_id: ArrayIdPath,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    task: TaskQuery = None,
) -> JobsPublic:
    """Release every held task of an array, or only `task`; the answer lists the pending
    tasks. 409 if none is pending."""
    return _array_hold(array_id, task, False, session, caller, settings)


@router.post("/arrays/{array_id}/cancel", response_model=JobsPublic)
def cancel_array_tasks(
    array_id: ArrayIdPath,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    task: TaskQuery = None,
) -> JobsPublic:
    """Cancel every pending or running task of an array (as `scancel ARRAY`), or only `task`;
    the answer lists them. 409 if all have ended."""
    now = settings.clock.now()
    rows = cancel_array(session=session, caller=caller, array_id=array_id, task=task, now=now)
    return _changed(rows, session, caller, settings)


@router.post("/arrays/{array_id}/requeue", response_model=JobsPublic)
def requeue_array_tasks(
    array_id: ArrayIdPath,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    task: TaskQuery = None,
    hold: HoldQuery = False,
) -> JobsPublic:
    """Requeue every running task of an array (as `scontrol requeue ARRAY`), or only `task`;
    the answer lists them. 409 if none is running."""
    now = settings.clock.now()
    rows = requeue_array(
        session=session, caller=caller, array_id=array_id, task=task, hold=hold, now=now
    )
    return _changed(rows, session, caller, settings)


@router.patch("/arrays/{array_id}", response_model=JobsPublic)
def update_array_tasks(
    array_id: ArrayIdPath,
    body: JobUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    task: TaskQuery = None,
) -> JobsPublic:
    """Change every pending task of an array (as `scontrol update JobId=ARRAY`), or only
    `task`, as `PATCH /jobs/{id}` changes one job; the answer lists them. 409 if none is
    pending."""
    changes, now = body.to_changes(), settings.clock.now()
    rows = update_array(
        session=session, caller=caller, array_id=array_id, task=task, changes=changes, now=now
    )
    return _changed(rows, session, caller, settings)


def _array_hold(
    array_id: int,
    task: int | None,
    held: bool,
    session: Session,
    caller: Caller,
    settings: Settings,
) -> JobsPublic:
    now = settings.clock.now()
    rows = hold_array(
        session=session, caller=caller, array_id=array_id, task=task, held=held, now=now
    )
    return _changed(rows, session, caller, settings)


def _changed(
    rows: list[JobRow], session: Session, caller: Caller, settings: Settings
) -> JobsPublic:
    """The answer to a change of many jobs, once it has committed (the controller woken)."""
    after_commit(session, settings)
    return JobsPublic(data=[JobPublic.of(j, caller) for j in rows], count=len(rows))


@router.websocket("/{job_id}/terminal")
async def terminal(websocket: WebSocket, job_id: int) -> None:
    """Attach to an interactive job's terminal (``aitc run``); see ``aitc.control.api.terminal``
    for the frames and the close codes."""
    await attach(websocket, job_id)


@router.get("/{job_id}/events", response_model=JobEventsPublic)
def read_events(job_id: JobIdPath, session: SessionDep, caller: CallerDep) -> JobEventsPublic:
    """Every state change of the job, oldest first."""
    events = job_events(session=session, caller=caller, job_id=job_id)
    return JobEventsPublic(data=[JobEventPublic.of(e) for e in events])


@router.get("/{job_id}/gpu-usage", response_model=GpuUsagesPublic)
def read_gpu_usage(job_id: JobIdPath, session: SessionDep, caller: CallerDep) -> GpuUsagesPublic:
    """What the job's GPUs did, attempt by attempt (as `seff`): mean and p95 utilisation, idle
    share, memory, power. Empty for a job never sampled (virtual GPUs, not started yet)."""
    get_job(session=session, caller=caller, job_id=job_id)
    rows = gpu_usage_of(session=session, job_id=job_id)
    return GpuUsagesPublic(data=[GpuUsagePublic.of(r) for r in rows])


@router.get(
    "/{job_id}/script",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def read_script(job_id: JobIdPath, session: SessionDep, caller: CallerDep) -> Response:
    """The batch script the job runs, as it was submitted (409 for a job that runs a plain
    command)."""
    return PlainTextResponse(job_script(session=session, caller=caller, job_id=job_id))


@router.get(
    "/{job_id}/logs",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def read_logs(
    request: Request,
    job_id: JobIdPath,
    session: SessionDep,
    caller: CallerDep,
    store: StoreDep,
    settings: SettingsDep,
    stream: Literal["stdout", "stderr"] = "stdout",
    follow: bool = False,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    attempt: Annotated[
        int | None, Query(ge=1, le=10**6, description="An earlier attempt's (default: the last).")
    ] = None,
) -> Response:
    """The job's output from `offset` bytes on; `follow=true` streams until the job ends
    (at most `max_follows_per_member` streams per member at once; more are answered 429).
    `attempt`: an earlier attempt's output (a requeued or preempted job's); 409 for one it
    has not run, and when the job writes to its own file (`--output`: one for all attempts)."""
    source = log_source(
        session=session,
        caller=caller,
        job_id=job_id,
        stream=stream,
        attempt=attempt,
        log_dir=settings.log_dir,
    )
    if not follow:
        return PlainTextResponse(read_log(source, offset))
    fd = open_log(source, source.path)  # refuse a file that is not served before streaming
    if fd is not None:
        os.close(fd)
    slots: FollowSlots = request.app.state.follow_slots
    give_back = slots.take(caller.member_id)
    chunks = follow_log(
        store=store,
        source=source,
        offset=offset,
        poll_s=settings.follow_poll_s,
        check_s=settings.follow_check_s,
        limiter=request.app.state.follow_limiter,
    )
    return FollowResponse(chunks, give_back)

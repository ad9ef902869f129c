"""/api/v1/jobs: submit, list, show, cancel, events and logs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from aitc.control.api.deps import (
    CallerDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    after_commit,
    notify,
)
from aitc.control.api.errors import Utf8Route
from aitc.control.api.logs import follow_log, read_log
from aitc.control.api.schemas import (
    MAX_ID,
    JobCreate,
    JobEventPublic,
    JobEventsPublic,
    JobPublic,
    JobsPublic,
    Text,
)
from aitc.control.api.settings import Settings
from aitc.control.store.access import Caller
from aitc.control.store.db import Store
from aitc.control.store.jobs import (
    JobFilters,
    cancel_job,
    create_job,
    get_job,
    job_events,
    list_jobs,
)
from aitc.domain.job import JobState

router = APIRouter(prefix="/jobs", tags=["jobs"], route_class=Utf8Route)
JobIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The job's number.")]
Filter = Annotated[Text | None, Query(max_length=64)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={200: {"model": JobPublic, "description": "A retry: the job stored before."}},
)
async def submit_job(
    request: Request,
    body: JobCreate,
    caller: CallerDep,
    idempotency_key: Annotated[Text | None, Header(max_length=200)] = None,
) -> Response:
    """Submit a job. Retrying with the same `Idempotency-Key` returns the same job (200)."""
    # The hot path (bench/api_submit.py): one worker-thread hop for the whole transaction,
    # committed before the answer is sent; a SessionDep would cost two more hops, and store and
    # settings as dependencies two more rounds of FastAPI's dependency solving.
    store, settings = request.app.state.store, request.app.state.settings
    job, created = await run_in_threadpool(_submit, store, settings, body, caller, idempotency_key)
    if created:
        notify(settings)
        return json_response(job, status.HTTP_201_CREATED)
    return json_response(job, status.HTTP_200_OK, {"Idempotent-Replayed": "true"})


def _submit(
    store: Store, settings: Settings, body: JobCreate, caller: Caller, key: str | None
) -> tuple[JobPublic, bool]:
    with store.session() as session:
        job, created = create_job(
            session=session,
            spec=body.to_spec(),
            caller=caller,
            now=settings.clock.now(),
            idempotency_key=key,
        )
        return JobPublic.of(job), created


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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> JobsPublic:
    """The jobs you may see, newest first."""
    filters = JobFilters(
        states=tuple(state or ()),
        project=project,
        org=organisation,
        member=member,
        limit=limit,
        offset=offset,
    )
    rows, count = list_jobs(session=session, caller=caller, filters=filters)
    return JobsPublic(data=[JobPublic.of(j) for j in rows], count=count)


@router.get("/{job_id}", response_model=JobPublic)
def read_job(job_id: JobIdPath, session: SessionDep, caller: CallerDep) -> Response:
    """One job, with why it waits (`pending_reasons`) and when it may start."""
    job = get_job(session=session, caller=caller, job_id=job_id)
    return json_response(JobPublic.of(job), status.HTTP_200_OK)


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel(
    job_id: JobIdPath, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JobPublic:
    """Cancel a job: a pending one at once, a running one as soon as the controller stops it."""
    job = cancel_job(session=session, caller=caller, job_id=job_id, now=settings.clock.now())
    after_commit(session, settings)
    return JobPublic.of(job)


@router.get("/{job_id}/events", response_model=JobEventsPublic)
def read_events(job_id: JobIdPath, session: SessionDep, caller: CallerDep) -> JobEventsPublic:
    """Every state change of the job, oldest first."""
    events = job_events(session=session, caller=caller, job_id=job_id)
    return JobEventsPublic(data=[JobEventPublic.of(e) for e in events])


@router.get(
    "/{job_id}/logs",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def read_logs(
    job_id: JobIdPath,
    session: SessionDep,
    caller: CallerDep,
    store: StoreDep,
    settings: SettingsDep,
    stream: Literal["stdout", "stderr"] = "stdout",
    follow: bool = False,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """The job's output from `offset` bytes on; `follow=true` streams until the job ends."""
    job = get_job(session=session, caller=caller, job_id=job_id)
    if not follow:
        return PlainTextResponse(read_log(job, stream, offset))
    chunks = follow_log(
        store=store,
        caller=caller,
        job_id=job.id,
        stream=stream,
        offset=offset,
        poll_s=settings.follow_poll_s,
    )
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")

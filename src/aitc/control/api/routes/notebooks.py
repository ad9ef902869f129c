"""/api/v1/notebooks: start a notebook, a Jupyter server as a job of yours (``aitc notebook``;
see ``aitc.control.notebooks``). Everything else about it is the job's: read it, follow it and
cancel it under /jobs."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from sqlalchemy.orm import Session

from aitc.control.api.deps import CallerDep, group_commit, notify
from aitc.control.api.errors import Utf8Route
from aitc.control.api.routes.jobs import json_response
from aitc.control.api.schemas import JobPublic, NotebookCreate, Text
from aitc.control.api.settings import Settings
from aitc.control.courses.labroutes import lab_settings
from aitc.control.courses.labs import LabSettings
from aitc.control.notebooks import NotebookRequest, start_notebook
from aitc.control.store.access import Caller
from aitc.control.store.models import JobRow

router = APIRouter(prefix="/notebooks", tags=["jobs"], route_class=Utf8Route)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={200: {"model": JobPublic, "description": "A retry: the notebook started before."}},
)
async def create_notebook(
    request: Request,
    body: NotebookCreate,
    caller: CallerDep,
    idempotency_key: Annotated[Text | None, Header(max_length=200)] = None,
) -> Response:
    """Start a notebook: a job running the server's Jupyter command on a port the server
    allocates (one no lab or other notebook holds), with a fresh token. The answer is the
    job; once it runs, its `notebook_url` (for you and admins only) opens it. Retrying with
    the same `Idempotency-Key` returns the same notebook (200)."""
    settings: Settings = request.app.state.settings
    now = settings.clock.now()
    # In the writer's group commit: notebooks started at once are allocated one after another.
    work = partial(_start, caller, body.to_request(), lab_settings(request), now, idempotency_key)
    job, created = await group_commit(request, work)
    public = JobPublic.of(job, caller)
    if not created:
        return json_response(public, status.HTTP_200_OK, {"Idempotent-Replayed": "true"})
    notify(settings)
    return json_response(public, status.HTTP_201_CREATED)


def _start(
    caller: Caller,
    request: NotebookRequest,
    labs: LabSettings,
    now: float,
    key: str | None,
    session: Session,
) -> tuple[JobRow, bool]:
    return start_notebook(
        session=session, caller=caller, request=request, settings=labs, now=now,
        idempotency_key=key,
    )  # fmt: skip

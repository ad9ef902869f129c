"""Notebooks (``aitc notebook``, ``POST /api/v1/notebooks``): a member's Jupyter server as a
job of theirs, as Open OnDemand's Jupyter app starts one on a Slurm cluster.

- The server decides what runs, as for learners' labs (``courses/labs.py``): the default lab's
  command (``labs.default_lab_command``: ``LabSettings.python`` runs ``jupyter_server`` on
  ``LabSettings.bind``), on a port it allocates from the labs' range (``labs.free_port``, which
  knows the ports of labs and notebooks both), with a fresh token in ``JUPYTER_TOKEN`` (a
  secret variable: the API shows it to the job's member and admins only).
- Otherwise it is a job like any other: the member's, charged to their project, run as their
  Unix account in its working directory (the member's home when none is given); its time
  limit ends it, and so does ``aitc cancel``.
- Its URL, once placed, is ``http://HOST:PORT/?token=TOKEN`` with HOST from
  ``LabSettings.host_for`` (kept in the spec at submission: ``notebook_host``, "" for the node).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.accounts import resolve, why_cannot_run
from aitc.control.courses.labs import LabSettings, default_lab_command, free_port
from aitc.control.store.access import Caller
from aitc.control.store.jobs import create_job, stored_before
from aitc.control.store.models import JobRow, MemberRow
from aitc.control.store.specs import JobSpec
from aitc.domain.job import Priority
from aitc.errors import ConflictError

TOKEN_VAR = "JUPYTER_TOKEN"
DEFAULT_NAME = "notebook"


@dataclass(frozen=True, slots=True)
class NotebookRequest:
    """What a member may choose about their notebook; the rest is the server's."""

    project: str | None = None
    gpus: int | None = None
    mig: str | None = None
    time_limit: float | None = None
    name: str = ""
    workdir: str | None = None
    priority: Priority = Priority.STANDARD


def start_notebook(
    *,
    session: Session,
    caller: Caller,
    request: NotebookRequest,
    settings: LabSettings,
    now: float,
    idempotency_key: str | None = None,
) -> tuple[JobRow, bool]:
    """Submit the caller's notebook: a port no lab or notebook holds, a fresh token, the
    server's Jupyter command. Returns ``(job, created)``: a retry with the same
    ``idempotency_key`` and request finds the notebook started before (its port and token);
    ``ConflictError`` if the key went with another request."""
    if idempotency_key is not None:
        earlier = _started_before(session, caller, request, settings, idempotency_key)
        if earlier is not None:
            return earlier, False
    _check_runnable(session, caller, settings.python)
    port = free_port(session=session, settings=settings, what="notebook")
    spec = _spec(request, settings, port, secrets.token_urlsafe(24))
    job, created = create_job(
        session=session, spec=spec, caller=caller, now=now, idempotency_key=idempotency_key
    )
    return job, created


def _check_runnable(session: Session, caller: Caller, python: str) -> None:
    """Refuse at once (``ConflictError``) a notebook whose interpreter the member's Unix account
    cannot run, rather than a job that fails at its start (a server whose own interpreter
    lives where members cannot reach; the operator names another with ``--lab-python``)."""
    unix_user = session.scalar(select(MemberRow.unix_user).where(MemberRow.id == caller.member_id))
    account = resolve(unix_user or caller.member_id)
    if account is None:  # no such account here: the job says so when it starts
        return
    why = why_cannot_run(python, account)
    if why is not None:
        raise ConflictError(
            f"this server's notebook interpreter {python} cannot be run by {account.name} "
            f"({why}): its operator names one members can run with aitc serve --lab-python"
        )


def _started_before(
    session: Session, caller: Caller, request: NotebookRequest, settings: LabSettings, key: str
) -> JobRow | None:
    row = session.scalar(
        select(JobRow.spec).where(
            JobRow.member_id == caller.member_id, JobRow.idempotency_key == key
        )
    )
    if row is None:
        return None
    stored = JobSpec.from_json(row)
    if stored.notebook_port is None:
        raise ConflictError("this Idempotency-Key was already used for a job that is no notebook")
    spec = _spec(request, settings, stored.notebook_port, stored.env.get(TOKEN_VAR, ""))
    return stored_before(session=session, caller=caller, key=key, spec=spec)


def _spec(request: NotebookRequest, settings: LabSettings, port: int, token: str) -> JobSpec:
    return JobSpec(
        command=default_lab_command(settings),
        project=request.project,
        name=request.name or DEFAULT_NAME,
        gpus=request.gpus,
        mig=request.mig,
        time_limit=request.time_limit,
        priority=request.priority,
        env={TOKEN_VAR: token, "JUPYTER_PORT": str(port)},
        workdir=request.workdir,
        notebook_port=port,
        notebook_host=settings.host_for(""),
    )


def notebook_url(spec: JobSpec, node: str | None) -> str | None:
    """The notebook's URL with its token, once it has a node (None: not a notebook, or not
    placed)."""
    if spec.notebook_port is None or not (spec.notebook_host or node):
        return None
    host = spec.notebook_host or node
    token = quote(spec.env.get(TOKEN_VAR, ""), safe="")
    return f"http://{host}:{spec.notebook_port}/?token={token}"

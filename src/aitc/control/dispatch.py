"""Committing the engine's decisions, then handing them to the executor.

The order is what makes dispatch safe across crashes:

1. ``commit_decisions`` writes every decision of a pass in ONE transaction: a started job goes
   to ``starting`` with its placement, a new attempt number and its log paths (the server's,
   or the job's own files of ``--output``/``--error``, expanded); a preempted job
   goes back to ``pending``. A job that changed since the pass read it (cancelled meanwhile) is
   skipped, and the engine's decision for it is dropped.
2. Only after the commit, ``dispatch`` calls ``executor.start`` for each started job.

A crash between 1 and 2 leaves jobs in ``starting``; on restart they are dispatched again with
the same attempt number, which the executor turns into a no-op when the attempt had in fact
started (the local executor's O_EXCL claim, Slurm's job name). So a job starts at most once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.accounts import resolve
from aitc.control.batchscript import launched
from aitc.control.executors.base import ExecJob, Executor
from aitc.control.store import JobRow, JobSpec, MemberRow, placement_from_json, transition
from aitc.domain.job import JobState, Placement
from aitc.domain.outputfiles import PatternValues, expand
from aitc.engine.view import Action, Preempt, Start
from aitc.errors import ExecutorError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Preempted:
    job_id: int
    attempt: int
    cause: str


@dataclass(frozen=True, slots=True)
class Committed:
    """What one pass committed: attempts to start, and attempts to stop for a requeue."""

    started: Sequence[ExecJob]
    preempted: Sequence[Preempted]


def log_paths(log_dir: Path, unix_user: str, job_id: int, attempt: int) -> tuple[str, str]:
    """Where the stdout and stderr of one attempt go: a directory per member's Unix account."""
    base = log_dir / unix_user / str(job_id)
    return str(base / f"{attempt}.out"), str(base / f"{attempt}.err")


def output_paths(row: JobRow, spec: JobSpec, unix_user: str) -> tuple[str | None, str | None]:
    """The job's own stdout and stderr files for its current attempt (``--output``,
    ``--error``: None where it named none), its patterns expanded as Slurm expands them. A
    relative path is taken from the job's working directory (its member's home without one),
    where the job starts. Stderr goes with stdout when the job named only ``--output``."""
    if spec.output is None and spec.error is None:
        return None, None
    placement = placement_from_json(row.placement or {})
    values = PatternValues(
        job_id=row.id,
        name=row.name,
        user=unix_user,
        node=placement.nodes[0] if placement.nodes else "",
        array_job_id=row.array_job_id,
        array_task_id=row.array_task_id,
    )
    account = None if spec.workdir else resolve(unix_user)
    base = spec.workdir or (account.home if account is not None else "")

    def path(pattern: str | None) -> str | None:
        return None if pattern is None else os.path.join(base, expand(pattern, values))

    return path(spec.output), path(spec.error if spec.error is not None else spec.output)


def exec_job(row: JobRow, unix_user: str) -> ExecJob:
    """What the executor needs to run the current attempt of ``row`` as ``unix_user``."""
    spec = JobSpec.from_json(row.spec)
    command, env = list(spec.command), dict(spec.env)
    if spec.script is not None and spec.script_path is not None:
        command, carried = launched(command, spec.script_path, spec.script)
        env |= carried
    return ExecJob(
        job_id=row.id,
        attempt=row.attempt,
        name=row.name,
        command=command,
        placement=placement_from_json(row.placement or {}),
        env=env,
        workdir=spec.workdir,
        time_limit=row.time_limit,
        stdout_path=row.stdout_path or "",
        stderr_path=row.stderr_path or "",
        own_stdout=spec.output is not None,
        own_stderr=spec.output is not None or spec.error is not None,
        open_mode=spec.open_mode or ("truncate" if row.attempt <= 1 else "append"),
        unix_user=unix_user,
        terminal=spec.terminal,
        signal=spec.signal,
    )


def describe(placement: Placement) -> str:
    parts = []
    for a in placement.allocs:
        what = (
            f"MIG {a.mig.profile} on GPU {a.mig.gpu}"
            if a.mig
            else "GPUs " + ",".join(map(str, a.gpus))
        )
        parts.append(f"{a.node} ({what})")
    return "; ".join(parts) or "no GPUs"


def commit_decisions(
    *,
    session: Session,
    actions: Sequence[Action],
    policy: str,
    log_dir: Path,
    now: float,
) -> Committed:
    """Apply ``actions`` to the store in the caller's transaction (see the module docstring)."""
    ids = [a.job_id for a in actions]
    rows = {
        r.id: r for r in session.scalars(select(JobRow).where(JobRow.id.in_(ids)).with_for_update())
    }
    accounts = unix_users(session=session, member_ids={r.member_id for r in rows.values()})
    started: list[ExecJob] = []
    preempted: list[Preempted] = []
    for action in actions:
        row = rows.get(action.job_id)
        if row is None:
            continue
        if isinstance(action, Start) and _may_start(row):
            cause = f"scheduled by {policy} on {describe(action.placement)}"
            transition(
                session=session,
                job=row,
                to=JobState.STARTING,
                cause=cause,
                now=now,
                placement=action.placement,
            )
            user = accounts[row.member_id]
            out, err = log_paths(log_dir, user, row.id, row.attempt)
            own_out, own_err = output_paths(row, JobSpec.from_json(row.spec), user)
            row.stdout_path, row.stderr_path = own_out or out, own_err or err
            started.append(exec_job(row, user))
        elif isinstance(action, Preempt) and row.state in (JobState.STARTING, JobState.RUNNING):
            preempted.append(Preempted(row.id, row.attempt, action.cause or "preempted"))
            transition(
                session=session,
                job=row,
                to=JobState.PENDING,
                now=now,
                cause=f"preempted: {action.cause or 'by the scheduler'}; requeued",
            )
    return Committed(started=started, preempted=preempted)


def unix_users(*, session: Session, member_ids: set[str]) -> dict[str, str]:
    """Each member's Unix account name (``unix_user``, or the member id when it is unset)."""
    if not member_ids:
        return {}
    stmt = select(MemberRow.id, MemberRow.unix_user).where(MemberRow.id.in_(member_ids))
    return {mid: user or mid for mid, user in session.execute(stmt)}


def _may_start(row: JobRow) -> bool:
    # a job held since the pass planned it does not start (its row is locked here)
    return row.state == JobState.PENDING and not row.cancel_requested and not row.held


@dataclass(frozen=True, slots=True)
class DispatchResult:
    handles: dict[int, str]
    failures: dict[int, str]


def dispatch(executor: Executor, jobs: Sequence[ExecJob]) -> DispatchResult:
    """Start each attempt; collect handles, and the reason for each attempt that failed."""
    handles: dict[int, str] = {}
    failures: dict[int, str] = {}
    for job in jobs:
        try:
            handles[job.job_id] = executor.start(job)
        except (ExecutorError, OSError) as exc:
            failures[job.job_id] = f"the {executor.name} executor could not start it: {exc}"
        except Exception as exc:  # a bug in an executor must not leave jobs in starting
            log.exception("executor %s failed to start job %s", executor.name, job.job_id)
            failures[job.job_id] = (
                f"the {executor.name} executor failed while starting it: "
                f"{type(exc).__name__}: {exc}"
            )
    return DispatchResult(handles=handles, failures=failures)

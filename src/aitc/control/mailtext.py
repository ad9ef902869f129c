"""What a job's e-mail says: a subject as Slurm writes it, and a body with the job's state,
times and cause. Pure: the outbox (``aitc.control.store.outbox``) calls it when it queues a
mail, so the mail tells the moment it is about, however late it is sent.

Subjects, as Slurm's (``aitc`` in place of ``Slurm``)::

    aitc Job_id=12 Name=train Began, Queued time 00:00:05
    aitc Job_id=12 Name=train Ended, Run time 01:02:03, COMPLETED, ExitCode 0
    aitc Job_id=12 Name=train Failed, Run time 00:00:09, FAILED, ExitCode 1
    aitc Job_id=12 Name=train Requeued, Run time 00:10:00
    aitc Job_id=12 Name=train Reached 50% of time limit, Run time 00:30:00
    aitc Job_id=12 Name=train Reached time limit, Run time 01:00:00, TIMEOUT
    aitc Job_id=12_3 (15) Name=sweep Ended, …          (a task, with ARRAY_TASKS)
    aitc Array_job_id=12 Name=sweep Ended, COMPLETED, 10 tasks   (an array's summary)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aitc.domain.mailtype import SHARES

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_WHAT = {
    "BEGIN": "Began",
    "END": "Ended",
    "FAIL": "Failed",
    "REQUEUE": "Requeued",
    "TIME_LIMIT": "Reached time limit",
}


@dataclass(frozen=True, slots=True)
class MailText:
    subject: str
    body: str


def duration(seconds: float) -> str:
    """``HH:MM:SS``, with ``D-`` days in front past a day, as Slurm writes times."""
    s = max(0, round(seconds))
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}-{text}" if days else text


def _stamp(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _one_line(text: str) -> str:
    """Text for a header: no line breaks (a job name must not add headers)."""
    return _CONTROL.sub(" ", text).strip()[:200]


def _what(kind: str) -> str:
    if kind in SHARES:
        return f"Reached {round(SHARES[kind] * 100)}% of time limit"
    return _WHAT[kind]


def job_mail(job: Any, kind: str, now: float) -> MailText:
    """The mail ``kind`` (``BEGIN`` …) about ``job`` (a ``JobRow``) at ``now``."""
    ident = f"Job_id={job.id}"
    if job.array_job_id is not None:
        ident = f"Job_id={job.array_job_id}_{job.array_task_id} ({job.id})"
    started = job.started_at
    run = (job.ended_at or now) - started if started is not None else 0.0
    state = job.state.upper()
    exit_code = "-" if job.exit_code is None else str(job.exit_code)
    if kind == "BEGIN":
        detail = f"Queued time {duration((started or now) - job.submitted_at)}"
    elif kind in ("END", "FAIL"):
        detail = f"Run time {duration(run)}, {state}, ExitCode {exit_code}"
    elif kind == "TIME_LIMIT":
        detail = f"Run time {duration(run)}, {state}"
    else:
        detail = f"Run time {duration(run)}"
    subject = f"aitc {ident} Name={_one_line(job.name)} {_what(kind)}, {detail}"
    lines = [
        f"Job {job.id} ({job.name}) of {job.member_id}, project {job.project_id}: "
        f"{_what(kind).lower()}.",
        "",
        f"State:      {job.state}",
        f"Attempt:    {job.attempt}",
        f"Submitted:  {_stamp(job.submitted_at)}",
        f"Started:    {_stamp(started)}",
        f"Ended:      {_stamp(job.ended_at)}",
        f"Time limit: {duration(job.time_limit) if job.time_limit else 'none'}",
        f"Exit code:  {exit_code}",
        f"Cause:      {job.cause or '-'}",
    ]
    return MailText(_one_line(subject), "\n".join(lines) + "\n")


def array_mail(first: Any, kind: str, states: dict[str, int], now: float) -> MailText:
    """The one mail ``kind`` about a whole array (no ``ARRAY_TASKS``): ``first`` its first
    task's row, ``states`` how many tasks are in each state."""
    tasks = sum(states.values())
    if kind == "BEGIN":
        detail = f"Queued time {duration(now - first.submitted_at)}"
    elif len(states) == 1:
        detail = f"{next(iter(states)).upper()}, {tasks} tasks"
    else:
        detail = "Mixed, " + ", ".join(f"{n} {s.upper()}" for s, n in sorted(states.items()))
    subject = f"aitc Array_job_id={first.id} Name={_one_line(first.name)} {_what(kind)}, {detail}"
    lines = [
        f"Job array {first.id} ({first.name}) of {first.member_id}, project "
        f"{first.project_id}: {_what(kind).lower()}.",
        "",
        f"Tasks:      {tasks}",
        *(f"{s + ':':<11} {n}" for s, n in sorted(states.items())),
        f"Submitted:  {_stamp(first.submitted_at)}",
        f"At:         {_stamp(now)}",
    ]
    return MailText(_one_line(subject), "\n".join(lines) + "\n")

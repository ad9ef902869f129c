"""A recorded history written in bulk: finished jobs with their ``job_events``, as the
controller would have left them, for the report's benchmark, tests and documentation.

Jobs go to the projects of the store's organisations (a member of the project submits), with a
size mix, waits and run times drawn from a seeded generator; one job in twenty is preempted once
(pending again, then restarted), one in fifty is a MIG job. Rows are inserted with executemany
in chunks, so 100,000 jobs take seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from aitc.control.store.db import Store
from aitc.control.store.models import JobEventRow, JobRow, ProjectMemberRow, ProjectRow

SIZES = (1, 1, 1, 2, 2, 4, 8, 8, 16, 32)
CHUNK = 5000


@dataclass(frozen=True, slots=True)
class HistoryJob:
    id: int
    org: str
    project: str
    member: str
    gpus: int
    mig: str | None
    submit: float
    events: tuple[tuple[float, str | None, str, int], ...]  # at, from, to, attempt


def generate(
    store: Store, *, jobs: int, start: float, stop: float, seed: int = 1
) -> Iterator[HistoryJob]:
    """``jobs`` finished jobs submitted in ``[start, stop)`` (ids after the store's last)."""
    rng = random.Random(seed)
    with store.session(readonly=True) as s:
        teams = [
            (org, project, member)
            for org, project, member in s.execute(
                select(ProjectRow.org_id, ProjectRow.id, ProjectMemberRow.member_id)
                .join(ProjectMemberRow, ProjectMemberRow.project_id == ProjectRow.id)
                .order_by(ProjectRow.id, ProjectMemberRow.member_id)
            )
        ]
        first = (s.scalar(select(func.max(JobRow.id))) or 0) + 1
    if not teams:
        raise ValueError("the store has no project with members: apply a lab first")
    for i in range(jobs):
        org, project, member = rng.choice(teams)
        mig = "1g.10gb" if rng.random() < 0.02 else None
        gpus = 1 if mig else rng.choice(SIZES)
        submit = rng.uniform(start, stop)
        t = submit + rng.expovariate(1 / (300 * gpus))
        events: list[tuple[float, str | None, str, int]] = [(submit, None, "pending", 0)]
        attempt = 1
        if rng.random() < 0.05:  # preempted once, then waits again
            events += [(t, "pending", "starting", 1), (t + 1, "starting", "running", 1)]
            t += rng.uniform(60, 3600)
            events.append((t, "running", "pending", 1))
            t += rng.expovariate(1 / 600)
            attempt = 2
        run = rng.lognormvariate(7.5, 1.2)
        events += [
            (t, "pending", "starting", attempt),
            (t + 1, "starting", "running", attempt),
            (t + 1 + run, "running", "completed", attempt),
        ]
        yield HistoryJob(first + i, org, project, member, gpus, mig, submit, tuple(events))


def write_history(store: Store, *, jobs: int, start: float, stop: float, seed: int = 1) -> int:
    """Insert ``jobs`` generated jobs and their events; returns the number of events."""
    events = 0
    batch: list[HistoryJob] = []
    for job in generate(store, jobs=jobs, start=start, stop=stop, seed=seed):
        batch.append(job)
        if len(batch) == CHUNK:
            events += _insert(store, batch)
            batch = []
    if batch:
        events += _insert(store, batch)
    return events


def _insert(store: Store, batch: list[HistoryJob]) -> int:
    job_rows = [
        dict(
            id=j.id,
            name="train",
            org_id=j.org,
            project_id=j.project,
            member_id=j.member,
            spec={"command": ["train"]},
            gpus=j.gpus,
            mig=j.mig,
            priority="standard",
            state="completed",
            submitted_at=j.submit,
            started_at=j.events[-2][0],
            ended_at=j.events[-1][0],
            exit_code=0,
            attempt=j.events[-1][3],
            cause="",
            cancel_requested=False,
        )
        for j in batch
    ]
    event_rows = [
        dict(job_id=j.id, at=at, from_state=frm, to_state=to, attempt=attempt, cause="")
        for j in batch
        for at, frm, to, attempt in j.events
    ]
    with store.session() as s:
        s.execute(insert(JobRow), job_rows)
        s.execute(insert(JobEventRow), event_rows)
    return len(event_rows)

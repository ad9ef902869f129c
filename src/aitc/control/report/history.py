"""A recorded history written in bulk: finished jobs with their ``job_events``, as the
controller would have left them, for the report's benchmark, tests and documentation.

Jobs go to the projects of the store's organisations (a member of the project submits), with a
size mix, waits and run times drawn from a seeded generator; one job in twenty is preempted once
(pending again, then restarted), one in fifty is a MIG job. Rows are inserted with executemany
in chunks, so 100,000 jobs take seconds.

``write_sessions`` adds the store's courses taught weekly (course ``i`` on weekday ``i mod 5``,
09:00 to 12:00 UTC): each session its reservation, its seats taken by members of the course's
organisation (most attended or passed, some failed, some only enrolled) and one lab job per
learner on a seat for most of the session.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from aitc.control.store.db import Store
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    JobEventRow,
    JobRow,
    ProjectMemberRow,
    ProjectRow,
    ReservationRow,
)

SIZES = (1, 1, 1, 2, 2, 4, 8, 8, 16, 32)
CHUNK = 5000
DAY, WEEK = 86400.0, 7 * 86400.0
SESSION = (9 * 3600.0, 12 * 3600.0)  # from 09:00 to 12:00 UTC
RESULTS = ("passed", "passed", "passed", "attended", "attended", "failed", "enrolled")


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


def write_sessions(store: Store, *, start: float, stop: float, seed: int = 1) -> int:
    """Weekly sessions of every course with seats between ``start`` and ``stop`` (see the
    module docstring); returns the number of sessions."""
    rng = random.Random(seed)
    with store.session(readonly=True) as s:
        courses = list(
            s.scalars(select(CourseRow).where(CourseRow.seats > 0).order_by(CourseRow.id))
        )
        teams = _teams(s)
        first = (s.scalar(select(func.max(JobRow.id))) or 0) + 1
    sessions: list[tuple[CourseRow, float, list[tuple[str, str]]]] = []
    monday = start - (start + 3 * DAY) % WEEK  # the epoch began on a Thursday
    for i, course in enumerate(courses):
        people = teams.get(course.org_id, [])
        day = monday + (i % 5) * DAY
        while day + SESSION[1] <= stop and people:
            if day + SESSION[0] >= start:
                seats = rng.sample(people, min(course.seats, len(people)))
                sessions.append((course, day, seats))
            day += WEEK
    jobs: list[HistoryJob] = []
    with store.session() as s:
        for course, day, seats in sessions:
            begin, end = day + SESSION[0], day + SESSION[1]
            rid = f"course-{course.id}-{int(begin)}"
            mig = course.mig_profile
            gpus = 0 if mig else len(seats) * course.gpus_per_seat
            s.add(ReservationRow(id=rid, org_id=course.org_id, name=course.title,
                                 start_at=begin, end_at=end, gpus=gpus, mig_profile=mig,
                                 mig_seats=len(seats) if mig else 0))  # fmt: skip
            s.flush()
            row = CourseSessionRow(course_id=course.id, reservation_id=rid,
                                   org_id=course.org_id, start_at=begin, end_at=end,
                                   seats=course.seats, cancel_deadline_at=begin - DAY,
                                   created_at=begin - WEEK)  # fmt: skip
            s.add(row)
            s.flush()
            for member, project in seats:
                state = rng.choice(RESULTS)
                s.add(EnrolmentRow(session_id=row.id, member_id=member, state=state,
                                   created_at=begin - WEEK, updated_at=end))  # fmt: skip
                jobs.append(_lab_job(first + len(jobs), course, member, project, begin, end))
    _insert(store, jobs)
    return len(sessions)


def _teams(s: Session) -> dict[str, list[tuple[str, str]]]:
    """(member, project) pairs per organisation, one project per member."""
    out: dict[str, dict[str, str]] = {}
    for org, project, member in s.execute(
        select(ProjectRow.org_id, ProjectRow.id, ProjectMemberRow.member_id)
        .join(ProjectMemberRow, ProjectMemberRow.project_id == ProjectRow.id)
        .order_by(ProjectRow.id, ProjectMemberRow.member_id)
    ):
        out.setdefault(org, {}).setdefault(member, project)
    return {org: sorted(pairs.items()) for org, pairs in out.items()}


def _lab_job(
    job_id: int, course: CourseRow, member: str, project: str, begin: float, end: float
) -> HistoryJob:
    """A learner's lab: from five minutes after the session starts to ten before it ends."""
    t0, t1 = begin + 300.0, end - 600.0
    mig = course.mig_profile
    events = (
        (begin, None, "pending", 0),
        (t0, "pending", "starting", 1),
        (t0 + 1, "starting", "running", 1),
        (t1, "running", "completed", 1),
    )
    gpus = 0 if mig else course.gpus_per_seat
    return HistoryJob(job_id, course.org_id, project, member, gpus, mig, begin, events)

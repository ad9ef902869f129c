"""``aitc report``'s course figures: per session its seats, who took them, what its
reservation held and what its enrolled learners' jobs used during it, and a total per course;
reservations used by their organisation's jobs during them. Every figure is traced to the
jobs it sums, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from seed import seed

from aitc.control.clock import FakeClock
from aitc.control.report import Period, build_report
from aitc.control.store import Store
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    JobEventRow,
    JobRow,
    ReservationRow,
)

HOUR = 3600.0


def add_job(
    store: Store,
    member: str,
    org: str,
    project: str,
    start: float,
    end: float,
    *,
    gpus: int = 0,
    mig: str | None = None,
) -> None:
    """A finished job that held its GPUs from ``start`` to ``end``."""
    with store.session() as s:
        job = JobRow(
            name="lab",
            org_id=org,
            project_id=project,
            member_id=member,
            spec={"command": ["lab"]},
            gpus=gpus,
            mig=mig,
            priority="standard",
            state="completed",
            submitted_at=start - 60,
            started_at=start,
            ended_at=end,
            attempt=1,
            cause="",
        )
        s.add(job)
        s.flush()
        for at, frm, to in (
            (start - 60, None, "pending"),
            (start, "pending", "starting"),
            (start + 1, "starting", "running"),
            (end, "running", "completed"),
        ):
            s.add(JobEventRow(job_id=job.id, at=at, from_state=frm, to_state=to, attempt=1))


def add_session(store: Store, start: float, end: float, learners: dict[str, str]) -> int:
    """A 3-seat course session of the school on 1g.10gb slices with these enrolments."""
    with store.session() as s:
        if s.get(CourseRow, "intro") is None:
            s.add(CourseRow(id="intro", title="Intro", org_id="school", mig_profile="1g.10gb"))
        rid = f"course-intro-{int(start)}"
        s.add(
            ReservationRow(
                id=rid,
                org_id="school",
                start_at=start,
                end_at=end,
                mig_profile="1g.10gb",
                mig_seats=3,
            )
        )
        s.flush()  # the session refers to both
        row = CourseSessionRow(
            course_id="intro",
            reservation_id=rid,
            org_id="school",
            start_at=start,
            end_at=end,
            seats=3,
            cancel_deadline_at=start - 86400,
            created_at=start - 86400,
        )
        s.add(row)
        s.flush()
        for member, state in learners.items():
            s.add(
                EnrolmentRow(
                    session_id=row.id,
                    member_id=member,
                    state=state,
                    created_at=start - 86400,
                    updated_at=start,
                )
            )
        return int(row.id)


def test_a_session_counts_its_seats_learners_and_their_gpu_hours(store: Store) -> None:
    clock = FakeClock()
    seed(store, clock)
    now = clock.now()
    start, end = now - 10 * HOUR, now - 7 * HOUR  # a three-hour session
    first = add_session(store, start, end, {"dave": "passed", "erin": "cancelled"})
    # dave's lab: one hour inside the session and one before it, on a 1g slice (1/7 GPU)
    add_job(store, "dave", "school", "course", start - HOUR, start + HOUR, mig="1g.10gb")
    # erin cancelled: her job in the window is not the session's; a job of another
    # organisation by an enrolled learner could not use the seats either
    add_job(store, "erin", "school", "course", start, end, mig="1g.10gb")
    add_job(store, "dave", "uni", "vision", start, end, gpus=1)
    later = add_session(store, now - 3 * HOUR, now, {"dave": "enrolled"})
    with store.session(readonly=True) as s:
        report = build_report(session=s, period=Period(now - 86400, now), now=now)
    table = report.table("courses")
    rows = {str(r[1]): dict(zip(table.columns, r, strict=True)) for r in table.rows}
    one = rows[str(first)]
    assert (one["course"], one["organisation"], one["seats"]) == ("intro", "school", 3)
    assert (one["enrolled"], one["attended"], one["passed"], one["learners_with_jobs"]) == (
        1,
        1,
        1,
        1,
    )
    assert one["reserved_gpu_hours"] == pytest.approx(3 * 3 / 7)
    assert one["used_gpu_hours"] == pytest.approx(1 / 7)
    two = rows[str(later)]
    assert (two["enrolled"], two["attended"], two["learners_with_jobs"]) == (1, 0, 0)
    assert two["used_gpu_hours"] == 0
    total = rows["TOTAL"]
    assert total["seats"] == 6 and total["enrolled"] == 2
    assert total["reserved_gpu_hours"] == pytest.approx(6 * 3 / 7)
    reservations = report.table("reservations")
    used = {r[0]: r[3] for r in reservations.rows}
    # the school's jobs during the first session: dave's hour and erin's three, capped
    assert used[f"course-intro-{int(start)}"] == pytest.approx(min(4 / 7, 9 / 7))


def test_a_session_across_the_period_start_counts_only_its_hours_inside(store: Store) -> None:
    clock = FakeClock()
    seed(store, clock)
    now = clock.now()
    start = now - 26 * HOUR
    sid = add_session(store, start, start + 4 * HOUR, {"dave": "attended"})
    add_job(store, "dave", "school", "course", start, start + 4 * HOUR, mig="1g.10gb")
    with store.session(readonly=True) as s:
        report = build_report(session=s, period=Period(now - 24 * HOUR, now), now=now)
    row = next(r for r in report.table("courses").rows if r[1] == str(sid))
    line = dict(zip(report.table("courses").columns, row, strict=True))
    assert line["reserved_gpu_hours"] == pytest.approx(2 * 3 / 7)
    assert line["used_gpu_hours"] == pytest.approx(2 / 7)

"""The lab workload generator: seeded, shaped by each WorkloadSpec, courses as reservations."""

from __future__ import annotations

import numpy as np
import pytest
from twin_builders import cluster

from aitc.domain.lab import Course, Lab
from aitc.domain.org import Organisation, OrgKind, Project, WorkloadSpec
from aitc.twin.generator import _mean_gpu_seconds, generate, workloads
from aitc.twin.trace import TraceJob

HOURS = tuple(1.0 if h == 10 else 0.0 for h in range(24))


def lab(*, workload: WorkloadSpec | None = None, courses: tuple[Course, ...] = ()) -> Lab:
    orgs = (
        Organisation(
            "uni",
            "Uni",
            OrgKind.RESEARCH,
            3.0,
            (Project("p1", "P1", "uni", 1.0), Project("p2", "P2", "uni", 3.0)),
            workload=workload,
        ),
        Organisation("edu", "Edu", OrgKind.EDUCATION, 1.0),
    )
    return Lab("t", cluster(4), orgs, courses=courses)


SPEC = WorkloadSpec(100.0, ((1, 3.0), (4, 1.0)), 600.0, 0.5, HOURS)


def test_same_seed_same_jobs_and_another_seed_other_jobs() -> None:
    a, b, c = (generate(lab(workload=SPEC), days=3, seed=s).columns for s in (7, 7, 8))
    assert np.array_equal(a.submit, b.submit) and np.array_equal(a.runtime, b.runtime)
    assert not np.array_equal(a.submit[:50], c.submit[:50])


def test_arrivals_follow_rate_mix_and_hours_of_the_spec() -> None:
    cols = generate(lab(workload=SPEC), days=20, seed=1).columns
    uni = cols.tenant == cols.tenants.index("uni")
    assert abs(int(uni.sum()) - 2000) < 200  # 100 a day for 20 days
    assert set(np.unique(cols.gpus[uni]).tolist()) == {1, 4}
    assert set((cols.submit[uni] // 3600 % 24).astype(int).tolist()) == {10}
    assert 500 < float(np.median(cols.runtime[uni])) < 720


def test_jobs_spread_over_projects_by_their_weight() -> None:
    source = generate(lab(workload=SPEC), days=20, seed=2)
    projects = [j.request.project for j in source.jobs() if j.request.org == "uni"]
    assert projects.count("p2") / len(projects) == pytest.approx(0.75, abs=0.05)


def test_organisations_without_workload_share_the_asked_load_by_weight() -> None:
    the_lab = lab()
    specs = workloads(the_lab, load=0.5)
    offered = {org: s.jobs_per_day * _mean_gpu_seconds(s) for org, s in specs.items()}
    total = the_lab.cluster.total_gpus * 86400 * 0.5
    assert offered["uni"] == pytest.approx(0.75 * total)
    assert offered["edu"] == pytest.approx(0.25 * total)


def test_courses_hold_weekly_morning_sessions_and_learners_fill_them() -> None:
    course = Course("c1", "Intro", "edu", seats=5, mig_profile="1g.10gb")
    source = generate(lab(workload=SPEC, courses=(course,)), days=10, seed=3)
    assert [(r.id, r.start, r.end, r.mig_seats) for r in source.reservations()] == [
        ("c1-d0", 9 * 3600.0, 12 * 3600.0, 5),
        ("c1-d7", 7 * 86400 + 9 * 3600.0, 7 * 86400 + 12 * 3600.0, 5),
    ]
    seats = [j.request for j in source.jobs() if j.request.mig == "1g.10gb"]
    assert len(seats) == 10 and {r.submit for r in seats} == {9 * 3600.0, 7 * 86400 + 9 * 3600.0}


def test_limit_keeps_the_earliest_jobs() -> None:
    cols = generate(lab(workload=SPEC), days=5, seed=1, limit=10).columns
    assert len(cols) == 10 and bool(np.all(np.diff(cols.submit) >= 0))


def test_a_calendar_holds_its_sessions_from_the_monday_of_its_first_week() -> None:
    from dataclasses import replace

    from aitc.domain.lab import PlannedSession

    mig = Course("c1", "Intro", "edu", seats=30, mig_profile="1g.10gb")
    whole = Course("c2", "Multi", "edu", seats=8, gpus_per_seat=2)
    calendar = (  # 2027-03-03 is a Wednesday: simulated time 0 is Monday 2027-03-01, 00:00
        PlannedSession("c1", "2027-03-03T09:00", 4, 3.0),
        PlannedSession("c2", "2027-03-08T13:30", 2, 2.0),
        PlannedSession("c1", "2027-04-01T09:00", 4, 3.0),  # after the days simulated
    )
    the_lab = replace(lab(workload=SPEC, courses=(mig, whole)), calendar=calendar)
    source = generate(the_lab, days=10, seed=3)
    h = 3600.0
    assert [(r.id, r.start, r.end, r.gpus, r.mig_seats) for r in source.reservations()] == [
        ("c1-0", 2 * 86400 + 9 * h, 2 * 86400 + 12 * h, 0, 4),
        ("c2-1", 7 * 86400 + 13.5 * h, 7 * 86400 + 15.5 * h, 4, 0),
    ]
    seats = [j.request for j in source.jobs() if "-seat" in j.request.member]
    assert len(seats) == 8 and {r.submit for r in seats} == {
        2 * 86400 + 9 * h,
        7 * 86400 + 13.5 * h,
    }
    without = generate(the_lab, days=10, seed=3, courses=False)
    assert without.reservations() == ()

    def shape(jobs: list[TraceJob]) -> list[tuple[str, str, int, float, float]]:
        return [(j.request.org, j.request.member, j.request.gpus, j.request.submit, j.runtime)
                for j in jobs]  # fmt: skip

    research = [j for j in source.jobs() if "-seat" not in j.request.member]
    assert shape(list(without.jobs())) == shape(research)  # the same draws, without the seats

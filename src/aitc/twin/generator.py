"""The ``lab`` workload generator: jobs drawn from each organisation's ``WorkloadSpec``.

Arrivals are a Poisson process per organisation at ``jobs_per_day``, shaped over the day by
``time_of_day``; GPU counts follow ``gpu_mix``; runtimes are log-normal (median, sigma), capped
at 14 days. An organisation without a workload gets one of the Philly virtual-cluster profiles
(``profiles.PHILLY_PROFILES``, the busiest to the heaviest weight), its rate scaled so that
those organisations together offer ``load`` x the cluster's GPUs in proportion to their weights.
Jobs are spread over the organisation's projects by project weight and over its members evenly.

Course sessions are reservations of their seats (whole GPUs, or MIG slices of the course's
profile), and at each session's start its learners submit one job per seat lasting the session.
The sessions are the lab's course calendar (``Lab.calendar``, lab.yaml ``calendar``), simulated
time 0 being the Monday, 00:00, of the week of its first session; a lab without a calendar gets
a weekly session of every course with seats: course ``i`` on weekday ``i mod 5`` from 09:00 to
12:00, simulated time 0 being a Monday, 00:00. ``courses=False`` leaves every session out.
Everything is drawn from one ``numpy`` generator seeded with ``seed``: same seed, same jobs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest
from aitc.domain.lab import Course, Lab, PlannedSession
from aitc.domain.org import Organisation, WorkloadSpec
from aitc.domain.reservation import Reservation
from aitc.twin.columns import JobColumns, codes, sort_by_submit, standard_time_limits
from aitc.twin.profiles import PHILLY_PROFILES
from aitc.twin.trace import TraceJob

DAY, MAX_RUNTIME_S = 86400.0, 14 * 86400.0
SESSION_START_H, SESSION_HOURS = 9, 3
SEAT = "-seat"  # in a course seat's member id (``seat_member``): seats are not research
LEARNERS_STOP_S = 600.0  # learners stop ten minutes before their session ends


@dataclass(frozen=True)
class LabSource:
    """Jobs and reservations generated from a lab (``generate`` builds one)."""

    name: str
    columns: JobColumns
    lab_organisations: tuple[Organisation, ...]
    held: tuple[Reservation, ...]

    def organisations(self) -> Sequence[Organisation]:
        return self.lab_organisations

    def reservations(self) -> Sequence[Reservation]:
        return self.held

    def jobs(self) -> Iterator[TraceJob]:
        return self.columns.jobs()

    @property
    def skipped(self) -> int:
        return 0


def generate(
    lab: Lab,
    *,
    days: float = 7.0,
    seed: int = 0,
    load: float = 0.7,
    limit: int | None = None,
    courses: bool = True,
) -> LabSource:
    """Draw ``days`` of jobs for ``lab`` (``limit``: keep the N earliest; ``courses``: with
    its course sessions and their seats)."""
    rng = np.random.default_rng(seed)
    specs = workloads(lab, load=load)
    parts = [_org_jobs(rng, lab, org, specs[org.id], days) for org in lab.organisations]
    sessions = course_sessions(lab, days) if courses else ()
    parts += [_session_jobs(lab, res) for res in sessions]
    cols = sort_by_submit(_concat(parts), rebase=False)
    return LabSource(lab.name, cols.head(limit), lab.organisations, sessions)


def workloads(lab: Lab, *, load: float) -> dict[str, WorkloadSpec]:
    """Each organisation's workload: its own, or a scaled Philly profile."""
    out = {o.id: o.workload for o in lab.organisations if o.workload is not None}
    rest = sorted(
        (o for o in lab.organisations if o.workload is None), key=lambda o: (-o.share, o.id)
    )
    weight = sum(o.share for o in rest) or 1.0
    profiles = list(PHILLY_PROFILES.values())
    for i, org in enumerate(rest):
        base = profiles[i % len(profiles)]
        gpu_seconds = _mean_gpu_seconds(base)
        per_day = load * lab.cluster.total_gpus * DAY * org.share / weight / gpu_seconds
        out[org.id] = WorkloadSpec(
            per_day, base.gpu_mix, base.median_runtime_s, base.runtime_sigma, base.time_of_day
        )
    return out


def _mean_gpu_seconds(spec: WorkloadSpec) -> float:
    sizes, weights = _mix(spec)
    mu, s = np.log(spec.median_runtime_s), spec.runtime_sigma
    samples = np.exp(mu + s * np.random.default_rng(0).standard_normal(20_000))
    return float((sizes * weights).sum() * np.minimum(samples, MAX_RUNTIME_S).mean())


def _mix(spec: WorkloadSpec) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([g for g, _ in spec.gpu_mix], dtype=np.int64)
    weights = np.array([w for _, w in spec.gpu_mix], dtype=np.float64)
    return sizes, weights / weights.sum()


def _org_jobs(
    rng: np.random.Generator, lab: Lab, org: Organisation, spec: WorkloadSpec, days: float
) -> dict[str, np.ndarray]:
    submit = _arrivals(rng, spec, days)
    sizes, weights = _mix(spec)
    gpus = rng.choice(sizes, size=submit.size, p=weights)
    runtime = np.exp(
        np.log(spec.median_runtime_s) + spec.runtime_sigma * rng.standard_normal(submit.size)
    )
    runtime = np.clip(np.round(runtime), 1.0, MAX_RUNTIME_S)
    projects = [p.id for p in org.projects] or [org.id]
    shares = np.array([p.share for p in org.projects] or [1.0])
    members = [m.id for m in lab.members if m.org == org.id] or [org.id]
    return {
        "submit": submit,
        "runtime": runtime,
        "gpus": gpus,
        "tenant": np.full(submit.size, org.id, dtype=object),
        "project": rng.choice(
            np.array(projects, dtype=object), size=submit.size, p=shares / shares.sum()
        ),
        "member": rng.choice(np.array(members, dtype=object), size=submit.size),
        "mig": np.full(submit.size, "", dtype=object),
    }


def _arrivals(rng: np.random.Generator, spec: WorkloadSpec, days: float) -> np.ndarray:
    """Poisson arrivals over ``days``, thinned by the hourly weights (whole seconds)."""
    hours = np.asarray(spec.time_of_day or (1.0,) * 24, dtype=np.float64)
    peak = hours.max() / hours.mean()
    n = rng.poisson(spec.jobs_per_day * days * peak)
    t = np.sort(rng.uniform(0.0, days * DAY, size=n))
    hour = (t // 3600 % 24).astype(np.int64)
    keep = rng.uniform(size=n) < hours[hour] / hours.max()
    out: np.ndarray = np.floor(t[keep])
    return out


def course_sessions(lab: Lab, days: float) -> tuple[Reservation, ...]:
    """The sessions starting in the first ``days``, as reservations: the lab's calendar, else
    a weekly 3-hour session of every course with seats (see the module docstring)."""
    if lab.calendar:
        return _calendar(lab, days)
    out = []
    for i, course in enumerate(c for c in lab.courses if c.seats > 0):
        day = i % 5
        while day < days:
            start = day * DAY + SESSION_START_H * 3600.0
            out.append(_session(course, f"{course.id}-d{day}", start, SESSION_HOURS, course.seats))
            day += 7
    return tuple(sorted(out, key=lambda r: (r.start, r.id)))


def calendar_origin(calendar: Sequence[PlannedSession]) -> datetime:
    """Simulated time 0 of a calendar: the Monday, 00:00, of its first session's week."""
    first = min(datetime.fromisoformat(s.start) for s in calendar)
    return datetime.combine(first.date() - timedelta(days=first.weekday()), datetime.min.time())


def _calendar(lab: Lab, days: float) -> tuple[Reservation, ...]:
    courses = {c.id: c for c in lab.courses}
    origin = calendar_origin(lab.calendar)
    out = []
    for k, s in enumerate(lab.calendar):
        start = (datetime.fromisoformat(s.start) - origin).total_seconds()
        if start < days * DAY:
            out.append(_session(courses[s.course], f"{s.course}-{k}", start, s.hours, s.seats))
    return tuple(sorted(out, key=lambda r: (r.start, r.id)))


def _session(course: Course, rid: str, start: float, hours: float, seats: int) -> Reservation:
    mig = course.mig_profile
    return Reservation(
        id=rid,
        org=course.org,
        start=start,
        end=start + hours * 3600.0,
        gpus=0 if mig else seats * course.gpus_per_seat,
        mig_profile=mig,
        mig_seats=seats if mig else 0,
        name=course.name,
    )


def seat_member(res: Reservation, k: int) -> str:
    """The member a session's seat ``k`` runs as: ``RESERVATION-seatK`` (``SEAT`` marks it)."""
    return f"{res.id}{SEAT}{k}"


def seat_runtime(res: Reservation) -> float:
    return res.end - res.start - LEARNERS_STOP_S


def seat_jobs(res: Reservation, first_id: int) -> list[TraceJob]:
    """One job per seat of a session's reservation ``res`` (ids from ``first_id``), as
    ``generate`` makes them: submitted at the start, running to ten minutes before the end."""
    seats = res.gpus or res.mig_seats
    return [
        TraceJob(
            JobRequest(
                id=JobId(first_id + k), org=res.org, project=res.name or res.org,
                member=seat_member(res, k), gpus=0 if res.mig_profile else 1, submit=res.start,
                mig=res.mig_profile,
            ),
            seat_runtime(res),
        )
        for k in range(seats)
    ]  # fmt: skip


def _session_jobs(lab: Lab, res: Reservation) -> dict[str, np.ndarray]:
    seats = res.gpus or res.mig_seats
    return {
        "submit": np.full(seats, res.start),
        "runtime": np.full(seats, seat_runtime(res)),
        "gpus": np.full(seats, 0 if res.mig_profile else 1, dtype=np.int64),
        "mig": np.full(seats, res.mig_profile or "", dtype=object),
        "tenant": np.full(seats, res.org, dtype=object),
        "project": np.full(seats, res.name or res.org, dtype=object),
        "member": np.array([seat_member(res, k) for k in range(seats)], dtype=object),
    }


def _concat(parts: list[dict[str, np.ndarray]]) -> JobColumns:
    col = {
        k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0)
        for k in ("submit", "runtime", "gpus", "tenant", "project", "member", "mig")
    }
    tenant, tenants = codes(col["tenant"].astype(str))
    pairs = np.char.add(np.char.add(col["tenant"].astype(str), "\x1f"), col["project"].astype(str))
    project, project_names = codes(pairs)
    member, members = codes(col["member"].astype(str))
    runtime = col["runtime"].astype(np.float64)
    mig_codes, mig_names = codes(np.concatenate([[""], col["mig"].astype(str)]))
    mig_codes = mig_codes[1:]
    return JobColumns(
        submit=col["submit"].astype(np.float64),
        runtime=runtime,
        gpus=col["gpus"].astype(np.int64),
        time_limit=standard_time_limits(runtime),
        nodes=np.zeros(runtime.size, dtype=np.int64),
        tenant=tenant,
        project=project,
        member=member,
        tenants=tenants,
        projects=tuple(tuple(p.split("\x1f", 1)) for p in project_names),  # type: ignore[misc]
        members=members,
        mig=mig_codes - 1,
        migs=mig_names[1:],
    )

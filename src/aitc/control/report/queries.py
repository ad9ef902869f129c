"""The report's SQL: every figure is an aggregate over ``job_events`` and ``jobs``.

A job's life is cut into **segments** by its events: a segment starts at an event and ends at
the job's next event (or at the report's ``now`` when there is none yet). A segment entered with
``starting`` or ``running`` holds GPUs (allocation, as Open XDMoD counts GPU-hours: held, not
used); one entered with ``pending`` is demand that waited. Each segment is clipped to the
period, and weighs the GPUs the job holds (a MIG slice: its compute slices' fraction, 1g = 1/7).
The database does the window (``LEAD``) and the sums; Python only sees one row per group
(organisation x project x member x job size, reservation, course session), never one per job.
Every query reads the events of the jobs that overlap the period only, so a report costs what
the period holds, not what the store has gathered over the years.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from aitc.control.report.period import Period

SIZES = ("MIG", "1", "2", "3-4", "5-8", "9-16", "17-64", "65+")
_SIZE = """CASE WHEN j.mig IS NOT NULL THEN 'MIG'
     WHEN j.gpus <= 1 THEN '1' WHEN j.gpus = 2 THEN '2' WHEN j.gpus <= 4 THEN '3-4'
     WHEN j.gpus <= 8 THEN '5-8' WHEN j.gpus <= 16 THEN '9-16' WHEN j.gpus <= 64 THEN '17-64'
     ELSE '65+' END"""
_WEIGHT = (
    "(CASE WHEN j.mig IS NULL THEN j.gpus * 1.0"
    " ELSE CAST(substr(j.mig, 1, 1) AS INTEGER) / 7.0 END)"
)
_OVERLAPPING = """SELECT id FROM jobs
    WHERE submitted_at < :stop AND (ended_at IS NULL OR ended_at > :start) {job_filter}"""
HOLDING_SEAT = ("enrolled", "attended", "passed", "failed")  # enrolments that took a seat

# Segments of the jobs that overlap the period (the window needs every event of those jobs).
_SEGMENTS = """
seg AS (
  SELECT e.job_id, e.attempt, e.to_state,
         e.at AS t0,
         COALESCE(LEAD(e.at) OVER (PARTITION BY e.job_id ORDER BY e.id), :now) AS t1
  FROM job_events e
  WHERE e.job_id IN ({overlapping})
),
clipped AS (
  SELECT s.job_id, s.attempt, s.to_state,
         {lo}(s.t1, :stop) - {hi}(s.t0, :start) AS seconds
  FROM seg s
  WHERE s.t1 > :start AND s.t0 < :stop AND s.to_state IN ('pending', 'starting', 'running')
)"""

_GROUPS = """
WITH {segments},
usage AS (
  SELECT job_id, attempt, idle_share FROM job_gpu_usage WHERE idle_share IS NOT NULL
)
SELECT j.org_id, j.project_id, j.member_id, {size} AS size,
  COUNT(DISTINCT CASE WHEN c.to_state <> 'pending' THEN j.id END) AS jobs,
  SUM(CASE WHEN c.to_state <> 'pending' THEN c.seconds * {weight} ELSE 0 END) AS gpu_s,
  SUM(CASE WHEN c.to_state = 'pending' THEN c.seconds * {weight} ELSE 0 END) AS pending_gpu_s,
  SUM(CASE WHEN c.to_state <> 'pending' AND u.idle_share IS NOT NULL
      THEN c.seconds * {weight} ELSE 0 END) AS sampled_gpu_s,
  SUM(CASE WHEN c.to_state <> 'pending' AND u.idle_share IS NOT NULL
      THEN c.seconds * {weight} * u.idle_share ELSE 0 END) AS idle_gpu_s
FROM clipped c
JOIN jobs j ON j.id = c.job_id
LEFT JOIN usage u ON u.job_id = c.job_id AND u.attempt = c.attempt
GROUP BY j.org_id, j.project_id, j.member_id, {size}
"""

_JOB_SECONDS = """
WITH {segments}
SELECT j.id, j.org_id, SUM(c.seconds * {weight}) AS gpu_s
FROM clipped c JOIN jobs j ON j.id = c.job_id
WHERE c.to_state <> 'pending'
GROUP BY j.id, j.org_id
"""

_ORG_SECONDS = """
WITH {segments}
SELECT j.org_id, SUM(c.seconds * {weight}) AS gpu_s
FROM clipped c JOIN jobs j ON j.id = c.job_id
WHERE c.to_state <> 'pending'
GROUP BY j.org_id
"""

# Allocation inside windows of their own, each holding segment's overlap with the window and
# the period: an organisation's jobs during its reservations, and a course session's learners'
# jobs (charged to the session's organisation: only those may use its seats) during it.
_RESERVATION_USE = """
WITH {segments}
SELECT r.id,
  SUM(({lo}(s.t1, r.end_at, :stop) - {hi}(s.t0, r.start_at, :start)) * {weight}) AS gpu_s
FROM seg s
JOIN jobs j ON j.id = s.job_id
JOIN reservations r ON r.org_id = j.org_id
WHERE s.to_state IN ('starting', 'running') AND r.start_at < :stop AND r.end_at > :start
  AND s.t1 > r.start_at AND s.t0 < r.end_at AND s.t1 > :start AND s.t0 < :stop
GROUP BY r.id
"""

# Only the jobs these can concern: of an organisation with a reservation in the period, of a
# member enrolled in a session in the period (none: no events are read at all).
_RESERVING = """AND org_id IN (
      SELECT org_id FROM reservations WHERE start_at < :stop AND end_at > :start)"""
_LEARNING = """AND member_id IN (
      SELECT en.member_id FROM enrolments en JOIN course_sessions cs ON cs.id = en.session_id
      WHERE cs.start_at < :stop AND cs.end_at > :start)"""

_SESSION_USE = """
WITH {segments}
SELECT cs.id, COUNT(DISTINCT j.member_id) AS learners,
  SUM(({lo}(s.t1, cs.end_at, :stop) - {hi}(s.t0, cs.start_at, :start)) * {weight}) AS gpu_s
FROM seg s
JOIN jobs j ON j.id = s.job_id
JOIN enrolments en ON en.member_id = j.member_id AND en.state IN {holding}
JOIN course_sessions cs ON cs.id = en.session_id AND cs.org_id = j.org_id
WHERE s.to_state IN ('starting', 'running') AND cs.start_at < :stop AND cs.end_at > :start
  AND s.t1 > cs.start_at AND s.t0 < cs.end_at AND s.t1 > :start AND s.t0 < :stop
GROUP BY cs.id
"""

# Waits: from submission to the first start, for jobs first started within the period (such a
# job overlaps the period); per organisation ('all') and per organisation and job size, in
# one pass; percentiles by nearest rank (rank = ceil(p * n), in integers so every database
# agrees).
_WAITS = """
WITH first_start AS (
  SELECT job_id, MIN(at) AS t FROM job_events
  WHERE to_state IN ('starting', 'running') AND job_id IN ({overlapping})
  GROUP BY job_id
),
started AS (
  SELECT j.org_id AS org, {size} AS size, f.t - j.submitted_at AS wait
  FROM first_start f JOIN jobs j ON j.id = f.job_id
  WHERE f.t >= :start AND f.t < :stop
),
waits AS (
  SELECT org, '{all_sizes}' AS grp, wait FROM started
  UNION ALL
  SELECT org, size AS grp, wait FROM started
),
ranked AS (
  SELECT org, grp, wait,
    ROW_NUMBER() OVER (PARTITION BY org, grp ORDER BY wait) AS rn,
    COUNT(*) OVER (PARTITION BY org, grp) AS n,
    AVG(wait) OVER (PARTITION BY org, grp) AS mean
  FROM waits
)
SELECT org, grp, n, mean,
  MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN wait END) AS p50,
  MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN wait END) AS p95
FROM ranked GROUP BY org, grp, n, mean
"""


@dataclass(frozen=True, slots=True)
class Group:
    """GPU-seconds of one organisation x project x member x job size in the period."""

    org: str
    project: str
    member: str
    size: str
    jobs: int
    gpu_s: float
    pending_gpu_s: float
    sampled_gpu_s: float
    idle_gpu_s: float


@dataclass(frozen=True, slots=True)
class Waits:
    org: str
    group: str  # a job size, or ALL
    jobs: int
    mean_s: float
    p50_s: float
    p95_s: float


@dataclass(frozen=True, slots=True)
class SessionUse:
    """What a course session's learners ran during it: how many, and GPU-seconds."""

    learners: int
    gpu_s: float


ALL = "all"  # the group of the waits over every job size


def mig_weight(profile: str) -> float:
    """The share of a GPU a MIG slice counts as: its compute slices of seven (as ``_WEIGHT``)."""
    return int(profile[0]) / 7.0


def _sql(session: Session, template: str, job_filter: str = "", **parts: str) -> str:
    sqlite = session.get_bind().dialect.name == "sqlite"
    lo, hi = ("min", "max") if sqlite else ("LEAST", "GREATEST")
    overlapping = _OVERLAPPING.format(job_filter=job_filter)
    segments = _SEGMENTS.format(lo=lo, hi=hi, overlapping=overlapping)
    return template.format(
        segments=segments,
        size=_SIZE,
        weight=_WEIGHT,
        lo=lo,
        hi=hi,
        overlapping=overlapping,
        holding=str(HOLDING_SEAT),
        all_sizes=ALL,
        **parts,
    )


def groups(*, session: Session, period: Period, now: float) -> list[Group]:
    """Allocated, pending, sampled and idle GPU-seconds per group (see the module docstring)."""
    params = {"start": period.start, "stop": period.end, "now": now}
    rows = session.execute(text(_sql(session, _GROUPS)), params)
    return [
        Group(org, project, member, size, int(jobs), float(g), float(p), float(s), float(i))
        for org, project, member, size, jobs, g, p, s, i in rows
    ]


def job_gpu_seconds(
    *, session: Session, period: Period, now: float, org: str | None = None
) -> dict[int, tuple[str, float]]:
    """Each job's allocated GPU-seconds in the period (its organisation too): the rows an
    invoice line sums, for tracing a figure back to its jobs."""
    params: dict[str, object] = {"start": period.start, "stop": period.end, "now": now}
    job_filter = ""
    if org is not None:
        job_filter, params["org"] = "AND org_id = :org", org
    rows = session.execute(text(_sql(session, _JOB_SECONDS, job_filter)), params)
    return {int(job): (o, float(s)) for job, o, s in rows}


def reservation_use(*, session: Session, period: Period, now: float) -> dict[str, float]:
    """Each reservation's organisation's allocated GPU-seconds during it, within the period."""
    params = {"start": period.start, "stop": period.end, "now": now}
    rows = session.execute(text(_sql(session, _RESERVATION_USE, _RESERVING)), params)
    return {str(r): float(s or 0.0) for r, s in rows}


def session_use(*, session: Session, period: Period, now: float) -> dict[int, SessionUse]:
    """Each course session's learners (enrolled on a seat) with a job of the session's
    organisation during it, and those jobs' GPU-seconds during it, within the period."""
    params = {"start": period.start, "stop": period.end, "now": now}
    rows = session.execute(text(_sql(session, _SESSION_USE, _LEARNING)), params)
    return {int(sid): SessionUse(int(n), float(s or 0.0)) for sid, n, s in rows}


def org_gpu_seconds(*, session: Session, period: Period, now: float) -> dict[str, float]:
    """Each organisation's allocated GPU-seconds in the period (those with any)."""
    params = {"start": period.start, "stop": period.end, "now": now}
    rows = session.execute(text(_sql(session, _ORG_SECONDS)), params)
    return {str(org): float(s) for org, s in rows if s}


def waits(*, session: Session, period: Period) -> list[Waits]:
    """Wait mean, p50 and p95 per organisation (group ``ALL``) and per organisation and job
    size (group: the size)."""
    rows = session.execute(text(_sql(session, _WAITS)), {"start": period.start, "stop": period.end})
    return [
        Waits(org, grp, int(n), float(mean), float(p50), float(p95))
        for org, grp, n, mean, p50, p95 in rows
    ]

"""``build_report``: the report's figures from the store, as named tables.

Every output (HTML, CSV, PDF, the API's JSON) renders the same ``Report``: a few headline
figures and a list of ``Table``s whose cells are plain numbers and strings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from aitc.control.report import queries
from aitc.control.report.fairness import fair_allocation, jain
from aitc.control.report.period import Period, iso
from aitc.control.report.rates import Invoice, InvoiceLine, RateCard
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    EnrolmentRow,
    NodeRow,
    OrganisationRow,
    ReservationRow,
)

Cell = str | int | float | None
HOUR = 3600.0
REPORT_WORK_MEM = "64MB"


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # file name of its CSV, key in the API
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    generated_at: float
    capacity_gpu_hours: float
    used_gpu_hours: float
    fairness_index: float | None
    currency: str
    tables: tuple[Table, ...]
    invoices: tuple[Invoice, ...] = field(default=())

    @property
    def utilisation(self) -> float:
        return self.used_gpu_hours / self.capacity_gpu_hours if self.capacity_gpu_hours else 0.0

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


@dataclass(frozen=True, slots=True)
class _Org:
    name: str
    kind: str
    share: float


def build_report(
    *, session: Session, period: Period, now: float, rates: RateCard | None = None
) -> Report:
    """Every figure of the report for ``period`` (running jobs count up to ``now``)."""
    if session.get_bind().dialect.name == "postgresql":
        # the report's windows and sorts hold a period's events: in memory, not on disk
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    rates = rates or RateCard()
    orgs = {
        o.id: _Org(o.name, o.kind, o.share)
        for o in session.scalars(select(OrganisationRow).order_by(OrganisationRow.id))
    }
    groups = queries.groups(session=session, period=period, now=now)
    gpus = sum(session.scalars(select(NodeRow.gpus).where(NodeRow.state == "up")))
    capacity = gpus * period.seconds / HOUR
    used = sum(g.gpu_s for g in groups) / HOUR
    fairness, index = _fairness(orgs, groups, capacity)
    invoices = _invoices(orgs, groups, rates)
    waits = queries.waits(session=session, period=period)
    tables = (
        _by_org(orgs, groups, used),
        _by_key(groups, "usage_by_project", "GPU-hours by project", ("organisation", "project")),
        _by_key(groups, "usage_by_member", "GPU-hours by member", ("member", "organisation")),
        fairness,
        _waits(waits),
        _waits_by_size(waits),
        _idle(groups),
        _reservations(session, period, now),
        _courses(session, period, now),
        _invoice_table(invoices, rates),
    )
    return Report(period, now, capacity, used, index, rates.currency, tables, tuple(invoices))


def _sum_by(groups: Iterable[queries.Group], *keys: str) -> dict[tuple[str, ...], list[float]]:
    """jobs, GPU-s, pending GPU-s, sampled GPU-s, idle GPU-s per key."""
    out: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0] * 5)
    for g in groups:
        acc = out[tuple(getattr(g, k) for k in keys)]
        for i, v in enumerate((g.jobs, g.gpu_s, g.pending_gpu_s, g.sampled_gpu_s, g.idle_gpu_s)):
            acc[i] += v
    return out


def _by_org(orgs: dict[str, _Org], groups: list[queries.Group], used: float) -> Table:
    sums = _sum_by(groups, "org")
    rows = []
    for org, o in orgs.items():
        jobs, gpu_s = sums[(org,)][:2] if (org,) in sums else (0, 0.0)
        hours = gpu_s / HOUR
        rows.append((org, o.kind, int(jobs), hours, 100 * hours / used if used else 0.0))
    rows.sort(key=lambda r: (-float(r[3] or 0), str(r[0])))
    columns = ("organisation", "kind", "jobs", "gpu_hours", "share_of_use_pct")
    return Table("usage_by_organisation", "GPU-hours by organisation", columns, tuple(rows))


def _by_key(groups: list[queries.Group], name: str, title: str, keys: tuple[str, str]) -> Table:
    attrs = tuple("org" if k == "organisation" else k for k in keys)
    sums = sorted(_sum_by(groups, *attrs).items(), key=lambda kv: (-kv[1][1], kv[0]))
    rows: list[tuple[Cell, ...]] = [
        (key[0], key[1], int(v[0]), v[1] / HOUR) for key, v in sums if v[0] or v[1]
    ]
    return Table(name, title, (*keys, "jobs", "gpu_hours"), tuple(rows))


def _fairness(
    orgs: dict[str, _Org], groups: list[queries.Group], capacity: float
) -> tuple[Table, float | None]:
    sums = _sum_by(groups, "org")
    received = {o: sums[(o,)][1] / HOUR if (o,) in sums else 0.0 for o in orgs}
    demand = {o: received[o] + (sums[(o,)][2] / HOUR if (o,) in sums else 0.0) for o in orgs}
    fair = fair_allocation(capacity, {o: v.share for o, v in orgs.items()}, demand)
    total_share = sum(v.share for v in orgs.values()) or 1.0
    total_received = sum(received.values()) or 1.0
    rows, ratios = [], []
    for o, v in orgs.items():
        ratio = received[o] / fair[o] if fair[o] > 0 else None
        if ratio is not None:
            ratios.append(ratio)
        rows.append(
            (
                o,
                100 * v.share / total_share,
                demand[o],
                received[o],
                100 * received[o] / total_received,
                fair[o],
                ratio,
            )
        )
    columns = (
        "organisation",
        "entitlement_pct",
        "demand_gpu_hours",
        "received_gpu_hours",
        "received_pct",
        "fair_gpu_hours",
        "received_over_fair",
    )
    note = (
        "demand = GPU-hours held + GPU-hours that waited; fair = weighted max-min split of the "
        "capacity by share, capped at demand"
    )
    return Table(
        "fairness", "Share received vs entitlement vs demand", columns, tuple(rows), note
    ), jain(ratios)


def _waits(waits: list[queries.Waits]) -> Table:
    rows = [
        (w.org, w.jobs, w.mean_s / 60, w.p50_s / 60, w.p95_s / 60)
        for w in sorted(waits, key=lambda w: w.org)
        if w.group == queries.ALL
    ]
    columns = ("organisation", "jobs", "mean_min", "p50_min", "p95_min")
    return Table(
        "waits_by_organisation",
        "Wait to first start by organisation (minutes)",
        columns,
        tuple(rows),
    )


def _waits_by_size(waits: list[queries.Waits]) -> Table:
    order = {s: i for i, s in enumerate(queries.SIZES)}
    found = [w for w in waits if w.group != queries.ALL]
    found.sort(key=lambda w: (w.org, order.get(w.group, 99)))
    rows = [(w.org, w.group, w.jobs, w.p50_s / 60, w.p95_s / 60) for w in found]
    columns = ("organisation", "gpus", "jobs", "p50_min", "p95_min")
    return Table(
        "waits_by_size", "Wait by organisation and job size (minutes)", columns, tuple(rows)
    )


def _idle(groups: list[queries.Group]) -> Table:
    rows = []
    for (org,), v in sorted(_sum_by(groups, "org").items()):
        if v[3] > 0:
            rows.append((org, v[3] / HOUR, v[4] / HOUR, 100 * v[4] / v[3]))
    columns = ("organisation", "sampled_gpu_hours", "idle_gpu_hours", "idle_pct")
    note = "only GPUs sampled with NVML count (virtual GPUs report nothing)"
    return Table("idle", "Allocated but idle GPU-hours", columns, tuple(rows), note)


def _reservations(session: Session, period: Period, now: float) -> Table:
    stmt = select(ReservationRow).where(
        ReservationRow.end_at > period.start, ReservationRow.start_at < period.end
    )
    use = queries.reservation_use(session=session, period=period, now=now)
    rows = []
    for r in session.scalars(stmt.order_by(ReservationRow.start_at, ReservationRow.id)):
        reserved = _reserved_gpu_hours(r, period, now)
        used = min(reserved, use.get(r.id, 0.0) / HOUR)
        rows.append((r.id, r.org_id, reserved, used, 100 * used / reserved if reserved else None))
    columns = ("reservation", "organisation", "reserved_gpu_hours", "used_gpu_hours", "used_pct")
    note = "used = the organisation's GPU-hours during the reservation, at most what was reserved"
    return Table("reservations", "Reservations used", columns, tuple(rows), note)


def _reserved_gpu_hours(r: ReservationRow, period: Period, now: float) -> float:
    """What a reservation held within the period, up to now (a MIG seat as its share of a
    GPU, as the usage counts it)."""
    start, stop = max(r.start_at, period.start), min(r.end_at, period.end, now)
    seats = r.mig_seats * queries.mig_weight(r.mig_profile) if r.mig_profile else 0.0
    return (r.gpus + seats) * max(0.0, stop - start) / HOUR


def _courses(session: Session, period: Period, now: float) -> Table:
    """Per course session in the period: seats, who took them, what was reserved and what its
    learners used; a total per course."""
    use = queries.session_use(session=session, period=period, now=now)
    stmt = (
        select(CourseSessionRow, CourseRow.title, ReservationRow)
        .join(CourseRow, CourseRow.id == CourseSessionRow.course_id)
        .join(ReservationRow, ReservationRow.id == CourseSessionRow.reservation_id)
        .where(CourseSessionRow.end_at > period.start, CourseSessionRow.start_at < period.end)
        .order_by(CourseSessionRow.course_id, CourseSessionRow.start_at, CourseSessionRow.id)
    )
    found = session.execute(stmt).all()
    counts = _enrolments(session, [cs.id for cs, _, _ in found])
    rows: list[tuple[Cell, ...]] = []
    total: dict[str, list[float]] = {}
    for cs, _title, res in found:
        took, came, passed = counts.get(cs.id, (0, 0, 0))
        seen = use.get(cs.id, queries.SessionUse(0, 0.0))
        reserved = _reserved_gpu_hours(res, period, now)
        used = seen.gpu_s / HOUR
        line = [cs.seats, took, came, passed, seen.learners, reserved, used]
        rows.append(
            (cs.course_id, str(cs.id), cs.org_id, iso(cs.start_at), *line, _pct(used, reserved))
        )
        acc = total.setdefault(cs.course_id, [0.0] * len(line))
        for i, v in enumerate(line):
            acc[i] += v
    for course, acc in sorted(total.items()):
        ints = [int(v) for v in acc[:5]]
        rows.append((course, "TOTAL", None, None, *ints, acc[5], acc[6], _pct(acc[6], acc[5])))
    rows.sort(key=lambda row: (str(row[0]), row[1] == "TOTAL"))
    columns = (
        "course",
        "session",
        "organisation",
        "start",
        "seats",
        "enrolled",
        "attended",
        "passed",
        "learners_with_jobs",
        "reserved_gpu_hours",
        "used_gpu_hours",
        "used_pct",
    )
    note = (
        "enrolled: enrolments on a seat (attended, passed and failed included); used: GPU-hours "
        "of the enrolled learners' jobs of the session's organisation during the session (more "
        "than reserved when they also ran beyond their seats)"
    )
    return Table("courses", "Courses: seats and GPU-hours per session", columns, tuple(rows), note)


def _enrolments(session: Session, sessions: list[int]) -> dict[int, tuple[int, int, int]]:
    """(on a seat, attended, passed) per session."""
    if not sessions:
        return {}
    came = ("attended", "passed", "failed")
    stmt = (
        select(EnrolmentRow.session_id, EnrolmentRow.state, func.count())
        .where(EnrolmentRow.session_id.in_(sessions))
        .group_by(EnrolmentRow.session_id, EnrolmentRow.state)
    )
    out: dict[int, list[int]] = {}
    for sid, state, n in session.execute(stmt):
        acc = out.setdefault(int(sid), [0, 0, 0])
        acc[0] += n if state in queries.HOLDING_SEAT else 0
        acc[1] += n if state in came else 0
        acc[2] += n if state == "passed" else 0
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def _pct(part: float, whole: float) -> float | None:
    return 100 * part / whole if whole else None


def _invoices(orgs: dict[str, _Org], groups: list[queries.Group], rates: RateCard) -> list[Invoice]:
    by_project = _sum_by(groups, "org", "project")
    invoices = []
    for org, o in orgs.items():
        rate = rates.rate(o.kind)
        if rate is None:
            continue
        lines = tuple(
            InvoiceLine(project, int(v[0]), v[1] / HOUR, rate)
            for (g_org, project), v in sorted(by_project.items())
            if g_org == org and v[1] > 0
        )
        invoices.append(Invoice(org, o.name, o.kind, rates.currency, lines))
    return invoices


def _invoice_table(invoices: list[Invoice], rates: RateCard) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for inv in invoices:
        for line in inv.lines:
            rows.append((inv.org, line.project, line.jobs, line.gpu_hours, line.rate, line.charge))
        rows.append(
            (inv.org, "TOTAL", sum(x.jobs for x in inv.lines), inv.gpu_hours, None, inv.total)
        )
    columns = ("organisation", "project", "jobs", "gpu_hours", "rate", "charge")
    note = f"charge = GPU-hours x rate of the organisation's kind ({rates.currency} per GPU-hour)"
    return Table("invoices", "Chargeback invoices", columns, tuple(rows), note)

"""The web pages on a store of 100,000 jobs: how long each page takes (the target: under 300 ms).

Builds a store (SQLite in a temporary directory and/or PostgreSQL: a throwaway server started
as the tests start it), applies the example lab (its organisations, ~1,000 members and its
248-GPU cluster as the nodes), writes ``--jobs`` finished jobs over eight weeks up to now with
their events (``aitc.control.report.history``), then a live queue: ``--pending`` pending jobs
(each with a reason) and the cluster full of running jobs (8-GPU jobs, and one GPU of MIG
slices), and a course session with its roster. The app (``create_app``) serves in-process;
an admin and a member sign in through the form, as a browser does.

Each page is asked for once to warm it (and to have the figures that pages keep computed off
the request: the 14 days of the overview, the fortnight's reports), then ``--repeat`` times;
the median and the slowest are printed, with how long the figures took to compute in the
background (what a page's first visitor waits for, while the page says "being prepared").
As a floor, ``GET /healthz`` in the same client.

Run: .venv/bin/python bench/web_pages.py [--jobs 100000] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "examples" / "joint-lab.yaml"
TARGET_MS = 300.0
DAY = 86400.0
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def build(url: str, jobs: int, pending: int, now: float) -> dict[str, str]:
    """The store; returns a token per role used (admin, member) and the member's id."""
    from aitc.control.report.history import write_history
    from aitc.control.store import NodeRecord, Store, apply_lab, create_token, upsert_nodes
    from aitc.control.store.tokens import bootstrap_admin
    from aitc.plan.lab import load_lab

    lab = load_lab(LAB)
    store = Store.open(url)
    with store.session() as s:
        apply_lab(session=s, lab=lab)
        nodes = [
            NodeRecord(name=n.name, gpus=n.gpus, gpu_model=n.gpu_model, leaf=n.leaf, su=n.su)
            for n in lab.cluster.nodes
        ]
        upsert_nodes(session=s, nodes=nodes, now=now)
        admin = bootstrap_admin(session=s, now=now)
    began = time.perf_counter()
    events = write_history(store, jobs=jobs, start=now - 56 * DAY, stop=now - 600, seed=1)
    member = _live_queue(store, pending, [(n.name, n.gpus) for n in nodes], now)
    _course_session(store, now)
    with store.session() as s:
        token = create_token(session=s, member_id=member, name="bench", now=now)[1]
    took = time.perf_counter() - began
    print(f"  store: {jobs:,} finished jobs ({events:,} events), {pending:,} pending, the cluster")
    print(f"  full of running jobs, written in {took:.1f} s")
    store.close()
    return {"admin": admin, "member": token, "member_id": member}


def _live_queue(store: Any, pending: int, nodes: list[tuple[str, int]], now: float) -> str:
    """Pending jobs with a reason, and a running job on every node (one node in MIG slices);
    returns the member who owns the most of them."""
    from aitc.control.store.models import JobEventRow, JobRow, ProjectMemberRow, ProjectRow

    rng = random.Random(2)
    with store.session() as s:
        teams = list(
            s.execute(
                select(ProjectRow.org_id, ProjectRow.id, ProjectMemberRow.member_id)
                .join(ProjectMemberRow, ProjectMemberRow.project_id == ProjectRow.id)
                .order_by(ProjectRow.id, ProjectMemberRow.member_id)
            )
        )
        first = (s.scalar(select(func.max(JobRow.id))) or 0) + 1
    reason = {"code": "resources", "message": "It needs 8 GPUs; none are free now.", "details": {}}
    rows, events = [], []
    for i in range(pending + len(nodes)):
        org, project, member = teams[0] if i % 10 == 0 else rng.choice(teams)
        job_id, running = first + i, i >= pending
        node, gpus = nodes[i - pending] if running else ("", 8)
        mig = running and i == pending  # the first node: seven 1g.10gb slices, one shown
        allocs = [{"node": node, "gpus": [] if mig else list(range(gpus)), "mig": None}]
        if mig:
            allocs[0]["mig"] = {"gpu": 0, "profile": "1g.10gb", "start": 0}
        rows.append(
            dict(
                id=job_id,
                name="train",
                org_id=org,
                project_id=project,
                member_id=member,
                spec={"command": ["train"], "gpus": 8},
                gpus=0 if mig else gpus,
                mig="1g.10gb" if mig else None,
                priority="standard",
                state="running" if running else "pending",
                submitted_at=now - 3600 + i * 0.01,
                started_at=now - 60 if running else None,
                attempt=1 if running else 0,
                placement={"allocs": allocs} if running else None,
                cause="",
                cancel_requested=False,
                pending_reasons=None if running else [reason],
                estimated_start=None if running else now + 3600 + i,
            )  # fmt: skip
        )
        events.append(dict(job_id=job_id, at=now - 3600, from_state=None, to_state="pending",
                           attempt=0, cause="submitted"))  # fmt: skip
        if running:
            events.append(dict(job_id=job_id, at=now - 60, from_state="pending",
                               to_state="running", attempt=1, cause=""))  # fmt: skip
    with store.session() as s:
        for chunk in range(0, len(rows), 5000):
            s.execute(insert(JobRow), rows[chunk : chunk + 5000])
        s.execute(insert(JobEventRow), events)
    return str(teams[0][2])


def _course_session(store: Any, now: float) -> None:
    """A session of the first course next week, taught by its certified instructors, with
    a full roster and a waitlist."""
    from aitc.control.courses.catalog import certifications, list_courses
    from aitc.control.courses.sessions import SessionCreate, create_session
    from aitc.control.store.access import load_caller
    from aitc.control.store.models import EnrolmentRow, MemberRow

    with store.session() as s:
        course = list_courses(session=s)[0]
        teachers = tuple(c.member_id for c in certifications(session=s, course_id=course.id))
        start = now + 7 * DAY
        req = SessionCreate(course.id, start, start + 3 * 3600, instructors=teachers)
        admin = load_caller(session=s, member_id="admin")
        row = create_session(session=s, caller=admin, req=req, now=now)
        members = s.scalars(select(MemberRow.id).where(MemberRow.org_id.is_not(None)).limit(60))
        for i, member in enumerate(members):
            state = "enrolled" if i < row.seats else "waitlisted"
            s.add(EnrolmentRow(session_id=row.id, member_id=member, state=state, source="roster",
                               created_at=now + i, updated_at=now + i))  # fmt: skip


class Visitor:
    def __init__(self, app: Any, token: str) -> None:
        from fastapi.testclient import TestClient

        self.client = TestClient(app)
        csrf = CSRF.search(self.client.get("/signin").text)
        assert csrf is not None
        done = self.client.post(
            "/signin", data={"csrf": csrf.group(1), "token": token, "next": "/"},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303, done.text

    def get(self, path: str) -> float:
        began = time.perf_counter()
        r = self.client.get(path, follow_redirects=False)
        took = (time.perf_counter() - began) * 1000
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return took


def measure(url: str, tokens: dict[str, str], now: float, repeat: int) -> list[float]:
    from aitc.control.api import Settings, create_app
    from aitc.control.clock import FakeClock
    from aitc.control.store import Store
    from aitc.control.store.models import CourseSessionRow, JobRow
    from aitc.control.web.figures import figures_of

    store = Store.open(url, upgrade=False)
    app = create_app(Settings(store=store, clock=FakeClock(now)))
    with store.session(readonly=True) as s:
        ended = s.scalar(select(func.max(JobRow.id)).where(JobRow.state == "completed"))
        running = s.scalar(select(func.min(JobRow.id)).where(JobRow.state == "running"))
        session_id = s.scalar(select(func.max(CourseSessionRow.id)))
        deep = s.scalar(  # the last job of page 1,499 of the ended ones, newest first
            select(JobRow.id)
            .where(JobRow.state == "completed")
            .order_by(JobRow.id.desc())
            .offset(1499 * 50 - 1)
            .limit(1)
        )
    admin, member = Visitor(app, tokens["admin"]), Visitor(app, tokens["member"])
    pages = [
        (admin, "/"), (admin, "/queue"), (admin, "/queue?state=pending&page=40"),
        (admin, "/queue?state=all"), (admin, "/queue?state=ended&page=1500"),
        (admin, f"/queue?state=ended&page=1500&after={deep}"),
        (admin, "/map"), (admin, f"/jobs/{ended}"), (admin, f"/jobs/{running}"),
        (admin, "/submit"), (admin, "/courses"), (admin, f"/courses/sessions/{session_id}"),
        (admin, "/reports"), (admin, "/reports?back=1"), (admin, "/reports/invoices"),
        (admin, "/reports/tables/usage_by_member?page=5"), (admin, "/admin/members"),
        (admin, "/admin/members?page=15"), (admin, "/admin/members?q=an"),
        (admin, "/admin/tokens"), (admin, "/admin/organisations"),
        (admin, "/admin/reservations"), (member, "/"), (member, "/queue"),
        (member, "/queue?state=all"), (member, "/map"), (member, "/courses"),
    ]  # fmt: skip
    figures = figures_of(app)
    began = time.perf_counter()
    admin.get("/")
    figures.wait()
    chart_s = time.perf_counter() - began
    began = time.perf_counter()
    for back in ("/reports", "/reports?back=1"):
        admin.get(back)
    figures.wait()
    reports_s = time.perf_counter() - began
    print("  figures computed off the request: the overview's 14 days and the fortnight's")
    print(f"  share vs entitlement {chart_s:.2f} s; two fortnights' reports {reports_s:.2f} s")
    for who, path in pages:  # warm
        who.get(path)
    figures.wait()
    floor = statistics.median(admin.get("/healthz") for _ in range(repeat))
    print(f"  {'page':<46} {'median':>8} {'slowest':>8}   (ms; GET /healthz {floor:.1f} ms)")
    medians = []
    for who, path in pages:
        times = [who.get(path) for _ in range(repeat)]
        medians.append(statistics.median(times))
        role = "admin " if who is admin else "member"
        flag = "" if max(times) < TARGET_MS else "  over the target"
        print(f"  {role} {path:<39} {medians[-1]:8.1f} {max(times):8.1f}{flag}")
    figures.close()
    store.close()
    return medians


def run(kind: str, args: argparse.Namespace, now: float) -> None:
    server, work = None, Path(tempfile.mkdtemp(prefix="aitc-web-bench-"))
    if kind == "postgres":
        sys.path.insert(0, str(REPO / "tests" / "control"))
        from pgserver import start_server

        server = start_server()
        url = server.fresh_database()
    else:
        url = f"sqlite:///{work / 'aitc.db'}"
    try:
        print(f"database: {kind}")
        tokens = build(url, args.jobs, args.pending, now)
        medians = measure(url, tokens, now, args.repeat)
        worst = max(medians)
        verdict = "under" if worst < TARGET_MS else "OVER"
        print(f"  slowest page (median): {worst:.1f} ms, {verdict} the {TARGET_MS:.0f} ms target")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if server is not None:
            from pgserver import stop_server

            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    now = time.time()
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        run(kind, args, now)


if __name__ == "__main__":
    main()

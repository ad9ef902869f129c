"""``aitc report`` on a store of 100,000 jobs: how long it takes (the target: under 10 s).

Builds a store (SQLite in a temporary directory, or PostgreSQL with ``--postgres``: a
throwaway server started as the tests start it), applies the example lab (its organisations,
~1,000 members, its courses and its 248-GPU cluster as the nodes), writes ``--jobs`` finished
jobs over eight weeks with their events and the courses' weekly sessions with their learners
and labs (``aitc.control.report.history``), then runs the real command,
``aitc report --period 2w`` (SQL, plots, HTML, CSV and PDF), in a subprocess and times it. As
a baseline it also times the SQL alone (``build_report``) and a plain ``COUNT(*)`` over
``job_events``: the floor of any query that reads every event.

Run: .venv/bin/python bench/report_store.py [--jobs 100000] [--postgres] [--keep DIR]
     [--repeat 3] [--reuse] (the best of ``--repeat`` runs, for a machine shared with others;
     ``--reuse``: measure the SQLite store kept in DIR again, without building it)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "examples" / "joint-lab.yaml"
TARGET_S = 10.0
DAY = 86400.0


def build(url: str, jobs: int, now: float) -> None:
    from aitc.control.report.history import write_history, write_sessions
    from aitc.control.store import NodeRecord, Store, apply_lab, upsert_nodes
    from aitc.plan.lab import load_lab

    lab = load_lab(LAB)
    store = Store.open(url)
    with store.session() as s:
        apply_lab(session=s, lab=lab)
        nodes = [
            NodeRecord(name=n.name, gpus=n.gpus, gpu_model=n.gpu_model, state="up", reason="")
            for n in lab.cluster.nodes
        ]
        upsert_nodes(session=s, nodes=nodes, now=now)
    began = time.perf_counter()
    events = write_history(store, jobs=jobs, start=now - 56 * DAY, stop=now - DAY, seed=1)
    sessions = write_sessions(store, start=now - 56 * DAY, stop=now - DAY, seed=1)
    print(
        f"store: {jobs:,} jobs, {events:,} events and {sessions} course sessions (with their "
        f"learners' jobs) written in {time.perf_counter() - began:.1f} s"
    )
    if url.startswith("postgresql"):
        # the planner's statistics, as PostgreSQL's autovacuum gathers them within a minute of
        # a bulk write: measured, the store is as it settles (SQLite keeps none, here as live)
        with store.engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    store.close()


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``cmd``."""
    before = os.times()
    began = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"aitc report failed:\n{done.stderr}")
    wall = time.perf_counter() - began
    cpu = os.times()
    used = cpu.children_user + cpu.children_system
    return wall, used - before.children_user - before.children_system


def measure(url: str, out: Path, now: float, repeat: int) -> None:
    from aitc.control.report import Period, build_report, rate_card_of
    from aitc.control.store import Store
    from aitc.plan.lab import load_lab

    store = Store.open(url, upgrade=False)
    with store.session(readonly=True) as s:
        began = time.perf_counter()
        s.execute(text("SELECT COUNT(*) FROM job_events")).scalar()
        count_s = time.perf_counter() - began
        began = time.perf_counter()
        build_report(
            session=s,
            period=Period(now - 14 * DAY, now),
            now=now,
            rates=rate_card_of(load_lab(LAB)),
        )
        sql_s = time.perf_counter() - began
    store.close()
    cmd = [sys.executable, "-c", "from aitc.cli.main import app; app()", "report", "--period"]
    cmd += ["2w", "--db", url, "--lab", str(LAB), "--out", str(out)]
    runs = [_timed(cmd) for _ in range(repeat)]
    total_s, cpu_s = min(runs)
    each = ", ".join(f"{t:.2f} s" for t, _ in runs)
    print(
        f"aitc report --period 2w (SQL, plots, HTML, CSV, PDF): best of {repeat} {total_s:.2f} s "
        f"({cpu_s:.2f} s of CPU; target < {TARGET_S:.0f} s); each run {each}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"  of which the SQL aggregates (build_report): {sql_s:.2f} s")
    print(
        f"  baseline SELECT COUNT(*) FROM job_events: {count_s:.3f} s; "
        f"ratio {sql_s / max(count_s, 1e-9):.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the store and the report here")
    parser.add_argument("--repeat", type=int, default=3, help="runs of aitc report; the best")
    parser.add_argument("--reuse", action="store_true", help="measure the store in --keep")
    args = parser.parse_args()
    if args.reuse and (args.postgres or args.keep is None):
        parser.error("--reuse measures the SQLite store of --keep DIR again")
    work = args.keep or Path(tempfile.mkdtemp(prefix="aitc-report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    now = time.time()
    server = None
    if args.postgres:
        sys.path.insert(0, str(REPO / "tests" / "control"))
        from pgserver import start_server, stop_server

        server = start_server()
        url = server.fresh_database()
    else:
        url = f"sqlite:///{work / 'aitc.db'}"
    try:
        print(f"database: {url.split(':', 1)[0]}")
        if not args.reuse:
            build(url, args.jobs, now)
        measure(url, work / "report", now, args.repeat)
    finally:
        if server is not None:
            stop_server(server)


if __name__ == "__main__":
    main()

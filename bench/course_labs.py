"""Benchmark: a workshop's labs at the issue's scale, with real parts.

A session of 14 seats of ``1g.10gb`` on two virtual H100s, 16 learners on the roster (2
waitlisted), in the learner-lab test rig (tests/courses/lab_rig.py: the store, the controller
with the local executor, the lab keeper and the API in one process; learners are real Unix
users; labs are real Jupyter servers run as them). Prints:

- the wall time from the session's start until every seated learner's lab answers its token;
- the lab keeper's pass with every lab running (looking at each with its token, recording,
  judging): median and max over ``--passes`` passes;
- the wall time from the instructor's ``assess`` until every learner's result is recorded.

Needs root (it creates the learners' accounts and runs jobs as them). Targets: all labs
answering within 60 s of the start on a 2-core machine; a keeper pass under 1 s.

    .venv/bin/python bench/course_labs.py [--seats 14] [--learners 16] [--passes 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "courses"))

DAY = 86400.0
TARGET_READY_S, TARGET_PASS_S = 60.0, 1.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=14)
    parser.add_argument("--learners", type=int, default=16)
    parser.add_argument("--passes", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/course_labs.py: needs root (learners are Unix users)")
    from lab_rig import LabRig

    learners = tuple(f"learner{i}" for i in range(1, args.learners + 1))
    base = Path(tempfile.mkdtemp(prefix="aitc-bench-labs-"))
    base.chmod(0o755)
    rig = LabRig(base, learners)
    try:
        run(rig, learners, args.seats, args.passes)
    finally:
        rig.close()
        shutil.rmtree(base, ignore_errors=True)


def run(rig: object, learners: tuple[str, ...], seats: int, passes: int) -> None:
    from lab_rig import LabRig

    assert isinstance(rig, LabRig)
    rig.ok("admin", "POST", "/courses", {
        "id": "intro", "title": "Intro", "org": "school", "seats": seats,
        "mig_profile": "1g.10gb", "assessment_command": ["true"],
    })  # fmt: skip
    rig.ok("admin", "POST", "/courses/intro/instructors", {"member": "carol"})
    start = rig.clock.now() + DAY
    body = {"course": "intro", "start": iso(start), "end": iso(start + 3 * 3600)}
    sid = rig.ok("carol", "POST", "/course-sessions", body)["id"]
    rig.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": list(learners)})
    rig.clock.advance(DAY)
    began = time.monotonic()

    def all_ready() -> bool:
        labs = rig.ok("carol", "GET", f"/course-sessions/{sid}/labs")["data"]
        return len(labs) == seats and all(lab["state"] == "ready" for lab in labs)

    rig.until(all_ready, timeout=600)
    ready_s = time.monotonic() - began
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        rig.keeper.step()
        times.append(time.perf_counter() - t0)
    began = time.monotonic()
    rig.ok("carol", "POST", f"/course-sessions/{sid}/assessments", {})

    def assessed() -> bool:
        runs = rig.ok("carol", "GET", f"/course-sessions/{sid}/assessments")["data"]
        return len(runs) == seats and all(r["state"] != "running" for r in runs)

    rig.until(assessed, timeout=600)
    assess_s = time.monotonic() - began
    median, worst = statistics.median(times), max(times)
    print(f"session of {seats} seats of 1g.10gb on 2 virtual H100s, {len(learners)} learners")
    print(f"all {seats} labs answering {ready_s:.1f} s after the start "
          f"(target {TARGET_READY_S:.0f} s: {ready_s / TARGET_READY_S:.2f}x)")  # fmt: skip
    print(f"keeper pass with {seats} running labs: median {median * 1000:.0f} ms, "
          f"max {worst * 1000:.0f} ms (target {TARGET_PASS_S * 1000:.0f} ms: "
          f"{median / TARGET_PASS_S:.2f}x)")  # fmt: skip
    print(f"{seats} assessments recorded {assess_s:.1f} s after assess")


if __name__ == "__main__":
    main()

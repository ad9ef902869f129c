"""Benchmark: `aitc sim` as a user runs it, whole process, on the bundled Philly trace.

Each run is a fresh `aitc sim --trace philly --ra dgx-h100-superpod --nodes 64` process with one
policy (imports, trace loading, the simulation and writing the results all count), on the full
trace (82,247 jobs) and on the 20,000 earliest jobs, locality and preemption overhead off as in
docs/twin.md. Printed per run: wall seconds and CPU seconds (user + system) of the process and
the wall seconds of the run itself (its summary's ``wall_s``: cluster, trace and simulation;
the rest is imports, results, plots and exit), the best of ``--repeat`` runs (and the
before code's wall and run seconds), against the
targets of docs/twin.md (full trace: 5 s per policy, 10 s for Tiresias as in the paper; 20,000
jobs: 1.5 s). With ``--before SRC`` the same runs are made with the code under SRC (e.g. a
checkout of an earlier commit: `git worktree add /tmp/before HEAD~5`) in the same session,
alternating, and the ratio is printed. ``--python`` runs `aitc sim` under another interpreter
than this one (its environment must hold aitc's dependencies); with ``--before-python`` the
before runs use that one, so that two interpreters run the same code (``--before`` left out)
or each its own. First it prints the seconds of a fixed loop of pure Python under each
interpreter (``REFERENCE``): the same code ran a third slower at one time than at another on
a machine of this kind, so figures of different days are compared by that too.

    .venv/bin/python bench/sim_whole.py [--policies fifo,backfill] [--sizes full,20000]
                                        [--repeat 3] [--before SRC]
                                        [--python PY] [--before-python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES = "fifo,backfill,fairshare,tiresias,quota,sjf,tiresias-paper"
TARGETS = {("full", False): 5.0, ("full", True): 10.0, ("20000", False): 1.5, ("20000", True): 1.5}


def command(policy: str, size: str, out: Path, python: str) -> list[str]:
    name, extra = policy, []
    if policy == "tiresias-paper":  # as in the paper (docs/twin.md)
        name = "tiresias"
        extra = ["--param", "semantics=paper", "--param", "preempt_running=any"]
        extra += ["--param", "starvation_s=0"]
    cmd = [python, "-c", "from aitc.cli.main import app; app()", "sim", "--trace", "philly"]
    cmd += ["--ra", "dgx-h100-superpod", "--nodes", "64", "--policy", name, *extra]
    cmd += ["--preempt-overhead", "0", "--leaf-penalty", "0", "--su-penalty", "0"]
    cmd += ["--workers", "1", "--out", str(out)]
    return cmd + ([] if size == "full" else ["--limit", size])


def once(policy: str, size: str, src: Path, python: str) -> tuple[float, float, float]:
    """Wall and CPU seconds of one `aitc sim` process run by ``python`` with the code under
    ``src``, and the
    wall seconds of its run itself (``wall_s`` of its summary: the cluster, the trace and the
    simulation, without imports, results, plots and exit)."""
    env = dict(os.environ, PYTHONPATH=str(src), COLUMNS="200")
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            command(policy, size, Path(out), python), env=env, capture_output=True
        )
        if done.returncode != 0:
            raise SystemExit(f"aitc sim failed with the code under {src}:\n{done.stderr.decode()}")
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        name = "tiresias" if policy == "tiresias-paper" else policy
        run = json.loads((Path(out) / name / "summary.json").read_text())["wall_s"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, run


# a fixed piece of pure Python (dict updates in a loop, as the engine's bookkeeping is): its
# seconds tell how fast this machine runs the interpreter today, so that figures taken on
# different days (or machines) can be set side by side
REFERENCE = """
import time
began = time.perf_counter()
d = {}
for i in range(2_000_000):
    d[i % 1000] = d.get(i % 1000, 0) + i
print(time.perf_counter() - began)
"""


def reference_s(python: str, repeat: int = 3) -> float:
    """The best of ``repeat`` runs of ``REFERENCE`` under ``python``, in seconds."""
    runs = [
        subprocess.run([python, "-c", REFERENCE], capture_output=True, check=True)
        for _ in range(repeat)
    ]
    return min(float(r.stdout) for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policies", default=POLICIES)
    ap.add_argument("--sizes", default="full,20000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None, help="src/ of the code to compare with")
    ap.add_argument("--python", default=sys.executable, help="the interpreter of the runs")
    ap.add_argument(
        "--before-python", default=None, help="the interpreter of the before runs (--python)"
    )
    args = ap.parse_args()
    now_src = ROOT / "src"
    before_python = args.before_python or args.python
    compare = args.before is not None or args.before_python is not None
    before_src = args.before if args.before is not None else now_src
    print(f"reference loop: {reference_s(args.python):.3f} s under {args.python}", end="")
    if args.before_python is not None:
        print(f", {reference_s(before_python):.3f} s under {before_python}", end="")
    print(" (machine speed: compare figures of different days by it)")
    print(f"{'size':<6} {'policy':<15} {'wall s':>7} {'cpu s':>7} {'run s':>6}", end="")
    print(f" {'target':>7}", end="")
    print(f" {'before wall':>11} {'run s':>6} {'now/before':>10}" if compare else "")
    for size in args.sizes.split(","):
        for policy in args.policies.split(","):
            now: list[tuple[float, float, float]] = []
            old: list[tuple[float, float, float]] = []
            for _ in range(args.repeat):
                now.append(once(policy, size, now_src, args.python))
                if compare:
                    old.append(once(policy, size, before_src, before_python))
            wall, cpu, run = min(now)
            target = TARGETS[(size, policy == "tiresias-paper")]
            mark = "ok" if wall <= target else "over"
            print(f"{size:<6} {policy:<15} {wall:>7.2f} {cpu:>7.2f} {run:>6.2f}", end="")
            print(f" {target:>5.1f} {mark:<4}", end="")
            if old:
                before = min(old)
                print(f" {before[0]:>11.2f} {before[2]:>6.2f} {wall / before[0]:>10.2f}")
            else:
                print()


if __name__ == "__main__":
    main()

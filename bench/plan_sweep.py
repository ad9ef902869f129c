"""Benchmark: runs per second of `aitc plan`'s sweep, and what bisection saves over a grid.

Sweeps the example lab (examples/joint-lab.yaml: its plan section's policies, seeds and days)
over the SU steps of its reference architecture (or of --ra A,B|all, with the seats in each
--mig layout), once by bisection (what `aitc plan` does) and, with --grid, once over every
size. Prints runs, wall time, runs per second and the runs the grid
needs against the bisection (the baseline).

    .venv/bin/python bench/plan_sweep.py [--lab examples/joint-lab.yaml] [--policy fairshare]
        [--seeds 3] [--days 2] [--workers 0] [--ra all] [--mig lab,whole] [--grid]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from aitc.plan import size_ladder, sweep
from aitc.plan.configs import Config, describe, parse_layouts, parse_ras
from aitc.plan.lab import load_lab
from aitc.plan.search import Point

LAB = Path(__file__).resolve().parents[1] / "examples" / "joint-lab.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lab", type=Path, default=LAB)
    ap.add_argument("--policy", default=None, help="comma-separated (default: the lab's plan)")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--days", type=float, default=None)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--ra", default=None, help="comma-separated or all (default: the lab's)")
    ap.add_argument("--mig", default=None, help="MIG layouts of the seats (default: lab)")
    ap.add_argument("--grid", action="store_true", help="also sweep every size")
    args = ap.parse_args()
    lab = load_lab(args.lab)
    policies = args.policy.split(",") if args.policy else list(lab.plan.policies)
    own = lab.cluster.reference_architecture or "dgx-h100-superpod"
    p = lab.plan
    ladders = {
        Config(ra, mig): size_ladder(ra, step=p.step, min_nodes=p.min_nodes, most=p.max_nodes)
        for ra in parse_ras(args.ra, own)
        for mig in parse_layouts(args.mig)
    }
    seeds, days = args.seeds or p.seeds, args.days or p.days
    swept = describe(ladders)
    print(
        f"{lab.name}: {swept}; policies {policies}, {seeds} seeds x {days:g} days, "
        f"{args.workers or os.cpu_count()} workers"
    )
    runs = {}
    for grid in (False, True) if args.grid else (False,):
        began = time.perf_counter()
        result = sweep(
            args.lab,
            ladders=ladders,
            policies=policies,
            seeds=seeds,
            days=days,
            workers=args.workers,
            grid=grid,
        )
        wall = time.perf_counter() - began
        name = "grid" if grid else "bisection"
        runs[name] = result.runs
        choice = result.choice
        print(
            f"{name:>9}: {result.runs} runs in {wall:.1f} s = {result.runs / wall:.2f} runs/s; "
            f"choice {_named(choice) if choice else 'none'}"
        )
    if "grid" in runs:
        print(f"grid needs {runs['grid'] / runs['bisection']:.1f}x the runs of the bisection")


def _named(choice: Point) -> str:
    return f"{choice.policy} on {choice.nodes} nodes of {choice.config.label}"


if __name__ == "__main__":
    main()

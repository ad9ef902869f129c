"""Benchmark: how the twin scales from 10k to 100k to 1M jobs.

Each size is the Philly trace replicated (overlapping copies shifted by a minute each, then a
seeded choice of exactly N jobs: `aitc.twin.sources.replicate`) on a proportionally larger
DGX H100 SuperPOD (64 nodes x N / 82,247, at least 8), so the load per GPU and the time span
stay those of Philly while events and cluster grow with N. Prints the wall time per size and
the ratio per 10x jobs. Target: <= 12x per 10x.

    .venv/bin/python bench/sim_scaling.py [--sizes 10000,100000,1000000] [--policy fifo]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from aitc.arch.builder import build
from aitc.twin.runner import simulate
from aitc.twin.sources import PHILLY_JOBS, load_philly, replicate

TRACE = Path(__file__).resolve().parents[1] / "../shared/traces/philly/philly_jobs.csv.gz"
TARGET_RATIO = 12.0


def run(jobs: int, policy: str) -> tuple[float, int, int]:
    nodes = max(8, round(64 * jobs / PHILLY_JOBS))
    cluster = build("dgx-h100-superpod", nodes=nodes).cluster
    began = time.perf_counter()
    source = replicate(load_philly(TRACE), jobs, seed=0)
    result = simulate(cluster, source, policy)
    return time.perf_counter() - began, int(result.summary["events"]), nodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--policy", default="fifo")
    args = ap.parse_args()
    print(f"policy {args.policy}")
    print(f"{'jobs':>9} {'nodes':>6} {'wall s':>8} {'events':>9} {'events/s':>10} {'ratio':>7}")
    previous: tuple[int, float] | None = None
    for size in (int(s) for s in args.sizes.split(",")):
        wall, events, nodes = run(size, args.policy)
        ratio = ""
        if previous is not None:
            per_10x = (wall / previous[1]) ** (1 / math.log10(size / previous[0]))
            ratio = f"{per_10x:.1f}x" + (" ok" if per_10x <= TARGET_RATIO else " SLOW")
        print(
            f"{size:>9} {nodes:>6} {wall:>8.2f} {events:>9} {events / wall:>10,.0f} {ratio:>7}",
            flush=True,
        )
        previous = (size, wall)


if __name__ == "__main__":
    main()

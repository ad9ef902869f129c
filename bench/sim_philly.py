"""Benchmark: the full Philly trace (82,247 jobs) on 64 DGX H100 nodes under each policy.

Prints, per policy, the wall time of the simulation (loading the trace included, writing
outputs excluded), events handled per second, engine passes, and the average JCT relative to
fifo measured in the same run. Target: <= 10 s per policy on a 2-core machine.

    .venv/bin/python bench/sim_philly.py [--policies fifo,backfill] [--limit N] [--out DIR]
                                         [--profile POLICY]

With --out, each policy's results and the comparison are written there (as `aitc sim` does).
With --profile, that policy runs under cProfile and the 25 costliest functions are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from aitc.arch.builder import build
from aitc.engine.registry import POLICIES
from aitc.twin.runner import simulate, write_comparison, write_run
from aitc.twin.sources import load_philly

TRACE = Path(__file__).resolve().parents[1] / "../shared/traces/philly/philly_jobs.csv.gz"
TARGET_S = 10.0


def run(policy: str, limit: int | None, out: Path | None) -> dict[str, object]:
    cluster = build("dgx-h100-superpod", nodes=64).cluster
    began = time.perf_counter()
    result = simulate(cluster, load_philly(TRACE, limit=limit), policy)
    wall = time.perf_counter() - began
    summary = dict(result.summary, wall_s=wall)
    if out is not None:
        write_run(result, out / policy, wall_s=wall)
    return summary


def profile(policy: str, limit: int | None) -> None:
    prof = cProfile.Profile()
    prof.runcall(run, policy, limit, None)
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--profile", default=None)
    args = ap.parse_args()
    if args.profile:
        profile(args.profile, args.limit)
        return
    rows = [run(p, args.limit, args.out) for p in args.policies.split(",")]
    if args.out is not None:
        write_comparison(rows, args.out)
    base = next((r for r in rows if r["policy"] == "fifo"), rows[0])
    print(
        f"{'policy':<10} {'wall s':>8} {'events':>8} {'events/s':>10} {'passes':>8} "
        f"{'avg JCT h':>10} {'vs ' + str(base['policy']):>9} {'target':>7}"
    )
    for r in rows:
        wall, events = float(r["wall_s"]), int(r["events"])  # type: ignore[arg-type]
        ratio = float(r["avg_jct_s"]) / float(base["avg_jct_s"])  # type: ignore[arg-type]
        print(
            f"{r['policy']:<10} {wall:>8.2f} {events:>8} {events / wall:>10,.0f} "
            f"{r['engine_passes']:>8} {float(r['avg_jct_s']) / 3600:>10.2f} "  # type: ignore[arg-type]
            f"{ratio:>8.3f}x {'ok' if wall <= TARGET_S else 'SLOW':>7}"
        )


if __name__ == "__main__":
    main()

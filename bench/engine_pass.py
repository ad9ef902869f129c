"""One engine pass: 10,000 pending jobs on 1,000 nodes (8,000 GPUs), half full, per policy.

Prints the median pass time per policy over repeats and its ratio to the 20 ms target.
Run: .venv/bin/python bench/engine_pass.py [--repeats N] [--profile POLICY]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import time
from dataclasses import replace

from aitc.domain.cluster import Cluster, Node
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority, RunningJob
from aitc.domain.node import NODE_MODELS
from aitc.domain.org import Organisation, OrgKind
from aitc.engine import POLICIES, CapacityIndex, PendingQueue, Scheduler, UsageLedger, View

TARGET_S = 0.020
SIZES = (1, 1, 1, 1, 1, 1, 1, 2, 2, 4, 4, 8, 8, 16, 32)
ORGS = tuple(
    Organisation(f"org{i}", f"org{i}", OrgKind.RESEARCH, 1.0, quota=800) for i in range(10)
)


def build(seed: int = 1) -> View:
    rng = random.Random(seed)
    model = NODE_MODELS["dgx-h100"]
    cluster = Cluster(
        "bench", tuple(Node(f"n{i:04d}", model, i // 16, i // 32) for i in range(1000))
    )
    capacity = CapacityIndex(cluster)
    ledger = UsageLedger(7 * 86400.0)
    scheduler = Scheduler("fifo")
    now = 100_000.0
    running: list[RunningJob] = []
    starts = sorted(now - rng.uniform(0, 50_000) for _ in range(4000))
    next_id = 1
    while capacity.total_free() > 4000:
        job = _job(rng, next_id, starts[next_id])
        next_id += 1
        pending = View(now, cluster, PendingQueue((job,)), (), capacity, ledger)
        for action in scheduler.schedule(pending):
            capacity.allocate(action.placement)  # type: ignore[union-attr]
            ledger.job_started(job, job.submit)
            running.append(RunningJob(job, action.placement, job.submit))  # type: ignore[union-attr]
    # the pending jobs in the driver's queue, as both drivers hand them over
    pending_jobs = PendingQueue(_job(rng, next_id + i, now - 40_000 + i) for i in range(10_000))
    return View(now, cluster, pending_jobs, tuple(running), capacity, ledger, ORGS)


def _job(rng: random.Random, i: int, submit: float) -> JobRequest:
    org = f"org{rng.randrange(10)}"
    priority = Priority.PREEMPTIBLE if rng.random() < 0.1 else Priority.STANDARD
    return JobRequest(
        JobId(i),
        org,
        f"{org}-p{rng.randrange(3)}",
        f"u{rng.randrange(50)}",
        rng.choice(SIZES),
        submit,
        time_limit=rng.choice((3600.0, 14400.0, 86400.0)),
        priority=priority,
    )


def measure(view: View, policy: str, repeats: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of one pass, and the number of actions it returns.

    CPU time (``process_time``) is printed beside wall time because the machine is shared:
    under load, wall time counts other processes' turns too. Each pass gets a view of its own,
    as a driver's passes do (policies keep nothing for a view they have seen before).
    """
    scheduler = Scheduler(policy, organisations=ORGS)
    walls, cpus, starts = [], [], 0
    for _ in range(repeats):
        fresh = replace(view)
        t0, c0 = time.perf_counter(), time.process_time()
        actions = scheduler.schedule(fresh)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        starts = len(actions)
    return statistics.median(walls), statistics.median(cpus), starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", default=None, help="cProfile one policy's pass")
    args = parser.parse_args()
    view = build()
    print(
        f"cluster: {len(view.cluster)} nodes, {view.cluster.total_gpus} GPUs, "
        f"{view.capacity.total_free()} free; pending {len(view.pending)}, "
        f"running {len(view.running)}"
    )
    if args.profile:
        scheduler = Scheduler(args.profile, organisations=ORGS)
        cProfile.runctx("scheduler.schedule(view)", globals(), locals(), "/tmp/engine.prof")
        pstats.Stats("/tmp/engine.prof").sort_stats("cumulative").print_stats(25)
        return
    print(
        f"{'policy':<10} {'wall ms':>8} {'cpu ms':>8} {'actions':>8} {'cpu/20ms':>9} {'full ms':>8}"
    )
    full = _full(view)
    for policy in POLICIES:
        wall, cpu, actions = measure(view, policy, args.repeats)
        _, quiet, _ = measure(full, policy, args.repeats)
        print(
            f"{policy:<10} {wall * 1000:>8.2f} {cpu * 1000:>8.2f} {actions:>8} "
            f"{cpu / TARGET_S:>8.2f}x {quiet * 1000:>8.3f}"
        )
    print(
        "full ms: CPU of the same pass on a cluster with no free GPU (10% of the running "
        "jobs are preemptible, so policies still look for victims)"
    )


def _full(view: View) -> View:
    """The same view with every free GPU taken by work outside aitc."""
    capacity = view.capacity.overlay()
    for node in view.cluster.nodes:
        capacity.hold_foreign(node.name, capacity.free_gpus(node.name))
    return replace(view, capacity=capacity)


if __name__ == "__main__":
    main()
